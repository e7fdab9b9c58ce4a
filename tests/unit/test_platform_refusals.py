"""The platform refusing a call for good (a 4xx that another try would get again): the
resource leaves its state at once instead of retrying until the 12-hour deadline, or, for a
removal, for ever. In-memory adapters and the local platform."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.models._types import utcnow
from marketplace.services.platform_client import retry_after
from tests.async_support import async_overrides, in_process_worker, local_platform
from tests.memory import MEMORY_SPEC, MemoryAdapter, MemoryBackend
from tests.support import build_app, live_server, wait_until


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


def _app(sqlite_url, tmp_path, platform, backend, **spec_changes):
    overrides = async_overrides(
        platform.url, f"sqlite:///{tmp_path / 'q.db'}", PROVISIONING_MODES={}
    )
    adapter = MemoryAdapter(backend, replace(MEMORY_SPEC, **spec_changes))
    return build_app(sqlite_url, adapters=[adapter], **overrides)


def _row(app, uuid_: str) -> Resource:
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        db.session.expunge_all()
        return resource


@pytest.mark.parametrize("status", [404, 422])
def test_refused_config_vars_end_the_provision_at_once(
    sqlite_url, tmp_path, platform, backend, status
):
    """A 422 (values the platform rejects) or 404 (the add-on is gone there) to the config
    PATCH is the same on every try: failed now, with nothing left, not after 12 hours."""
    app = _app(sqlite_url, tmp_path, platform, backend)
    platform.fault("PATCH", "/addons/", status=status, times=-1)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
        wait_until(lambda: _row(app, addon_uuid).state == "failed", timeout=20)

    row = _row(app, addon_uuid)
    assert f"answered {status}" in row.last_error
    assert (row.lease_owner, row.config_encrypted, row.step) == (None, None, None)
    assert backend.objects == {}
    assert len(platform.calls(f"/addons/{addon_uuid}/config")) == 1
    if status == 422:  # the platform still has the add-on: it hears of the failure at once
        assert platform.store.addon(addon_uuid)["state"] == "deprovisioned"


def test_a_removal_the_platform_already_forgot_is_finished(sqlite_url, tmp_path, platform, backend):
    """An asynchronous deprovision whose actions/deprovision answers 404 (the platform no longer
    has the add-on) ends deprovisioned instead of staying deprovisioning for ever."""
    app = _app(sqlite_url, tmp_path, platform, backend, asynchronous_deprovision=True)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="small", slug="memory")["addon"]["uuid"]
        wait_until(lambda: platform.calls("/oauth/token"), what="the grant is exchanged")
        platform.fault("POST", f"/addons/{addon_uuid}/actions/deprovision", status=404, times=-1)
        assert platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")["status"] == 202
        wait_until(lambda: _row(app, addon_uuid).state == "deprovisioned", timeout=20)

    row = _row(app, addon_uuid)
    assert (row.lease_owner, row.step) == (None, None)
    assert backend.objects == {}


def test_a_429_is_retried_no_sooner_than_its_retry_after(sqlite_url, tmp_path, platform, backend):
    """The platform's Retry-After beats the broker's own backoff (0.05 s here)."""
    app = _app(sqlite_url, tmp_path, platform, backend)
    platform.fault("PATCH", "/addons/", status=429, times=1, retry_after="2")
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
        assert platform.wait_for_state(addon_uuid, {"provisioned"}) == "provisioned"

    limited, accepted = platform.calls(f"/addons/{addon_uuid}/config")
    assert (limited["status"], accepted["status"]) == (429, 200)
    assert accepted["at"] - limited["at"] >= 2


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("120") == 120.0
    assert 55 < retry_after(format_datetime(utcnow() + timedelta(seconds=60), usegmt=True)) <= 60
    assert retry_after(format_datetime(utcnow() - timedelta(hours=1), usegmt=True)) == 0.0
    assert [retry_after(v) for v in (None, "", "soon", "-5")] == [None, None, None, None]


def test_a_removal_whose_authorization_was_revoked_is_finished(
    sqlite_url, tmp_path, platform, backend
):
    """The platform no longer honours the refresh token (the authorization was revoked): the
    asynchronous removal cannot be reported, and ends deprovisioned instead of for ever."""
    app = _app(sqlite_url, tmp_path, platform, backend, asynchronous_deprovision=True)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="small", slug="memory")["addon"]["uuid"]
        wait_until(lambda: platform.calls("/oauth/token"), what="the grant is exchanged")
        platform.admin("POST", "/_admin/expire-tokens")
        platform.fault("POST", "/oauth/token", status=401, times=-1)
        assert platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")["status"] == 202
        wait_until(lambda: _row(app, addon_uuid).state == "deprovisioned", timeout=20)

    assert backend.objects == {}
    assert _row(app, addon_uuid).lease_owner is None
