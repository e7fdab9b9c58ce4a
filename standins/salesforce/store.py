"""The org's SQLite store: one table per sObject, plus OAuth, limits, rules and cursors.

One connection, serialised by a re-entrant lock, is shared by every request thread; the path is
a file (WAL mode) or ``:memory:`` for tests. Record tables hold one column per field, named as
the field, with text fields ``COLLATE NOCASE`` because SOQL compares text case-insensitively.
Datetimes are stored in the REST form ``2024-01-01T00:00:00.000+0000`` (fixed width, UTC), so
comparing text compares time; booleans are 0/1; dates ``YYYY-MM-DD``.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from standins.salesforce import ids, sftime
from standins.salesforce.schema import ORG_PREFIX, USER_PREFIX, FieldDef, ObjectDef, Schema

DEFAULT_API_LIMIT = 15000
"""DailyApiRequests of a Developer Edition org."""

_SERVICE_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS connected_app (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, name TEXT NOT NULL,
    callback_urls TEXT);
CREATE TABLE IF NOT EXISTS auth_code (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL, expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS refresh_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS access_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, refresh_token TEXT,
    expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS consent (
    nonce TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    state TEXT, scope TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS validation_rule (
    id INTEGER PRIMARY KEY, sobject TEXT NOT NULL, field TEXT NOT NULL, value TEXT,
    message TEXT NOT NULL, error_field TEXT);
CREATE TABLE IF NOT EXISTS query_cursor (
    id TEXT PRIMARY KEY, sobject TEXT NOT NULL, fields TEXT NOT NULL, total INTEGER NOT NULL,
    batch_size INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS query_cursor_row (
    cursor_id TEXT NOT NULL, seq INTEGER NOT NULL, rid INTEGER NOT NULL,
    PRIMARY KEY (cursor_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bulk_job (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, soql TEXT NOT NULL, cursor_id TEXT,
    error TEXT);
"""


def column_type(f: FieldDef) -> str:
    """The SQLite column declaration for a field."""
    if f.is_text:
        return "TEXT COLLATE NOCASE"
    if f.type in ("boolean", "int"):
        return "INTEGER"
    if f.type in ("double", "currency", "percent"):
        return "REAL"
    return "TEXT"


def quote(name: str) -> str:
    """A quoted SQLite identifier (field names are checked against the schema first)."""
    return '"' + name.replace('"', '""') + '"'


class Org:
    """A Salesforce org: records, API usage and OAuth state in one SQLite database."""

    def __init__(self, schema: Schema, path: str | Path = ":memory:") -> None:
        self.schema = schema
        self.path = str(path)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SERVICE_TABLES)
        for obj in schema.objects:
            self._create_table(obj)
        self.org_id = self._meta_default("org_id", lambda: ids.make(ORG_PREFIX, 1 + _rand()))
        self.user_id = self._meta_default("user_id", lambda: ids.make(USER_PREFIX, 1 + _rand()))
        self.created = self._meta_default("created", lambda: sftime.format_datetime(sftime.now()))
        self.clock = sftime.ModstampClock(self._last_modstamp())

    def _create_table(self, obj: ObjectDef) -> None:
        columns = ", ".join(f"{quote(f.name)} {column_type(f)}" for f in obj.fields)
        table = obj.table
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ({columns}, _deleted_at TEXT, "
            'UNIQUE ("Id"))'
        )
        base = f"sobject_{obj.name}"
        self.db.execute(
            f'CREATE INDEX IF NOT EXISTS "{base}_modstamp" ON {table} ("SystemModstamp")'
        )
        self.db.execute(
            f'CREATE INDEX IF NOT EXISTS "{base}_deleted" ON {table} (_deleted_at) '
            "WHERE _deleted_at IS NOT NULL"
        )
        for f in obj.fields:
            if f.unique:
                self.db.execute(
                    f'CREATE UNIQUE INDEX IF NOT EXISTS "{base}_{f.name}" ON {table} '
                    f'({quote(f.name)}) WHERE "IsDeleted" = 0'
                )
            elif f.type == "reference" and not f.system:
                self.db.execute(
                    f'CREATE INDEX IF NOT EXISTS "{base}_{f.name}" ON {table} ({quote(f.name)})'
                )

    def _meta_default(self, key: str, make: Callable[[], str]) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row:
            return str(row[0])
        value = make()
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return str(value)

    def _last_modstamp(self) -> str | None:
        stamps = [
            self.db.execute(f'SELECT MAX("SystemModstamp") FROM {obj.table}').fetchone()[0]
            for obj in self.schema.objects
        ]
        present = [s for s in stamps if s]
        return max(present) if present else None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock inside ``BEGIN IMMEDIATE``; commit on success, roll back on error."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock for a consistent read."""
        with self.lock:
            yield self.db

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A value from the ``meta`` table."""
        with self.reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the ``meta`` table."""
        with self.lock:
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def allocate_ids(self, obj: ObjectDef, count: int) -> list[str]:
        """Mint ``count`` new ids for ``obj`` (call inside a transaction)."""
        return self.mint(obj.key_prefix, count)

    def mint(self, prefix: str, count: int = 1) -> list[str]:
        """Mint ``count`` new ids with key prefix ``prefix`` (call inside a transaction)."""
        key = f"counter:{prefix}"
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        first = int(row[0]) if row else 1
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(first + count)),
        )
        return [ids.make(prefix, n) for n in range(first, first + count)]

    def api_usage(self) -> tuple[int, int]:
        """``(used, max)`` of DailyApiRequests."""
        used = int(self.get_meta("api_used", "0") or 0)
        limit = int(self.get_meta("api_max", str(DEFAULT_API_LIMIT)) or DEFAULT_API_LIMIT)
        return used, limit

    def count_api_call(self) -> tuple[int, int, bool]:
        """Count one API request; return ``(used, max, allowed)``; a refused one is not counted."""
        with self.lock:
            used, limit = self.api_usage()
            if used >= limit:
                return used, limit, False
            self.set_meta("api_used", str(used + 1))
            return used + 1, limit, True

    def close(self) -> None:
        """Close the database connection."""
        with self.lock:
            self.db.close()


def _rand() -> int:
    return secrets.randbelow(62**8)
