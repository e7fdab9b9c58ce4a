"""One resource lifecycle, driven by an in-memory adapter: no backend service needed."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import event, select

from marketplace.context import lifecycle
from marketplace.extensions import db
from marketplace.models import PlatformAuthorization, Resource, ResourceState
from tests.memory import MEMORY_SPEC, MemoryAdapter, MemoryBackend
from tests.support import PartnerClient, build_app


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def memory_app(sqlite_url, backend):
    return build_app(sqlite_url, adapters=[MemoryAdapter(backend)])


@pytest.fixture
def platform(memory_app) -> PartnerClient:
    return PartnerClient(memory_app.test_client(), memory_app, "memory")


def _row(app, uuid_: str) -> Resource:
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        db.session.expunge_all()
        return resource


def test_the_same_request_gets_the_same_answer_and_one_backend_object(platform, backend):
    body = platform.provision_body(plan="small")
    first = platform.client.post("/heroku/resources", json=body, headers=platform.headers)
    again = platform.client.post("/heroku/resources", json=body, headers=platform.headers)

    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert backend.count("provision") == 1
    assert list(backend.objects) == [body["uuid"]]


def test_concurrent_duplicates_make_one_backend_object(memory_app, platform, backend):
    body = platform.provision_body(plan="small")

    def post(_):
        client = memory_app.test_client()
        return client.post("/heroku/resources", json=body, headers=platform.headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(post, range(6)))

    assert {a.status_code for a in answers} == {200}
    assert len({a.get_data() for a in answers}) == 1
    assert backend.count("provision") == 1


def test_the_same_uuid_with_another_plan_is_409_and_changes_nothing(platform, backend):
    body = platform.provision_body(plan="small")
    first = platform.client.post("/heroku/resources", json=body, headers=platform.headers)
    assert first.status_code == 200

    other = platform.client.post(
        "/heroku/resources", json={**body, "plan": "big"}, headers=platform.headers
    )

    assert other.status_code == 409
    assert "small" in other.get_json()["message"]
    assert backend.objects[body["uuid"]]["plan"] == "small"
    assert backend.count("provision") == 1


def test_a_failed_provision_is_cleaned_up_by_the_core(platform, backend, memory_app):
    backend.fail_after_create = True
    response = platform.provision(plan="small")

    assert response.status_code == 422
    assert "half-way" in response.get_json()["message"]
    assert backend.objects == {}  # the core undid what the adapter made
    assert backend.count("deprovision") == 1


def test_a_provision_that_crashes_is_cleaned_up_and_can_be_retried(platform, backend, memory_app):
    """An adapter's unexpected exception (a bug, a driver error it did not wrap) is a failed
    provision too: the core removes what was made at once, not when the reconciler finds the
    resource stuck ten minutes later, and the platform's retry provisions afresh."""
    backend.crash_after_create = True
    body = platform.provision_body(plan="small")
    response = platform.client.post("/heroku/resources", json=body, headers=platform.headers)

    assert response.status_code == 500
    assert "max_items" not in response.get_data(as_text=True)
    assert backend.objects == {}
    assert _row(memory_app, body["uuid"]).state == ResourceState.FAILED
    backend.crash_after_create = False
    retried = platform.client.post("/heroku/resources", json=body, headers=platform.headers)
    assert retried.status_code == 200
    assert list(backend.objects) == [body["uuid"]]


def test_a_backend_that_is_down_gives_503_and_leaves_nothing(platform, backend):
    backend.down = True
    response = platform.provision(plan="small")
    assert response.status_code == 503
    assert response.get_json()["id"] == "service_unavailable"
    assert backend.objects == {}


def test_adapter_state_is_encrypted_handed_back_and_never_shown(
    platform, backend, memory_app, caplog
):
    caplog.set_level(logging.DEBUG)
    uuid_ = platform.provision(plan="small").get_json()["id"]
    secret = f"state-{uuid_}"

    row = _row(memory_app, uuid_)
    assert row.adapter_state_encrypted and secret not in row.adapter_state_encrypted
    with memory_app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        assert lifecycle().ref(resource).state == {"secret": secret}

    changed = platform.change_plan(uuid_, "big")
    assert changed.status_code == 200
    with memory_app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        assert lifecycle().ref(resource).state == {"secret": secret, "plan": "big"}

    platform.client.post("/sso/login", data=platform.sso_form(uuid_))
    page = platform.client.get(f"/dashboard/{uuid_}").get_data(as_text=True)
    as_json = platform.client.get(f"/resources/{uuid_}").get_data(as_text=True)
    assert secret not in page and secret not in as_json
    assert secret not in caplog.text


def test_deprovision_forgets_every_secret_synchronously_too(platform, memory_app, backend):
    grant = {"code": "grant-code-123", "expires_at": "2099-01-01T00:00:00Z"}
    uuid_ = platform.provision(plan="small", oauth_grant=grant).get_json()["id"]
    with memory_app.app_context():
        assert db.session.scalar(select(PlatformAuthorization)) is not None

    assert platform.deprovision(uuid_).status_code == 204

    row = _row(memory_app, uuid_)
    assert row.state == ResourceState.DEPROVISIONED
    assert row.config_encrypted is None and row.adapter_state_encrypted is None
    assert row.api_token_hash is None
    with memory_app.app_context():
        assert db.session.scalar(select(PlatformAuthorization)) is None
    assert backend.objects == {}


