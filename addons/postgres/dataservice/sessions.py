"""Tenant connections for the data service: pooled, fenced, and with errors mapped.

A session connects with the tenant's own ``DATABASE_URL`` and the startup options
``statement_timeout``, ``search_path=pg_catalog,pg_temp``, ``TimeZone=UTC``,
``DateStyle=ISO``, ``client_encoding=UTF8`` and no ``local_preload_libraries`` (no extra
round trip; they outrank the tenant's ``ALTER ROLE/DATABASE ... SET``). Idle connections
are kept per URL for a minute, so a request costs no new connection and SCRAM handshake; a
rotated password is a new URL, so a connection is never reused for other credentials.

Errors: a constraint or a value the column refuses (classes 22 and 23), a value too big for
Postgres (class 54, such as a key over an index entry's size), a value for a generated
column, a trigger's ``RAISE EXCEPTION`` or ``ASSERT``, a missing privilege, table or column
-> :class:`ProvisionRejected` (the client's fault; nothing changed); a timeout or anything
else -> :class:`BackendUnavailable`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from marketplace.adapters import BackendUnavailable, ProvisionRejected

Connection = psycopg.Connection[dict[str, Any]]

_REFUSALS: tuple[type[psycopg.Error], ...] = (
    psycopg.errors.IntegrityError,
    psycopg.errors.DataError,
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.ReadOnlySqlTransaction,
    psycopg.errors.GeneratedAlways,  # 428C9: a value for a generated or identity-always column
    psycopg.errors.RaiseException,  # P0001: a trigger's RAISE EXCEPTION refused the row
    psycopg.errors.AssertFailure,  # P0004: a trigger's ASSERT failed
    psycopg.errors.TriggeredDataChangeViolation,  # 27000
    # class 54: what the client sent is too big for Postgres (a key over an index entry's
    # ~2.7 kB, a statement too complex), not a database that failed
    psycopg.errors.ProgramLimitExceeded,  # 54000
    psycopg.errors.StatementTooComplex,  # 54001
    psycopg.errors.TooManyColumns,  # 54011
    psycopg.errors.TooManyArguments,  # 54023
)


@contextmanager
def tenant_session(
    url: str, *, statement_timeout_ms: int = 30_000, connect_timeout: int = 5
) -> Iterator[Connection]:
    """A pooled connection as the tenant, in autocommit mode: each statement is its own
    transaction (every write is one statement), and a read costs one round trip.

    :raises ProvisionRejected: the database refused a value, constraint or privilege.
    :raises BackendUnavailable: unreachable, timed out or failed.
    """
    key = f"{statement_timeout_ms}:{url}"
    conn = _POOL.take(key) or _connect(url, statement_timeout_ms, connect_timeout)
    try:
        yield conn
    except psycopg.errors.QueryCanceled as error:
        conn.close()
        raise BackendUnavailable(
            f"The database did not answer within {statement_timeout_ms} ms."
        ) from error
    except _REFUSALS as error:
        conn.close()
        raise ProvisionRejected(f"The database refused it: {_primary(error)}") from error
    except psycopg.Error as error:
        conn.close()
        raise BackendUnavailable(f"The database failed: {_primary(error)}") from error
    except BaseException:
        conn.close()
        raise
    _POOL.give(key, conn)


def close_idle_connections() -> None:
    """Close this process's pooled tenant connections (tests, shutdown)."""
    _POOL.clear()


def _connect(url: str, statement_timeout_ms: int, connect_timeout: int) -> Connection:
    options = (
        f"-c statement_timeout={int(statement_timeout_ms)} "
        "-c search_path=pg_catalog,pg_temp -c TimeZone=UTC -c DateStyle=ISO"
        # The tenant's role or database may SET these too: SQL_ASCII would hand back bytes.
        " -c client_encoding=UTF8 -c local_preload_libraries="
    )
    try:
        return psycopg.connect(
            url,
            connect_timeout=connect_timeout,
            options=options,
            row_factory=dict_row,
            autocommit=True,
            application_name="marketplace-external-objects",
        )
    except psycopg.Error as error:
        raise BackendUnavailable(f"The database cannot be reached: {_primary(error)}") from error


def _primary(error: psycopg.Error) -> str:
    """Postgres' primary message (never the statement or its parameters)."""
    diag = getattr(error, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(error)
    lines = message.strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


class _Pool:
    """Idle tenant connections by URL, reused for :attr:`idle_seconds`."""

    idle_seconds = 60.0
    per_url = 4
    check_after_seconds = 2.0

    def __init__(self) -> None:
        self._idle: dict[str, list[tuple[float, Connection]]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> Connection | None:
        """An idle healthy connection kept under ``key`` (URL and settings), or None."""
        while True:
            with self._lock:
                stack = self._idle.get(key) or []
                entry = stack.pop() if stack else None
            if entry is None:
                return None
            idle = time.monotonic() - entry[0]
            if idle < self.idle_seconds and _alive(entry[1], idle > self.check_after_seconds):
                return entry[1]
            entry[1].close()

    def give(self, key: str, conn: Connection) -> None:
        """Keep a connection after a finished transaction; close what is not kept."""
        now = time.monotonic()
        closing: list[Connection] = []
        with self._lock:
            for name, stack in list(self._idle.items()):
                closing.extend(c for t, c in stack if now - t >= self.idle_seconds)
                self._idle[name] = [(t, c) for t, c in stack if now - t < self.idle_seconds]
            stack = self._idle.setdefault(key, [])
            if len(stack) < self.per_url:
                stack.append((now, conn))
            else:
                closing.append(conn)
        for conn_ in closing:
            conn_.close()

    def clear(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for stack in idle.values():
            for _, conn in stack:
                conn.close()


def _alive(conn: Connection, ping: bool) -> bool:
    """Idle, and (after a few idle seconds, when its database may have been dropped or its
    session ended) answering."""
    if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    if not ping:
        return True
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


_POOL = _Pool()
