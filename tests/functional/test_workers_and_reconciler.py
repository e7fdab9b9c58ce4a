"""Real worker processes (killed, doubled) and the reconciler, on both broker stores."""

from __future__ import annotations

import signal
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from addons.postgres import PostgresAdapter
from marketplace.adapters import ProvisionRequest
from marketplace.context import broker, lifecycle
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.models._types import utcnow
from marketplace.services.reconciler import Reconciler
from tests.async_support import (
    REDIS_QUEUE_URL,
    async_overrides,
    flush_redis_queues,
    local_platform,
    worker_env,
    worker_process,
)
from tests.support import (
    PartnerClient,
    admin_url,
    as_object,
    build_app,
    live_server,
    names_of,
    owned_names,
)

pytestmark = pytest.mark.backend


def _prefix() -> str:
    """A backend name prefix of this test's own, so orphan checks see only its objects."""
    return f"t{uuid.uuid4().hex[:8]}_"


def _state(app, addon_uuid: str) -> str | None:
    with app.app_context():
        state = db.session.scalar(select(Resource.state).where(Resource.uuid == addon_uuid))
        db.session.remove()
        return state


def _reconciler(app, **options) -> Reconciler:
    state = broker()
    return Reconciler(
        lifecycle(),
        state.queue,
        stuck_after_seconds=options.pop("stuck_after_seconds", 600),
        remove_orphans=options.pop("remove_orphans", False),
        **options,
    )


def test_a_worker_killed_mid_provision_is_replaced_and_the_resource_completes(
    tmp_path, sqlite_url, any_queue_url
):
    prefix, queue_url = _prefix(), any_queue_url
    with local_platform(tmp_path) as platform:
        settings = async_overrides(
            platform.url, queue_url, BACKEND_NAME_PREFIX=prefix, JOB_LEASE_SECONDS=60
        )
        app = build_app(sqlite_url, **settings)
        env = worker_env(
            sqlite_url, queue_url, platform.url, BACKEND_NAME_PREFIX=prefix, JOB_LEASE_SECONDS="60"
        )
        # The first PATCH hangs, so the worker is killed while it waits on the platform.
        platform.fault("PATCH", "/addons/", delay_seconds=20, times=1)
        with live_server(app) as broker_url:
            platform.register(app, broker_url)
            first = worker_process(env)
            try:
                addon_uuid = platform.create()["addon"]["uuid"]
                assert platform.store.wait_for(lambda: platform.store.faults_left() == 0, 60)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=30)
            finally:
                first.kill()
            assert _state(app, addon_uuid) == ResourceState.PROVISIONING

            second = worker_process(env)
            try:
                with app.app_context():
                    # The dead worker's lease is valid for a minute; look from past its end.
                    later = utcnow() + timedelta(seconds=61)
                    report = _reconciler(app, clock=lambda: later).run()
                assert report.redriven == [addon_uuid]
                state = platform.wait_for_state(addon_uuid, {"provisioned", "failed"})
                assert state == "provisioned"
            finally:
                second.terminate()
                second.wait(timeout=30)

            assert len(platform.calls("/oauth/token", grant_type="authorization_code")) == 1
            assert len(platform.calls(f"/addons/{addon_uuid}/actions/provision")) == 1
            with app.app_context():
                adapter = broker().registry.get("postgres")
                assert owned_names(adapter) == names_of(adapter, addon_uuid)
                assert _reconciler(app).run().orphans == {"postgres": []}
            assert platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")["status"] == 204
            with app.app_context():
                assert owned_names(adapter) == set()


def test_a_worker_stopped_by_sigterm_finishes_its_job_and_gives_the_lease_back(
    tmp_path, sqlite_url
):
    prefix, queue_url = _prefix(), f"sqlite:///{tmp_path / 'queue.db'}"
    with local_platform(tmp_path) as platform:
        settings = async_overrides(platform.url, queue_url, BACKEND_NAME_PREFIX=prefix)
        app = build_app(sqlite_url, **settings)
        env = worker_env(sqlite_url, queue_url, platform.url, BACKEND_NAME_PREFIX=prefix)
        # The config PATCH answers late, so SIGTERM arrives while the job waits on it.
        platform.fault("PATCH", "/addons/", delay_seconds=3, times=1)
        with live_server(app) as broker_url:
            platform.register(app, broker_url)
            worker = worker_process(env)
            try:
                addon_uuid = platform.create()["addon"]["uuid"]
                assert platform.store.wait_for(lambda: platform.store.faults_left() == 0, 60)
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=30) == 0
            finally:
                worker.kill()
            with app.app_context():
                resource = db.session.scalar(select(Resource).where(Resource.uuid == addon_uuid))
                assert resource is not None
                assert (resource.state, resource.lease_owner) == (ResourceState.PROVISIONED, None)
                db.session.remove()
            assert (platform.store.addon(addon_uuid) or {}).get("state") == "provisioned"
            assert platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")["status"] == 204