def test_a_retired_plan_blocks_new_provisions_only(sqlite_url, backend):
    first = build_app(sqlite_url, adapters=[MemoryAdapter(backend)])
    platform = PartnerClient(first.test_client(), first, "memory")
    body = platform.provision_body(plan="big")
    answer = platform.client.post("/heroku/resources", json=body, headers=platform.headers)
    on_retired = platform.provision(plan="big").get_json()["id"]
    assert answer.status_code == 200

    # The adapter stops offering "big"; the release marks it retired in the catalog.
    retired = replace(MEMORY_SPEC, plans=tuple(p for p in MEMORY_SPEC.plans if p.slug != "big"))
    app = build_app(sqlite_url, adapters=[MemoryAdapter(backend, retired)])
    platform = PartnerClient(app.test_client(), app, "memory")

    replay = platform.client.post("/heroku/resources", json=body, headers=platform.headers)
    assert replay.status_code == 200 and replay.get_json() == answer.get_json()
    assert platform.provision(plan="big").status_code == 422
    moved = platform.change_plan(on_retired, "small")
    assert moved.status_code == 200, moved.get_json()
    assert backend.objects[on_retired]["plan"] == "small"
    assert platform.deprovision(body["uuid"]).status_code == 204
    assert platform.deprovision(on_retired).status_code == 204
    assert backend.objects == {}


def test_a_plan_change_the_data_does_not_fit_is_422_and_changes_nothing(platform, backend):
    uuid_ = platform.provision(plan="big").get_json()["id"]
    backend.objects[uuid_]["items"] = 50

    refused = platform.change_plan(uuid_, "small")

    assert refused.status_code == 422
    assert "50 items" in refused.get_json()["message"]
    assert backend.objects[uuid_]["plan"] == "big"


def test_deprovisioned_uuids_are_gone(platform):
    uuid_ = platform.provision(plan="small").get_json()["id"]
    assert platform.deprovision(uuid_).status_code == 204
    assert platform.deprovision(uuid_).status_code == 410
    assert platform.provision(uuid=uuid_, plan="small").status_code == 410
    assert platform.change_plan(uuid_, "big").status_code == 410


def test_a_frozen_backend_slows_only_its_own_resource(memory_app, platform, backend):
    """The store is never locked across a backend call: while one provision hangs in its
    backend, others on the same store go on (they used to wait 30 s for SQLite's lock)."""
    backend.gate = threading.Event()
    frozen = platform.provision_body(plan="big")
    other = platform.provision(plan="small").get_json()["id"]
    platform.client.post("/sso/login", data=platform.sso_form(other))

    def post_frozen():
        client = memory_app.test_client()
        return client.post("/heroku/resources", json=frozen, headers=platform.headers)

    with ThreadPoolExecutor(max_workers=1) as pool:
        hanging = pool.submit(post_frozen)
        assert backend.entered.wait(timeout=30)
        # Meanwhile: another provision, a plan change, an SSO login and a dashboard page.
        assert platform.provision(plan="small").status_code == 200
        assert platform.change_plan(other, "big").status_code == 200
        second = PartnerClient(memory_app.test_client(), memory_app, "memory")
        assert second.client.post("/sso/login", data=second.sso_form(other)).status_code == 302
        assert second.client.get(f"/dashboard/{other}").status_code == 200
        assert not hanging.done()
        backend.gate.set()
        assert hanging.result(timeout=30).status_code == 200
    assert platform.deprovision(frozen["uuid"]).status_code == 204


def test_one_backend_down_degrades_readiness_without_failing_it(sqlite_url):
    up, down = MemoryAdapter(MemoryBackend()), MemoryAdapter(MemoryBackend(down=True))
    down.spec = replace(MEMORY_SPEC, slug="other")
    app = build_app(sqlite_url, adapters=[up, down])
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "degraded"
    assert ready.get_json()["checks"]["other"]["ok"] is False

    up.backend.down = True
    assert app.test_client().get("/readyz").status_code == 503


def test_concurrent_deletes_end_with_one_removal_and_410s(memory_app, platform, backend):
    uuid_ = platform.provision(plan="small").get_json()["id"]

    def delete(_):
        client = memory_app.test_client()
        return client.delete(f"/heroku/resources/{uuid_}", headers=platform.headers).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(delete, range(4)))

    assert statuses[0] == 204 and set(statuses[1:]) <= {204, 410}
    assert backend.objects == {}


def test_a_provision_and_a_deprovision_make_few_store_round_trips(memory_app, platform):
    """The broker's own cost per call: statements and commits on the store (see README)."""
    counts = {"statements": 0, "commits": 0}
    with memory_app.app_context():
        engine = db.engine

    def statement(*_args, **_kwargs):
        counts["statements"] += 1

    def commit(*_args, **_kwargs):
        counts["commits"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        body = platform.provision_body(plan="small")
        platform.client.post("/heroku/resources", json=body, headers=platform.headers)
        provision = dict(counts)
        counts.update(statements=0, commits=0)
        platform.deprovision(body["uuid"])
        deprovision = dict(counts)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    # 12 and 13, plus each call's usage record (the plan period's start or end, written in the
    # transition's transaction) and the plan it names (expired by the intent's commit).
    # Provision: the add-on, the uuid's row, the plans, the INSERT that takes the lease
    # (commit), the usage record and the UPDATE that stores the outcome (commit). Deprovision:
    # the add-on, the row, the lease (commit), the row again under the lease, links from and
    # to it, the usage record, the UPDATE, the platform grant's and the links' DELETEs (commit).
    # Under the lease nothing is re-read after a commit. It was 14 and 15 statements.
    assert provision["statements"] <= 6 and provision["commits"] <= 2, provision
    assert deprovision["statements"] <= 10 and deprovision["commits"] <= 3, deprovision
