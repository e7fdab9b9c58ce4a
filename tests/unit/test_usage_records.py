"""Usage records for billing: plan periods add up, records are append-only, corrections are new
records, samples come from the adapters' meters; the operator's API and the CSV export."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from marketplace.context import broker
from marketplace.extensions import db
from marketplace.models import Resource, UsageRecord
from marketplace.models.usage import AppendOnlyError
from marketplace.services import events, usage_sampling
from marketplace.services.jobs import drive_resource, sample_usage_once
from tests.async_support import async_overrides, local_platform
from tests.memory import MemoryAdapter, MemoryBackend
from tests.support import PartnerClient, build_app, live_server

TOKEN = "operator-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def memory_app(sqlite_url, tmp_path, backend):
    return build_app(
        sqlite_url,
        adapters=[MemoryAdapter(backend)],
        QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
        OPERATOR_TOKEN=TOKEN,
    )


@pytest.fixture
def platform(memory_app) -> PartnerClient:
    return PartnerClient(memory_app.test_client(), memory_app, "memory")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _usage(client, start: datetime, end: datetime, **headers) -> dict:
    response = client.get(
        "/api/usage", query_string={"from": _iso(start), "to": _iso(end)}, headers=AUTH | headers
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _periods_of(body: dict, uuid_: str) -> list[dict]:
    return [p for p in body["periods"] if p["resource_id"] == uuid_]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_plan_periods_add_up_to_the_time_spent_on_each_plan(platform):
    marks = []  # (before, after) each call, read from the clock around it

    def timed(call):
        before = _now()
        response = call()
        marks.append((before, _now()))
        return response

    uuid_ = timed(lambda: platform.provision(plan="small")).get_json()["id"]
    assert timed(lambda: platform.change_plan(uuid_, "big")).status_code == 200
    assert timed(lambda: platform.change_plan(uuid_, "small")).status_code == 200
    assert timed(lambda: platform.deprovision(uuid_)).status_code == 204
    still_on = platform.provision(plan="big").get_json()["id"]  # never removed: open period

    window_start, window_end = marks[0][0] - timedelta(hours=1), _now() + timedelta(hours=1)
    asked = _now()
    body = _usage(platform.client, window_start, window_end)
    answered = _now()
    periods = _periods_of(body, uuid_)

    assert [p["plan"] for p in periods] == ["small", "big", "small"]
    # Contiguous: each period ends where the next begins; the last ends at the removal.
    for earlier, later in pairwise(periods):
        assert earlier["end"] == later["start"]
    lived = (_at(periods[-1]["end"]) - _at(periods[0]["start"])).total_seconds()
    assert sum(p["seconds"] for p in periods) == pytest.approx(lived, abs=1e-5)
    # Each period lasted as long as the calls that began and ended it allow.
    for period, (start_mark, end_mark) in zip(periods, pairwise(marks), strict=True):
        shortest = (end_mark[0] - start_mark[1]).total_seconds()
        longest = (end_mark[1] - start_mark[0]).total_seconds()
        assert shortest - 1e-5 <= period["seconds"] <= longest + 1e-5
    on_small = sum(p["seconds"] for p in periods if p["plan"] == "small")
    on_big = sum(p["seconds"] for p in periods if p["plan"] == "big")
    assert on_small + on_big == pytest.approx(lived, abs=1e-5)

    # The resource still provisioned has an open period that runs to now, not to the
    # window's end an hour ahead: time that has not passed yet is never billed.
    [open_period] = _periods_of(body, still_on)
    assert open_period["end"] is None
    began = _at(open_period["start"])
    assert (
        (asked - began).total_seconds() - 1e-5
        <= open_period["seconds"]
        <= (answered - began).total_seconds() + 1e-5
    )

    # A window that starts halfway through the first period counts only what lies inside.
    first = periods[0]
    halfway = _at(first["start"]) + (_at(first["end"]) - _at(first["start"])) / 2
    clipped = _periods_of(_usage(platform.client, halfway, _at(periods[-1]["end"])), uuid_)
    assert clipped[0]["seconds"] == pytest.approx(first["seconds"] / 2, abs=1e-5)
    assert sum(p["seconds"] for p in clipped) == pytest.approx(
        (_at(periods[-1]["end"]) - halfway).total_seconds(), abs=1e-5
    )
    kinds = [r["kind"] for r in body["records"] if r["resource_id"] == uuid_]
    assert kinds == ["provisioned", "plan_changed", "plan_changed", "deprovisioned"]


def test_records_are_never_rewritten_and_a_correction_is_a_new_record(memory_app, platform):
    uuid_ = platform.provision(plan="small").get_json()["id"]
    platform.deprovision(uuid_)
    with memory_app.app_context():
        provisioned = db.session.scalar(
            select(UsageRecord).where(
                UsageRecord.resource_uuid == uuid_, UsageRecord.kind == "provisioned"
            )
        )
        record_id, started = provisioned.id, provisioned.occurred_at
        provisioned.plan = "big"
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(AppendOnlyError):
            db.session.delete(db.session.get(UsageRecord, record_id))
            db.session.commit()
        db.session.rollback()

    earlier = started - timedelta(minutes=10)
    runner = memory_app.test_cli_runner()
    result = runner.invoke(
        args=["usage", "correct", str(record_id), "--at", _iso(earlier), "--note", "clock skew"]
    )
    assert result.exit_code == 0, result.output

    body = _usage(platform.client, earlier - timedelta(hours=1), _now() + timedelta(hours=1))
    [period] = _periods_of(body, uuid_)
    assert _at(period["start"]) == earlier
    records = [r for r in body["records"] if r["resource_id"] == uuid_]
    original = next(r for r in records if r["id"] == record_id)
    correction = next(r for r in records if r["corrects"] == record_id)
    assert _at(original["occurred_at"]) == started  # untouched
    assert correction["note"] == "clock skew" and _at(correction["occurred_at"]) == earlier

    voided = runner.invoke(args=["usage", "correct", str(record_id), "--void", "--note", "test"])
    assert voided.exit_code == 0, voided.output
    body = _usage(platform.client, earlier - timedelta(hours=1), _now() + timedelta(hours=1))
    assert _periods_of(body, uuid_) == []  # no start any more: the removal closes nothing


def test_samples_record_what_the_adapters_meter(memory_app, platform, backend):
    uuid_ = platform.provision(plan="small").get_json()["id"]
    backend.objects[uuid_]["items"] = 2
    start = _now()
    with memory_app.app_context():
        assert sample_usage_once() == 1
        backend.down = True
        assert sample_usage_once() == 0  # a backend that is down is skipped, not fatal
        backend.down = False
    body = _usage(platform.client, start, _now() + timedelta(seconds=1))
    [sample] = [s for s in body["samples"] if s["resource_id"] == uuid_]
    assert (sample["metric"], sample["value"], sample["limit"], sample["plan"]) == (
        "items",
        2.0,
        2.0,
        "small",
    )
    platform.deprovision(uuid_)


def test_an_adapter_failing_unexpectedly_costs_only_its_own_resource_a_sample(
    memory_app, platform, backend
):
    broken, fine = (platform.provision(plan="small").get_json()["id"] for _ in range(2))
    backend.objects[fine]["items"] = 1
    kept, backend.objects[broken] = backend.objects[broken], None  # usage() raises
    start = _now()
    with memory_app.app_context():
        assert sample_usage_once() == 1
    backend.objects[broken] = kept
    body = _usage(platform.client, start, _now() + timedelta(seconds=1))
    assert [s["resource_id"] for s in body["samples"]] == [fine]
    for uuid_ in (broken, fine):
        platform.deprovision(uuid_)


def test_the_worker_samples_usage_periodically(memory_app):
    with memory_app.app_context():
        huey = broker().queue.huey
    due = {task.name for task in huey.read_periodic(datetime(2026, 11, 30, 0, 0))}
    assert {"reconcile", "sample_usage"} <= due
    not_due = {task.name for task in huey.read_periodic(datetime(2026, 11, 30, 0, 30))}
    assert "sample_usage" not in not_due  # hourly by default


def test_the_usage_api_is_for_the_operator_only(memory_app, sqlite_url, tmp_path):
    client = memory_app.test_client()
    assert client.get("/api/usage?from=2026-01-01").status_code == 401
    wrong = client.get("/api/usage?from=2026-01-01", headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    assert client.get("/api/usage", headers=AUTH).status_code == 400
    assert client.get("/api/usage?from=yesterday", headers=AUTH).status_code == 400
    backwards = client.get("/api/usage?from=2026-02-01&to=2026-01-01", headers=AUTH)
    assert backwards.status_code == 422
    assert client.get("/api/usage?from=2026-01-01", headers=AUTH).status_code == 200

    closed = build_app(
        f"sqlite:///{tmp_path / 'other.db'}",
        adapters=[MemoryAdapter()],
        QUEUE_URL=f"sqlite:///{tmp_path / 'q2.db'}",
    )
    refused = closed.test_client().get("/api/usage?from=2026-01-01", headers=AUTH)
    assert refused.status_code == 403  # no OPERATOR_TOKEN configured: never open


@pytest.mark.parametrize(
    ("query", "status", "named"),
    [
        ({"from": "0001-01-01T00:00:00+01:00"}, 422, "'from' is out of range"),
        ({"from": "2026-01-01", "to": "9999-12-31T23:59:59-14:00"}, 422, "'to' is out of range"),
        ({"from": "2026-01-01T00:00:00+25:00"}, 400, "'from' must be an ISO 8601 time"),
        ({"from": "2026-01-01", "to": "2026-13-01"}, 400, "'to' must be an ISO 8601 time"),
        ({"from": ["2026-01-01", "2025-01-01"]}, 400, "'from' is given more than once"),
        ({"from": "2026-01-01", "to": ["2026-02-01", "2027-01-01"]}, 400, "'to' is given more"),
    ],
)
def test_odd_usage_windows_get_a_clear_client_error(memory_app, query, status, named):
    response = memory_app.test_client().get("/api/usage", query_string=query, headers=AUTH)
    assert response.status_code == status, response.get_data(as_text=True)
    assert named in response.get_json()["message"]


def test_usage_window_times_are_answered_in_utc(memory_app):
    response = memory_app.test_client().get(
        "/api/usage", query_string={"from": "2026-01-01T02:00:00+02:00"}, headers=AUTH
    )
    assert response.status_code == 200
    assert response.get_json()["from"] == "2026-01-01T00:00:00+00:00"


def test_an_offset_whose_plus_the_query_string_turned_into_a_space_is_read_as_one(memory_app):
    # curl "…/api/usage?from=2026-01-01T02:00:00+02:00": an unencoded "+" arrives as a space.
    client = memory_app.test_client()
    response = client.get("/api/usage?from=2026-01-01T02:00:00+02:00", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["from"] == "2026-01-01T00:00:00+00:00"
    response = client.get("/api/usage?from=2026-01-01&to=2026-01-02T00:00:00+0100", headers=AUTH)
    assert response.get_json()["to"] == "2026-01-01T23:00:00+00:00"


def test_usage_export_writes_csv(memory_app, platform, tmp_path):
    start = _now()
    uuid_ = platform.provision(plan="small").get_json()["id"]
    platform.change_plan(uuid_, "big")
    platform.deprovision(uuid_)
    out = tmp_path / "usage.csv"
    result = memory_app.test_cli_runner().invoke(
        args=["usage", "export", "--from", _iso(start), "--to", _iso(_now()), str(out)]
    )
    assert result.exit_code == 0, result.output
    with out.open() as exported:
        rows = list(csv.DictReader(exported))
    assert [(r["resource_id"], r["plan"]) for r in rows] == [(uuid_, "small"), (uuid_, "big")]
    assert all(float(r["seconds"]) > 0 for r in rows)

    records = memory_app.test_cli_runner().invoke(
        args=["usage", "export", "--from", _iso(start), "--kind", "records"]
    )
    assert records.exit_code == 0
    assert records.output.splitlines()[0].startswith("id,kind,resource_id")
    assert len(records.output.splitlines()) == 4  # header, provisioned, plan_changed, deprovisioned


def test_usage_export_refuses_an_empty_window_start_with_a_usage_error(memory_app):
    result = memory_app.test_cli_runner().invoke(args=["usage", "export", "--from", ""])
    assert result.exit_code == 2, result.exception  # click's usage error, not a traceback
    assert "--from" in result.output and "ISO 8601" in result.output


class WorkerDied(BaseException):
    """The worker process ending between two statements (SIGKILL, out of memory)."""


def _state_and_kinds(app, uuid_: str) -> tuple[str, list[str]]:
    with app.app_context():
        state = db.session.scalar(select(Resource.state).where(Resource.uuid == uuid_))
        kinds = db.session.scalars(
            select(UsageRecord.kind).where(UsageRecord.resource_uuid == uuid_)
        ).all()
        return str(state), list(kinds)


def test_an_asynchronous_provision_and_its_plan_period_commit_together(
    sqlite_url, tmp_path, monkeypatch
):
    with local_platform(tmp_path) as platform:
        overrides = async_overrides(
            platform.url, f"sqlite:///{tmp_path / 'q.db'}", PROVISIONING_MODES={}
        )
        app = build_app(sqlite_url, adapters=[MemoryAdapter()], **overrides)
        record = events.record

        def dies_at_the_plan_period(resource, name, **fields):
            if name == "provisioned":
                raise WorkerDied
            record(resource, name, **fields)

        with live_server(app) as broker_url:
            platform.register(app, broker_url, slug="memory")
            addon_uuid = platform.create(plan="later", slug="memory")["addon"]["uuid"]
            monkeypatch.setattr(events, "record", dies_at_the_plan_period)
            with app.app_context(), pytest.raises(WorkerDied):
                drive_resource(addon_uuid)
            # Whatever the worker got to, a provisioned resource has its plan period.
            state, kinds = _state_and_kinds(app, addon_uuid)
            assert (state == "provisioned") == ("provisioned" in kinds), (state, kinds)

            monkeypatch.setattr(events, "record", record)
            with app.app_context():
                assert drive_resource(addon_uuid) == "provisioned"  # the reconciler's re-drive
    assert _state_and_kinds(app, addon_uuid) == ("provisioned", ["provisioned"])


class WaitingMeter(MemoryAdapter):
    """The ``slow`` resource's meter waits (up to 10 s) until the ``fast`` one's has been
    called: a slow tenant, and whether the others were sampled meanwhile."""

    def __init__(self, backend: MemoryBackend) -> None:
        super().__init__(backend)
        self.slow = self.fast = ""
        self.fast_called = threading.Event()
        self.others_went_on: bool | None = None

    def usage(self, resource):
        if resource.resource_id == self.fast:
            self.fast_called.set()
        if resource.resource_id == self.slow:
            self.others_went_on = self.fast_called.wait(10)
        return super().usage(resource)


def test_a_slow_tenant_delays_no_other_tenants_sample(sqlite_url, tmp_path, backend):
    meter = WaitingMeter(backend)
    app = build_app(sqlite_url, adapters=[meter], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    partner = PartnerClient(app.test_client(), app, "memory")
    created = [partner.provision(plan="small").get_json()["id"] for _ in range(2)]
    with app.app_context():
        ids = dict(db.session.execute(select(Resource.uuid, Resource.id)).all())
    meter.slow, meter.fast = sorted(created, key=ids.__getitem__)  # the slow one comes first
    with app.app_context():
        assert sample_usage_once() == 2
    assert meter.others_went_on is True
    for uuid_ in created:
        partner.deprovision(uuid_)


def test_every_page_of_resources_is_sampled(memory_app, platform, backend, monkeypatch):
    monkeypatch.setattr(usage_sampling, "PAGE_SIZE", 1)
    created = [platform.provision(plan="small").get_json()["id"] for _ in range(3)]
    start = _now()
    with memory_app.app_context():
        assert sample_usage_once() == 3
    body = _usage(platform.client, start, _now() + timedelta(seconds=1))
    assert sorted(s["resource_id"] for s in body["samples"]) == sorted(created)
    for uuid_ in created:
        platform.deprovision(uuid_)
