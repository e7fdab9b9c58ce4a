"""The local platform's store: manifests, add-ons, grants, tokens and a log of every call."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (slug TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS addons (
    uuid TEXT PRIMARY KEY, slug TEXT NOT NULL, plan TEXT NOT NULL, app TEXT NOT NULL,
    name TEXT NOT NULL, state TEXT NOT NULL, provider_id TEXT, message TEXT,
    config TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    code TEXT PRIMARY KEY, uuid TEXT NOT NULL, expires_at REAL NOT NULL, used INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, kind TEXT NOT NULL, uuid TEXT NOT NULL, expires_at REAL
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, method TEXT NOT NULL,
    path TEXT NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS log_inputs (
    uuid TEXT PRIMARY KEY, app TEXT NOT NULL, token TEXT NOT NULL, drain_token TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, app TEXT NOT NULL,
    timestamp TEXT NOT NULL, hostname TEXT NOT NULL, procid TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL, path_prefix TEXT NOT NULL,
    status INTEGER NOT NULL, delay_seconds REAL NOT NULL DEFAULT 0, remaining INTEGER NOT NULL,
    retry_after TEXT
);
"""


class PlatformStore:
    """SQLite-backed; safe to share between the server's threads."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            columns = {row["name"] for row in conn.execute("PRAGMA table_info(faults)")}
            if "retry_after" not in columns:  # a store made before faults could carry it
                conn.execute("ALTER TABLE faults ADD COLUMN retry_after TEXT")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = sqlite3.connect(self._path, timeout=30)
            conn.row_factory = sqlite3.Row
            try:
                with conn:
                    yield conn
            finally:
                conn.close()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds after some change to the store, or ``timeout``."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    # --- manifests and add-ons --------------------------------------------------------------

    def put_manifest(self, manifest: dict[str, Any]) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO manifests (slug, body) VALUES (?, ?)"
                " ON CONFLICT(slug) DO UPDATE SET body = excluded.body",
                (manifest["id"], json.dumps(manifest)),
            )

    def manifest(self, slug: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT body FROM manifests WHERE slug = ?", (slug,)).fetchone()
        return json.loads(row["body"]) if row else None

    def create_addon(self, slug: str, plan: str, app: str, grant_ttl: float) -> dict[str, Any]:
        """Record a new add-on in state ``provisioning`` with a fresh grant code."""
        addon_uuid, code = str(uuid.uuid4()), str(uuid.uuid4())
        now = time.time()
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO addons (uuid, slug, plan, app, name, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'provisioning', ?)",
                (addon_uuid, slug, plan, app, f"{slug}-{addon_uuid[:8]}", now),
            )
            conn.execute(
                "INSERT INTO grants (code, uuid, expires_at) VALUES (?, ?, ?)",
                (code, addon_uuid, now + grant_ttl),
            )
        return {
            **(self.addon(addon_uuid) or {}),
            "grant": {"code": code, "expires_at": now + grant_ttl},
        }

    def addon(self, addon_uuid: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM addons WHERE uuid = ?", (addon_uuid,)).fetchone()
        if row is None:
            return None
        return {**dict(row), "config": json.loads(row["config"])}

    def addons(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT uuid FROM addons ORDER BY created_at").fetchall()
        return [a for a in (self.addon(r["uuid"]) for r in rows) if a]

    def update_addon(self, addon_uuid: str, **fields: Any) -> None:
        if "config" in fields:
            fields["config"] = json.dumps(fields["config"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._connect() as conn:
            conn.execute(
                f"UPDATE addons SET {assignments} WHERE uuid = ?",  # noqa: S608 (names are ours)
                (*fields.values(), addon_uuid),
            )

    # --- OAuth --------------------------------------------------------------------------------

    def use_grant(self, code: str) -> str | None:
        """Consume a grant code; return its add-on uuid, or None if unknown, used or expired."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM grants WHERE code = ?", (code,)).fetchone()
            if row is None or row["used"] or row["expires_at"] < time.time():
                return None
            conn.execute("UPDATE grants SET used = 1 WHERE code = ?", (code,))
        return str(row["uuid"])

    def issue_tokens(self, addon_uuid: str, access_ttl: float) -> dict[str, Any]:
        access, refresh = f"HRKU-{secrets.token_hex(16)}", secrets.token_hex(24)
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO tokens VALUES (?, 'access', ?, ?)",
                (access, addon_uuid, time.time() + access_ttl),
            )
            conn.execute("INSERT INTO tokens VALUES (?, 'refresh', ?, NULL)", (refresh, addon_uuid))
        return {"access_token": access, "refresh_token": refresh, "expires_in": int(access_ttl)}

    def refresh_tokens(self, refresh: str, access_ttl: float) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT uuid FROM tokens WHERE token = ? AND kind = 'refresh'", (refresh,)
            ).fetchone()
            if row is None:
                return None
            access = f"HRKU-{secrets.token_hex(16)}"
            conn.execute(
                "INSERT INTO tokens VALUES (?, 'access', ?, ?)",
                (access, row["uuid"], time.time() + access_ttl),
            )
        return {"access_token": access, "expires_in": int(access_ttl), "uuid": row["uuid"]}

    def token_addon(self, access: str) -> str | None:
        """The add-on uuid a live access token is scoped to."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT uuid, expires_at FROM tokens WHERE token = ? AND kind = 'access'", (access,)
            ).fetchone()
        if row is None or row["expires_at"] < time.time():
            return None
        return str(row["uuid"])

    def expire_access_tokens(self) -> None:
        with self._connect() as conn:
            conn.execute("UPDATE tokens SET expires_at = 0 WHERE kind = 'access'")

    # --- the apps' log streams ---------------------------------------------------------------

    def create_log_input(self, addon_uuid: str, app: str) -> dict[str, str]:
        """The add-on's credentials for its app's log input: ``token`` (the URL's password)
        and ``drain_token``."""
        token, drain = f"t.{uuid.uuid4()}", f"d.{uuid.uuid4()}"
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO log_inputs (uuid, app, token, drain_token) VALUES (?, ?, ?, ?)",
                (addon_uuid, app, token, drain),
            )
        return {"token": token, "drain_token": drain}

    def log_input(self, addon_uuid: str) -> dict[str, str] | None:
        """The log input credentials handed to the add-on (``token``, ``drain_token``)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT app, token, drain_token FROM log_inputs WHERE uuid = ?", (addon_uuid,)
            ).fetchone()
        return dict(row) if row else None

    def log_input_accepts(self, app: str, token: str) -> bool:
        """Whether ``token`` was handed to an add-on of ``app``."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM log_inputs WHERE app = ? AND token = ?", (app, token)
            ).fetchone()
        return row is not None

    def add_log_lines(self, app: str, lines: list[dict[str, str]]) -> None:
        with self._connect() as conn:
            conn.executemany(
                "INSERT INTO log_lines (at, app, timestamp, hostname, procid, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (time.time(), app, ln["timestamp"], ln["hostname"], ln["procid"],
                     ln["message"])
                    for ln in lines
                ],
            )

    def log_lines(self, app: str) -> list[dict[str, Any]]:
        """The app's log lines in the order they arrived."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT timestamp, hostname, procid, message FROM log_lines WHERE app = ?"
                " ORDER BY id",
                (app,),
            ).fetchall()
        return [dict(row) for row in rows]

    # --- log and faults -----------------------------------------------------------------------

    def log(self, method: str, path: str, status: int, **detail: Any) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO calls (at, method, path, status, detail) VALUES (?, ?, ?, ?, ?)",
                (time.time(), method, path, status, json.dumps(detail)),
            )

    def calls(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM calls ORDER BY id").fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    def add_fault(
        self,
        method: str,
        path_prefix: str,
        status: int,
        times: int,
        delay_seconds: float = 0,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls (``-1``: all) with ``status`` (0: the real
        answer) after ``delay_seconds``, with a ``Retry-After`` header when given."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO faults"
                " (method, path_prefix, status, delay_seconds, remaining, retry_after)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (method.upper(), path_prefix, status, delay_seconds, times, retry_after),
            )

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        """The first matching fault with uses left (``remaining`` < 0 means forever)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM faults WHERE method = ? AND remaining != 0 ORDER BY id", (method,)
            ).fetchall()
            for row in rows:
                if path.startswith(row["path_prefix"]):
                    if row["remaining"] > 0:
                        conn.execute(
                            "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],)
                        )
                    return dict(row)
        return None

    def faults_left(self) -> int:
        """How many fault uses remain (forever-faults count as one)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(CASE WHEN remaining < 0 THEN 1 ELSE remaining END), 0)"
                " FROM faults WHERE remaining != 0"
            ).fetchone()
        return int(row[0])

    def clear_faults(self) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM faults")
