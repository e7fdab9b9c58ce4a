"""Asynchronous provisioning against the local platform and a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid

import psycopg
import pytest
from sqlalchemy import select

from addons.postgres.plans import SPEC
from marketplace.context import broker
from marketplace.extensions import db
from marketplace.models import Resource
from standins.platform.server import app_id
from tests.async_support import async_overrides, in_process_worker, local_platform
from tests.support import (
    PartnerClient,
    build_app,
    live_server,
    name_prefix,
    names_of,
    owned_names,
    postgres_adapter,
    rotate_on_dashboard,
    wait_until,
)

pytestmark = pytest.mark.backend


@pytest.fixture
def queue_url(any_queue_url) -> str:
    """Every test here runs on each queue storage: SQLite, PostgreSQL and Redis."""
    return any_queue_url


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


def _broker(sqlite_url, platform, queue_url, adapters=None, **extra):
    return build_app(
        sqlite_url, adapters=adapters, **async_overrides(platform.url, queue_url, **extra)
    )


def _resource(app, addon_uuid) -> Resource:
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == addon_uuid))
        db.session.expunge_all()
        return resource


def _wait_provisioned(platform, app, addon_uuid) -> None:
    """The platform has the add-on as provisioned, and so does the broker: the platform hears
    it just before the worker commits, and a fast queue (Redis) makes that gap visible."""
    assert platform.wait_for_state(addon_uuid, {"provisioned", "failed"}) == "provisioned"
    wait_until(lambda: _resource(app, addon_uuid).state == "provisioned", what="it is recorded")


def _backend_objects(app, addon_uuid) -> set[str]:
    """This resource's databases and roles that exist on the server."""
    with app.app_context():
        adapter = broker().registry.get("postgres")
        return names_of(adapter, addon_uuid) & owned_names(adapter)


def _statuses(platform, path_part, **detail) -> list[int]:
    return [call["status"] for call in platform.calls(path_part, **detail)]


def test_provision_end_to_end(sqlite_url, platform, queue_url):
    app = _broker(sqlite_url, platform, queue_url)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        result = platform.create()
        addon_uuid = result["addon"]["uuid"]

        assert result["status"] == 202
        assert set(result["body"]) == {"id", "message"}
        _wait_provisioned(platform, app, addon_uuid)

        config = platform.store.addon(addon_uuid)["config"]
        with psycopg.connect(config["DATABASE_URL"]) as conn:
            assert (
                conn.execute("SELECT current_user").fetchone()[0].startswith(name_prefix() + "u_")
            )
        exchange = platform.calls("/oauth/token", grant_type="authorization_code")
        patch = platform.calls(f"/addons/{addon_uuid}/config")
        action = platform.calls(f"/addons/{addon_uuid}/actions/provision")
        assert [len(exchange), len(patch), len(action)] == [1, 1, 1]
        assert exchange[0]["id"] < patch[0]["id"] < action[0]["id"]
        assert patch[0]["detail"]["names"] == ["DATABASE_URL"]

        resource = _resource(app, addon_uuid)
        assert (resource.state, resource.step, resource.lease_owner) == ("provisioned", None, None)
        # The app comes from the platform's add-on info, read with the resource's own token.
        assert (resource.app_id, resource.app_name) == (app_id("demo"), "demo")

        destroyed = platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")
        assert destroyed["status"] == 204
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(config["DATABASE_URL"]).close()


def test_a_repeated_request_answers_202_and_starts_nothing_new(sqlite_url, platform, queue_url):
    app = _broker(sqlite_url, platform, queue_url)
    with live_server(app) as broker_url:
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        partner = PartnerClient(app.test_client(), app, "postgres")
        again = partner.provision(uuid=addon_uuid, oauth_grant={"code": "another-code"})
        assert again.status_code == 202
        with app.app_context():
            assert broker().queue.huey.pending_count() == 1
        with in_process_worker(app):
            _wait_provisioned(platform, app, addon_uuid)
        assert len(platform.calls("/oauth/token", grant_type="authorization_code")) == 1
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")


def test_access_token_is_refreshed_before_it_expires(sqlite_url, tmp_path, queue_url):
    with local_platform(tmp_path, access_ttl=30) as platform:
        app = _broker(sqlite_url, platform, queue_url)
        with live_server(app) as broker_url, in_process_worker(app):
            platform.register(app, broker_url)
            addon_uuid = platform.create()["addon"]["uuid"]
            _wait_provisioned(platform, app, addon_uuid)
            grants = [c["detail"]["grant_type"] for c in platform.calls("/oauth/token")]
            assert grants[0] == "authorization_code" and "refresh_token" in grants
            platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")


def test_a_refused_access_token_is_refreshed_and_the_call_retried(sqlite_url, platform, queue_url):
    app = _broker(sqlite_url, platform, queue_url)
    platform.fault("PATCH", "/addons/", status=401, times=1)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        _wait_provisioned(platform, app, addon_uuid)
        assert _statuses(platform, f"/addons/{addon_uuid}/config") == [401, 200]
        assert len(platform.calls("/oauth/token", grant_type="refresh_token")) == 1
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("PATCH", "/addons/", 500), ("POST", "/oauth/token", 429), ("POST", "/addons/", 503)],
)
def test_transient_platform_failures_are_retried(
    sqlite_url, platform, queue_url, method, path, status
):
    app = _broker(sqlite_url, platform, queue_url)
    platform.fault(method, path, status=status, times=2)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        _wait_provisioned(platform, app, addon_uuid)
        assert platform.store.faults_left() == 0
        assert _resource(app, addon_uuid).attempts == 2
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")


