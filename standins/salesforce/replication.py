"""getUpdated and getDeleted (REST API Developer Guide, "sObject Get Updated/Deleted").

- ``GET /vXX.X/sobjects/Obj/updated/?start=<ISO>&end=<ISO>`` answers ``{"ids": [...],
  "latestDateCovered": "2024-01-01T00:05:00.000+0000"}`` (records whose SystemModstamp falls
  in the window, deleted ones left out).
- ``GET /vXX.X/sobjects/Obj/deleted/?start=&end=`` answers ``{"deletedRecords": [{"id",
  "deletedDate"}], "earliestDateAvailable", "latestDateCovered"}``.

As in Salesforce the seconds of ``start`` and ``end`` are ignored and the window may reach back
at most 30 days. ``latestDateCovered`` never passes the current minute, so a poller that
continues from it can see a record twice but never skips one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from standins.salesforce import sftime
from standins.salesforce.errors import ApiError
from standins.salesforce.schema import ObjectDef
from standins.salesforce.store import Org

MAX_DAYS = 30


def _bad_date(message: str) -> ApiError:
    return ApiError(400, "INVALID_REPLICATION_DATE", message)


def window(start: str | None, end: str | None) -> tuple[datetime, datetime, datetime]:
    """``(start, end, latestDateCovered)``, each cut to the minute, checked as Salesforce does.

    A ``+`` sent unencoded in the query string arrives as a space; it is put back.
    """
    if not start or not end:
        raise ApiError(400, "MISSING_ARGUMENT", "start and end parameters are required")
    try:
        first = sftime.parse_datetime(start.replace(" ", "+"))
        last = sftime.parse_datetime(end.replace(" ", "+"))
    except ValueError:
        raise ApiError(400, "INVALID_REPLICATION_DATE",
                       "start and end must be ISO 8601 date/times with a time zone") from None
    first, last = sftime.floor_minute(first), sftime.floor_minute(last)
    now = sftime.now()
    if first >= last:
        raise _bad_date("startDate must chronologically precede endDate")
    if first < sftime.floor_minute(now) - timedelta(days=MAX_DAYS):
        raise _bad_date(f"startDate cannot be more than {MAX_DAYS} days ago")
    return first, last, min(last, sftime.floor_minute(now))


def updated(org: Org, obj: ObjectDef, start: str | None, end: str | None) -> dict[str, Any]:
    """The answer of getUpdated."""
    first, last, covered = window(start, end)
    with org.reading() as db:
        rows = db.execute(
            f'SELECT "Id" FROM {obj.table} WHERE "IsDeleted" = 0 AND "SystemModstamp" >= ? '
            'AND "SystemModstamp" < ? ORDER BY "SystemModstamp", rowid',
            (sftime.format_datetime(first), sftime.format_datetime(last)),
        ).fetchall()
    return {"ids": [r[0] for r in rows], "latestDateCovered": sftime.format_datetime(covered)}


def deleted(org: Org, obj: ObjectDef, start: str | None, end: str | None) -> dict[str, Any]:
    """The answer of getDeleted."""
    first, last, covered = window(start, end)
    with org.reading() as db:
        rows = db.execute(
            f'SELECT "Id", _deleted_at FROM {obj.table} WHERE _deleted_at >= ? '
            "AND _deleted_at < ? ORDER BY _deleted_at, rowid",
            (sftime.format_datetime(first), sftime.format_datetime(last)),
        ).fetchall()
    earliest = sftime.floor_minute(sftime.parse_datetime(org.created))
    return {
        "deletedRecords": [{"id": r[0], "deletedDate": r[1]} for r in rows],
        "earliestDateAvailable": sftime.format_datetime(earliest),
        "latestDateCovered": sftime.format_datetime(covered),
    }
