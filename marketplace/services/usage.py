"""Usage for billing, from the append-only usage records (``marketplace.models.usage``).

* Plan periods: a resource is on a plan from ``provisioned`` (or ``plan_changed`` to it)
  until its next ``plan_changed``, ``deprovisioned`` or ``failed``; a period still open ends
  "now", even when the window asked for ends later (time that has not passed is never
  counted). Periods are clipped to the window asked for, in whole and fractional seconds, so
  a resource's periods add up to the time it lived within the window.
* Samples: what the adapters' ``usage()`` reported (storage, messages, rows synced), one
  record per metric, taken by the worker every ``USAGE_SAMPLE_INTERVAL_MINUTES``
  (:mod:`marketplace.services.usage_sampling`).
* Corrections: a record with ``corrects_id`` replaces the record it names (kind ``void``
  cancels it); the original stays as it was written.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from marketplace.errors import NotFound, Unprocessable
from marketplace.extensions import db
from marketplace.models import UsageRecord
from marketplace.models._types import as_utc, utcnow
from marketplace.models.usage import PERIOD_KINDS, SAMPLE, VOID

log = logging.getLogger(__name__)

_ENDS = ("deprovisioned", "failed")


@dataclass(frozen=True)
class Fact:
    """A usage record with its corrections applied (``id`` is the original's)."""

    id: int
    resource_id: str
    addon: str
    plan: str
    kind: str
    occurred_at: datetime
    metric: str | None = None
    value: float | None = None
    unit: str | None = None
    limit: float | None = None


@dataclass(frozen=True)
class Period:
    """Time on one plan: ``start``/``end`` as recorded (``end`` None: still on it), and
    ``seconds`` of it inside the window asked for."""

    resource_id: str
    addon: str
    plan: str
    start: datetime
    end: datetime | None
    seconds: float


@dataclass(frozen=True)
class UsageReport:
    """Plan periods and samples in ``[start, end)``, and the raw records written then."""

    start: datetime
    end: datetime
    periods: list[Period]
    samples: list[Fact]
    records: list[UsageRecord]


def facts(records: Iterable[UsageRecord]) -> list[Fact]:
    """The records as facts: corrections replace what they correct, voids remove it;
    ordered by time, then by when they were written."""
    originals: dict[int, UsageRecord] = {}
    latest: dict[int, UsageRecord] = {}
    for record in sorted(records, key=lambda r: r.id):
        if record.corrects_id is None:
            originals[record.id] = record
        else:
            latest[record.corrects_id] = record
    result = []
    for record_id, original in originals.items():
        current = latest.get(record_id, original)
        if current.kind == VOID:
            continue
        result.append(
            Fact(
                id=record_id,
                resource_id=original.resource_uuid,
                addon=original.addon,
                plan=current.plan,
                kind=current.kind,
                occurred_at=as_utc(current.occurred_at),
                metric=current.metric,
                value=current.value,
                unit=current.unit,
                limit=current.limit,
            )
        )
    return sorted(result, key=lambda f: (f.occurred_at, f.id))


def plan_periods(
    history: Sequence[Fact], start: datetime, end: datetime, now: datetime | None = None
) -> list[Period]:
    """Each resource's plan periods that overlap ``[start, end)``, with their seconds in it.

    ``history`` holds the period facts (any order) up to ``end``. A period still open counts
    up to ``now`` (default: the current time) when that comes before ``end``.
    """
    open_until = min(end, now or utcnow())
    by_resource: dict[str, list[Fact]] = defaultdict(list)
    for fact in sorted(history, key=lambda f: (f.occurred_at, f.id)):
        if fact.kind in PERIOD_KINDS:
            by_resource[fact.resource_id].append(fact)
    periods: list[Period] = []
    for resource_facts in by_resource.values():
        opened: Fact | None = None
        spans: list[tuple[Fact, datetime | None]] = []
        for fact in resource_facts:
            if opened is not None:
                spans.append((opened, fact.occurred_at))
            opened = None if fact.kind in _ENDS else fact
        if opened is not None:
            spans.append((opened, None))
        for began, ended in spans:
            stop = min(ended, end) if ended is not None else open_until
            inside = (stop - max(began.occurred_at, start)).total_seconds()
            if inside > 0:
                periods.append(
                    Period(
                        began.resource_id, began.addon, began.plan, began.occurred_at, ended, inside
                    )
                )
    return sorted(periods, key=lambda p: (p.start, p.resource_id))


def report(start: datetime, end: datetime) -> UsageReport:
    """Usage in ``[start, end)`` (UTC); open plan periods count up to now at most.

    :raises Unprocessable: ``end`` is not after ``start``.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise Unprocessable("'to' must be after 'from'.")
    corrected = select(UsageRecord.corrects_id).where(UsageRecord.corrects_id.is_not(None))
    # Plan periods need their whole history (a period opened long ago is still open); of the
    # rest (samples, mostly: one per resource and hour) only what falls in the window, what
    # was written in it, corrections and what they correct.
    history = db.session.scalars(
        select(UsageRecord).where(
            or_(
                UsageRecord.corrects_id.is_not(None),
                UsageRecord.id.in_(corrected),
                (UsageRecord.occurred_at < end)
                & or_(
                    UsageRecord.kind.in_(PERIOD_KINDS),
                    UsageRecord.occurred_at >= start,
                    UsageRecord.recorded_at >= start,
                ),
            )
        )
    ).all()
    known = facts(history)
    period_facts = [f for f in known if f.kind in PERIOD_KINDS and f.occurred_at < end]
    samples = [f for f in known if f.kind == SAMPLE and start <= f.occurred_at < end]
    written = [r for r in history if start <= as_utc(r.recorded_at) < end]
    return UsageReport(start, end, plan_periods(period_facts, start, end), samples, written)


def correct(
    record_id: int,
    note: str,
    *,
    occurred_at: datetime | None = None,
    plan: str | None = None,
    value: float | None = None,
    void: bool = False,
) -> UsageRecord:
    """Write a correction of record ``record_id`` (or of the record it corrects).

    :raises NotFound: no such record. :raises Unprocessable: no note, or nothing to change.
    """
    target = db.session.get(UsageRecord, record_id)
    if target is None:
        raise NotFound(f"No usage record {record_id}.")
    if not note.strip():
        raise Unprocessable("Say why: a correction needs a note.")
    if not void and occurred_at is None and plan is None and value is None:
        raise Unprocessable("Give the corrected time, plan or value, or void the record.")
    original_id = target.corrects_id or target.id
    base = facts(
        db.session.scalars(
            select(UsageRecord).where(
                or_(UsageRecord.id == original_id, UsageRecord.corrects_id == original_id)
            )
        ).all()
    )
    current = base[0] if base else None
    record = UsageRecord(
        resource_uuid=target.resource_uuid,
        addon=target.addon,
        plan=plan or (current.plan if current else target.plan),
        kind=VOID if void else (current.kind if current else target.kind),
        occurred_at=as_utc(occurred_at) if occurred_at else (
            current.occurred_at if current else target.occurred_at
        ),
        metric=current.metric if current else target.metric,
        value=value if value is not None else (current.value if current else target.value),
        unit=current.unit if current else target.unit,
        limit=current.limit if current else target.limit,
        corrects_id=original_id,
        note=note.strip(),
    )
    db.session.add(record)
    db.session.commit()
    return record


# --- shapes for the API and the CSV export ---------------------------------------------------


def period_json(period: Period) -> dict[str, Any]:
    """A period as JSON (times ISO 8601 UTC, ``seconds`` within the window)."""
    return {
        "resource_id": period.resource_id,
        "addon": period.addon,
        "plan": period.plan,
        "start": period.start.isoformat(),
        "end": period.end.isoformat() if period.end else None,
        "seconds": round(period.seconds, 6),
    }


def fact_json(fact: Fact) -> dict[str, Any]:
    """A sample as JSON."""
    return {
        "record_id": fact.id,
        "resource_id": fact.resource_id,
        "addon": fact.addon,
        "plan": fact.plan,
        "metric": fact.metric,
        "value": fact.value,
        "unit": fact.unit,
        "limit": fact.limit,
        "sampled_at": fact.occurred_at.isoformat(),
    }


def record_json(record: UsageRecord) -> dict[str, Any]:
    """A raw record as JSON, exactly as it was written."""
    return {
        "id": record.id,
        "kind": record.kind,
        "resource_id": record.resource_uuid,
        "addon": record.addon,
        "plan": record.plan,
        "occurred_at": as_utc(record.occurred_at).isoformat(),
        "recorded_at": as_utc(record.recorded_at).isoformat(),
        "metric": record.metric,
        "value": record.value,
        "unit": record.unit,
        "limit": record.limit,
        "corrects": record.corrects_id,
        "note": record.note,
    }


def report_json(usage: UsageReport) -> dict[str, Any]:
    """``GET /api/usage``'s body."""
    return {
        "from": usage.start.isoformat(),
        "to": usage.end.isoformat(),
        "periods": [period_json(p) for p in usage.periods],
        "samples": [fact_json(s) for s in usage.samples],
        "records": [record_json(r) for r in usage.records],
    }


PERIOD_COLUMNS: tuple[str, ...] = ("resource_id", "addon", "plan", "start", "end", "seconds")
SAMPLE_COLUMNS: tuple[str, ...] = (
    "record_id", "resource_id", "addon", "plan", "metric", "value", "unit", "limit", "sampled_at"
)
RECORD_COLUMNS: tuple[str, ...] = (
    "id", "kind", "resource_id", "addon", "plan", "occurred_at", "recorded_at", "metric",
    "value", "unit", "limit", "corrects", "note",
)


def report_csv(usage: UsageReport, kind: str) -> str:
    """One table of the report as CSV: ``periods``, ``samples`` or ``records``."""
    if kind == "periods":
        columns, rows = PERIOD_COLUMNS, [period_json(p) for p in usage.periods]
    elif kind == "samples":
        columns, rows = SAMPLE_COLUMNS, [fact_json(s) for s in usage.samples]
    else:
        columns, rows = RECORD_COLUMNS, [record_json(r) for r in usage.records]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
