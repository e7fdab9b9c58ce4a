"""The platform and the broker disagreeing (issue: eleven field failures, cases 7-9): a lost
answer is not a failure, the grant is used while valid whatever the worker's state, and a
real failure reaches the platform at once. In-memory adapters and the local platform."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.extensions import db
from marketplace.models import PlatformAuthorization, Resource
from marketplace.models._types import utcnow
from tests.async_support import async_overrides, in_process_worker, local_platform
from tests.memory import MemoryAdapter, MemoryBackend
from tests.support import PartnerClient, build_app, live_server


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def app(sqlite_url, tmp_path, platform, backend):
    overrides = async_overrides(
        platform.url, f"sqlite:///{tmp_path / 'q.db'}", PROVISIONING_MODES={}
    )
    return build_app(sqlite_url, adapters=[MemoryAdapter(backend)], **overrides)


def _row(app, uuid_: str) -> Resource:
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        db.session.expunge_all()
        return resource


def test_a_lost_answer_from_the_platform_is_not_a_failure(app, platform, backend):
    """actions/provision is applied but answers too late: the retry gets 422 "already
    provisioned"; the broker asks the platform, which says provisioned, and keeps the add-on."""
    platform.fault("POST", "/addons/", delay_seconds=12, times=1)
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
        platform.wait_for_state(addon_uuid, {"provisioned"})
        platform.store.wait_for(lambda: _row(app, addon_uuid).state == "provisioned", 60)

    assert _row(app, addon_uuid).state == "provisioned"
    assert addon_uuid in backend.objects  # nothing of a live add-on was removed
    assert backend.count("deprovision") == 0


def test_past_the_deadline_the_platform_decides_whether_the_add_on_lives(app, platform, backend):
    with live_server(app) as broker_url:
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
        platform.store.update_addon(addon_uuid, state="provisioned")  # it told the app so
        with app.app_context():
            db.session.execute(
                update(Resource)
                .where(Resource.uuid == addon_uuid)
                .values(deadline_at=utcnow() - timedelta(seconds=1))
            )
            db.session.commit()
        with in_process_worker(app):
            platform.store.wait_for(lambda: _row(app, addon_uuid).state == "provisioned", 30)
    assert _row(app, addon_uuid).state == "provisioned"
    assert backend.count("deprovision") == 0


def test_the_grant_is_exchanged_while_the_worker_is_down(app, platform, backend):
    with live_server(app) as broker_url:
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
        # No worker has run: the web request traded the grant before answering 202.
        with app.app_context():
            auth = db.session.scalar(select(PlatformAuthorization))
            assert auth.grant_code_encrypted is None and auth.refresh_token_encrypted
            db.session.remove()
        with in_process_worker(app):
            assert platform.wait_for_state(addon_uuid, {"provisioned", "failed"}) == "provisioned"
    assert addon_uuid in backend.objects


def test_a_real_failure_is_reported_to_the_platform_at_once(app, platform, backend):
    backend.fail_after_create = True
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url, slug="memory")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
        assert platform.wait_for_state(addon_uuid, {"deprovisioned"}) == "deprovisioned"
    row = _row(app, addon_uuid)
    assert row.state == "failed" and "half-way" in row.last_error
    assert backend.objects == {}


def test_same_uuid_retried_with_another_plan_after_a_failure_takes_it(app, backend):
    partner = PartnerClient(app.test_client(), app, "memory")
    backend.down = True
    body = partner.provision_body(plan="small")
    assert (
        partner.client.post("/heroku/resources", json=body, headers=partner.headers).status_code
        == 503
    )
    backend.down = False
    retried = partner.client.post(
        "/heroku/resources", json={**body, "plan": "big"}, headers=partner.headers
    )
    assert retried.status_code == 200
    assert backend.objects[body["uuid"]]["plan"] == "big"
