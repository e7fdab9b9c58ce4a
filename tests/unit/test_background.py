"""Background ticks: state kept between ticks, lost ticks re-driven, and provisioning never
starved by hundreds of ticking resources. In-memory adapters and the local platform only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.context import broker, lifecycle
from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.models._types import utcnow
from marketplace.services import leases
from marketplace.services.reconciler import Reconciler
from tests.async_support import async_overrides, in_process_worker, local_platform
from tests.memory import MemoryAdapter, MemoryBackend, TickingAdapter
from tests.support import PartnerClient, build_app, live_server, wait_until

TICKING = 200


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


def _ticks_of(app, uuid_: str) -> int:
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        ticks = lifecycle().ref(resource).state.get("ticks", 0)
        db.session.remove()
        return int(ticks)


def test_ticks_keep_their_state_and_stop_with_the_resource(sqlite_url, tmp_path):
    ticking = TickingAdapter(MemoryBackend(), interval=0.0)
    app = build_app(sqlite_url, adapters=[ticking], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    partner = PartnerClient(app.test_client(), app, "ticking")
    with in_process_worker(app):
        uuid_ = partner.provision(plan="small").get_json()["id"]
        wait_until(lambda: _ticks_of(app, uuid_) >= 3, what="three ticks were stored")
        assert partner.deprovision(uuid_).status_code == 204
        count = len(ticking.ticked)
    with app.app_context():
        row = db.session.scalar(select(Resource).where(Resource.uuid == uuid_))
        assert row.next_tick_at is None and row.adapter_state_encrypted is None
    assert len(ticking.ticked) == count  # no tick after the worker stopped or the removal


def test_a_lost_tick_is_redriven_by_the_reconciler(sqlite_url, tmp_path):
    ticking = TickingAdapter(MemoryBackend(), interval=3600.0)
    app = build_app(sqlite_url, adapters=[ticking], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    partner = PartnerClient(app.test_client(), app, "ticking")
    uuid_ = partner.provision(plan="small").get_json()["id"]
    with app.app_context():  # the tick's job was lost and it is long overdue
        db.session.execute(
            update(Resource)
            .where(Resource.uuid == uuid_)
            .values(next_tick_at=utcnow().replace(year=2020))
        )
        db.session.commit()
        report = Reconciler(
            lifecycle(), broker().queue, stuck_after_seconds=600, remove_orphans=False
        ).run()
    assert report.ticks_redriven == [uuid_]
    with in_process_worker(app):
        wait_until(lambda: _ticks_of(app, uuid_) == 1, what="the re-driven tick ran")
    partner.deprovision(uuid_)


def test_a_tick_that_finds_the_lease_held_runs_once_it_is_free(sqlite_url, tmp_path):
    """A web request holding the lease delays the tick by moments, not until the reconciler's
    grace runs out: the tick looks again after the retry delay."""
    ticking = TickingAdapter(MemoryBackend(), interval=3600.0)
    app = build_app(
        sqlite_url,
        adapters=[ticking],
        QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}",
        RETRY_BASE_SECONDS=0.2,
    )
    partner = PartnerClient(app.test_client(), app, "ticking")
    uuid_ = partner.provision(plan="small").get_json()["id"]  # its first tick is due now
    with app.app_context():
        assert leases.claim(uuid_, "request-elsewhere", timedelta(seconds=1.5))
    with in_process_worker(app):
        wait_until(lambda: _ticks_of(app, uuid_) == 1, what="the tick ran after the lease")
    assert ticking.ticked == [uuid_]
    partner.deprovision(uuid_)


def test_hundreds_of_ticking_resources_do_not_delay_a_provision(sqlite_url, tmp_path, platform):
    """Every tick takes 0.1 s, so one round over 200 resources keeps two tick threads busy
    for 10 s. If ticks shared the provisioning queue, the provision's jobs would wait behind
    the 200 ticks queued before them; on their own queue they finish first."""
    memory, ticking = MemoryAdapter(MemoryBackend()), TickingAdapter(tick_seconds=0.1)
    app = build_app(
        sqlite_url,
        adapters=[memory, ticking],
        **async_overrides(platform.url, f"sqlite:///{tmp_path / 'q.db'}", PROVISIONING_MODES={}),
    )
    partner = PartnerClient(app.test_client(), app, "ticking")
    uuids = [partner.provision(plan="small").get_json()["id"] for _ in range(TICKING)]
    with live_server(app) as broker_url, in_process_worker(app, threads=2):
        platform.register(app, broker_url, slug="memory")
        wait_until(lambda: len(ticking.ticked) >= 4, what="ticks are running")
        addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]

        assert platform.wait_for_state(addon_uuid, {"provisioned", "failed"}) == "provisioned"
        ticked_meanwhile = len(set(ticking.ticked))

        assert ticked_meanwhile < TICKING
        wait_until(
            lambda: len(set(ticking.ticked)) == TICKING, timeout=60, what="every resource ticked"
        )
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")
    for uuid_ in uuids:
        partner.deprovision(uuid_)