def test_platform_failing_past_the_deadline_ends_failed_with_nothing_left(
    sqlite_url, platform, queue_url
):
    app = _broker(sqlite_url, platform, queue_url, ASYNC_DEADLINE_SECONDS=2.0)
    platform.fault("PATCH", "/addons/", status=500, times=-1)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        wait_until(lambda: _resource(app, addon_uuid).state == "failed")

    resource = _resource(app, addon_uuid)
    assert "deadline" in resource.last_error
    assert resource.config_encrypted is None
    assert _backend_objects(app, addon_uuid) == set()
    assert resource.attempts >= 1  # it was retried before the deadline ended it
    assert platform.calls(f"/addons/{addon_uuid}/config")
    assert platform.calls(f"/addons/{addon_uuid}/actions/provision") == []


def test_an_expired_grant_fails_without_touching_the_backend(sqlite_url, tmp_path, queue_url):
    with local_platform(tmp_path, grant_ttl=-60) as platform:
        app = _broker(sqlite_url, platform, queue_url)
        with live_server(app) as broker_url, in_process_worker(app):
            platform.register(app, broker_url)
            addon_uuid = platform.create()["addon"]["uuid"]
            wait_until(lambda: _resource(app, addon_uuid).state == "failed")
        assert "expired" in _resource(app, addon_uuid).last_error
        assert platform.calls("/oauth/token") == []
        assert _backend_objects(app, addon_uuid) == set()


def test_deprovision_while_provisioning_cancels_cleanly(sqlite_url, platform, queue_url):
    app = _broker(sqlite_url, platform, queue_url)
    with live_server(app) as broker_url:
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        assert platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")["status"] == 204
        with in_process_worker(app):
            wait_until(lambda: _resource(app, addon_uuid).state == "deprovisioned")
        again = PartnerClient(app.test_client(), app, "postgres").provision(uuid=addon_uuid)
        assert again.status_code == 410
    # The grant was exchanged while the platform waited for the 202; nothing else happened.
    assert len(platform.calls("/oauth/token")) == 1
    assert platform.calls(f"/addons/{addon_uuid}/config") == []
    assert platform.calls(f"/addons/{addon_uuid}/actions/provision") == []
    assert _backend_objects(app, addon_uuid) == set()


def test_asynchronous_deprovision_reports_back(sqlite_url, platform, queue_url):
    adapter = postgres_adapter()
    adapter.spec = dataclasses.replace(SPEC, asynchronous_deprovision=True)
    app = _broker(sqlite_url, platform, queue_url, adapters=[adapter])
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        platform.wait_for_state(addon_uuid, {"provisioned"})
        # The platform hears "provisioned" just before the worker records it.
        wait_until(lambda: _resource(app, addon_uuid).state == "provisioned")

        destroyed = platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")
        assert destroyed["status"] == 202
        assert platform.wait_for_state(addon_uuid, {"deprovisioned"}) == "deprovisioned"
    assert len(platform.calls(f"/addons/{addon_uuid}/actions/deprovision")) == 1
    assert _backend_objects(app, addon_uuid) == set()
    assert _resource(app, addon_uuid).state == "deprovisioned"


def test_kensa_body_without_a_grant_provisions_synchronously_on_an_async_plan(
    sqlite_url, platform, queue_url
):
    app = _broker(sqlite_url, platform, queue_url)
    partner = PartnerClient(app.test_client(), app, "postgres")
    body_uuid = str(uuid.uuid4())
    response = partner.provision(uuid=body_uuid)
    try:
        assert response.status_code == 200
        assert "DATABASE_URL" in response.get_json()["config"]
    finally:
        partner.deprovision(body_uuid)


def test_rotated_credentials_are_pushed_to_the_platform(sqlite_url, platform, queue_url):
    app = _broker(sqlite_url, platform, queue_url, PROVISIONING_MODES={})  # synchronous plan
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        result = platform.create()
        addon_uuid = result["addon"]["uuid"]
        assert result["status"] == 200  # synchronous: config in the answer...
        old_url = platform.store.addon(addon_uuid)["config"]["DATABASE_URL"]
        # ...and the grant is still exchanged, so later changes can reach the platform.
        assert platform.store.wait_for(
            lambda: platform.calls("/oauth/token", grant_type="authorization_code"), 30
        )

        client = PartnerClient(app.test_client(), app, "postgres").client
        form = PartnerClient(app.test_client(), app, "postgres").sso_form(addon_uuid)
        assert client.post("/sso/login", data=form).status_code == 302
        rotated = rotate_on_dashboard(client, addon_uuid)
        assert "The platform is receiving them" in rotated

        def pushed() -> bool:
            return platform.store.addon(addon_uuid)["config"]["DATABASE_URL"] != old_url

        assert platform.store.wait_for(pushed, 30)
        new_url = platform.store.addon(addon_uuid)["config"]["DATABASE_URL"]
        with psycopg.connect(new_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(old_url).close()
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")


def test_a_delete_while_the_worker_activates_is_not_lost(sqlite_url, platform, queue_url):
    app = _broker(sqlite_url, platform, queue_url)
    # The provision action hangs long enough for the DELETE to land in between.
    platform.fault("POST", "/addons/", delay_seconds=2, times=1)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        assert platform.store.wait_for(lambda: platform.store.faults_left() == 0, 30)
        assert _resource(app, addon_uuid).state == "provisioning"

        deleted = PartnerClient(app.test_client(), app, "postgres").deprovision(addon_uuid)
        assert deleted.status_code == 204
        wait_until(lambda: _resource(app, addon_uuid).state == "deprovisioned")

    assert len(platform.calls(f"/addons/{addon_uuid}/actions/provision")) == 1
    assert _backend_objects(app, addon_uuid) == set()