@pytest.mark.parametrize("queue", ["postgres", "redis"])
def test_two_workers_on_a_postgres_store_never_run_an_operation_twice(
    tmp_path, postgres_store_url, queue
):
    prefix = _prefix()
    # PostgresHuey keeps the queue in the store's own database; RedisHuey on the local Redis.
    queue_url = postgres_store_url if queue == "postgres" else REDIS_QUEUE_URL
    with local_platform(tmp_path) as platform:
        settings = async_overrides(platform.url, queue_url, BACKEND_NAME_PREFIX=prefix)
        app = build_app(postgres_store_url, **settings)
        env = worker_env(postgres_store_url, queue_url, platform.url, BACKEND_NAME_PREFIX=prefix)
        workers = [worker_process(env), worker_process(env)]
        try:
            with live_server(app) as broker_url:
                platform.register(app, broker_url)
                uuids = [platform.create()["addon"]["uuid"] for _ in range(4)]
                with app.app_context():
                    for addon_uuid in uuids:  # duplicate jobs, as a lost-and-redriven job makes
                        broker().queue.enqueue_drive(addon_uuid)
                        broker().queue.enqueue_drive(addon_uuid)
                for addon_uuid in uuids:
                    state = platform.wait_for_state(addon_uuid, {"provisioned", "failed"})
                    assert state == "provisioned"
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=30)
            if queue == "redis":
                flush_redis_queues()

        for addon_uuid in uuids:
            exchanges = platform.calls(
                "/oauth/token", grant_type="authorization_code", uuid=addon_uuid
            )
            assert len(exchanges) == 1
            assert len(platform.calls(f"/addons/{addon_uuid}/config")) == 1
            assert len(platform.calls(f"/addons/{addon_uuid}/actions/provision")) == 1
        with app.app_context():
            adapter = broker().registry.get("postgres")
            expected = set().union(*(names_of(adapter, u) for u in uuids))
            assert owned_names(adapter) == expected
            for name in expected:
                adapter.remove_orphan(as_object(name))


@pytest.mark.parametrize("remove", [False, True])
def test_reconciler_reports_and_optionally_removes_orphans(sqlite_url, remove):
    prefix = _prefix()
    app = build_app(sqlite_url, BACKEND_NAME_PREFIX=prefix, MARKETPLACE_ADDONS=["postgres"])
    partner = PartnerClient(app.test_client(), app, "postgres")
    kept = partner.provision().get_json()["id"]
    with app.app_context():
        adapter = broker().registry.get("postgres")
        stray = str(uuid.uuid4())
        adapter.provision(ProvisionRequest(stray, adapter.spec.default_plan, "us"))
        orphans = sorted(names_of(adapter, stray))

        report = _reconciler(app, remove_orphans=remove).run()

        assert report.orphans == {"postgres": orphans}
        assert report.removed == (orphans if remove else [])
        remaining = owned_names(adapter)
        assert names_of(adapter, kept) <= remaining
        assert bool(set(orphans) & remaining) is not remove
        for name in orphans:
            adapter.remove_orphan(as_object(name))
    partner.deprovision(kept)


def test_reconciler_cleans_up_a_synchronous_provision_its_web_process_abandoned(sqlite_url):
    prefix = _prefix()
    app = build_app(sqlite_url, BACKEND_NAME_PREFIX=prefix, MARKETPLACE_ADDONS=["postgres"])
    partner = PartnerClient(app.test_client(), app, "postgres")
    body = partner.provision_body()
    assert (
        partner.client.post("/heroku/resources", json=body, headers=partner.headers).status_code
        == 200
    )
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == body["uuid"]))
        resource.state = ResourceState.PROVISIONING  # as if the web process died mid-provision
        db.session.commit()
        adapter = broker().registry.get("postgres")

        later = utcnow() + timedelta(hours=1)
        report = _reconciler(app, stuck_after_seconds=600, clock=lambda: later).run()

        assert report.abandoned == [body["uuid"]]
        assert owned_names(adapter) == set()
    assert _state(app, body["uuid"]) == ResourceState.FAILED
    retried = partner.client.post("/heroku/resources", json=body, headers=partner.headers)
    assert retried.status_code == 200
    partner.deprovision(body["uuid"])


def test_reconcile_command_prints_its_report(sqlite_url):
    app = build_app(sqlite_url, BACKEND_NAME_PREFIX=_prefix(), MARKETPLACE_ADDONS=["postgres"])
    result = app.test_cli_runner().invoke(args=["reconcile"])
    assert result.exit_code == 0
    assert '"orphans"' in result.output and '"postgres": []' in result.output


def test_backend_down_during_reconcile_is_reported_not_raised(sqlite_url):
    down = PostgresAdapter("postgresql://u:x@127.0.0.1:1/postgres", name_prefix=_prefix())
    app = build_app(sqlite_url, adapters=[down])
    with app.app_context():
        report = _reconciler(app).run()
    assert report.unreachable == ["postgres"]
    assert admin_url()  # the real server is untouched
