"""Salesforce's date and time formats, and the clock that stamps writes.

Wire formats (REST API Developer Guide, "Valid Date and DateTime Formats"; SOQL and SOSL
Reference, "Date Formats and Date Literals"):

- REST JSON datetimes: ``2024-01-01T00:00:00.000+0000`` (always UTC here). Stored in SQLite in
  the same fixed-width form, so text order is time order.
- Bulk API 2.0 CSV datetimes: ``2024-01-01T00:00:00.000Z``.
- SOQL datetime literals (unquoted): ``2024-01-01T00:00:00Z``, ``2024-01-01T00:00:00+01:00``,
  ``2024-01-01T00:00:00.000+0000``; date literals ``2024-01-01``.
- getUpdated/getDeleted ``start``/``end`` parameters: ISO 8601 such as
  ``2024-01-01T00:00:00+00:00`` (simple-salesforce sends exactly this).
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def format_datetime(moment: datetime) -> str:
    """``2024-01-01T00:00:00.000+0000``: the REST API's datetime form, in UTC."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    """Parse a SOQL/ISO 8601 datetime with an explicit zone; raise ValueError otherwise."""
    match = _DATETIME.match(text)
    if not match:
        raise ValueError(f"not a datetime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    return (naive - offset).replace(tzinfo=UTC)


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD``; raise ValueError otherwise."""
    if not _DATE.match(text):
        raise ValueError(f"not a date: {text!r}")
    return date.fromisoformat(text)


def floor_minute(moment: datetime) -> datetime:
    """Drop seconds: getUpdated/getDeleted ignore the seconds of ``start`` and ``end``."""
    return moment.replace(second=0, microsecond=0)


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


class ModstampClock:
    """Hands out write timestamps that strictly increase, one millisecond apart at least.

    Every write (one API call, or one chunk of a generated load) takes one stamp, so a poller
    that reads ``SystemModstamp > last_seen`` never skips a later write that landed in the
    same millisecond as an earlier one.
    """

    def __init__(self, last: str | None = None) -> None:
        self._lock = threading.Lock()
        self._last = parse_datetime(last) if last else datetime.min.replace(tzinfo=UTC)

    def next(self) -> str:
        """The next stamp in REST form: now, or one millisecond after the previous stamp."""
        with self._lock:
            moment = now()
            current = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
            floor = self._last + timedelta(milliseconds=1)
            self._last = max(current, floor)
            return format_datetime(self._last)
