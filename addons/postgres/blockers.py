"""Admin statements that a tenant's open transaction must not hold up.

A tenant can keep a transaction open as long as it likes, and one that changed a catalog row
holds that row: ``ALTER ROLE <itself> PASSWORD ...`` holds its role (so the broker's
``ALTER ROLE`` for a plan change or a credential rotation waits), an ``ALTER TABLE`` holds
the table (so ``DROP OWNED BY`` another tenant's role, revoking what was granted to it
there, waits). :func:`execute_past_tenants` gives such a statement a short wait; if it is
still held up, it ends the sessions that may hold it (only those of the given role or
database that hold a transaction id, that is, that wrote) and runs it again.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

#: How long the first try waits for a lock before the holders' sessions are ended.
FIRST_WAIT_MS = 1000
#: How long ending a session may take before the statement is tried again anyway.
END_WAIT_MS = 5000


def execute_past_tenants(
    conn: psycopg.Connection[Any],
    statement: sql.Composed,
    *,
    role: str | None = None,
    database: str | None = None,
    as_role: str | None = None,
) -> None:
    """Run ``statement`` on the autocommit admin session ``conn`` (as ``as_role``, a role the
    admin is a member of, when given); when a lock keeps it waiting, end the writing sessions
    of ``role`` or in ``database`` (the tenant's that may hold it) and run it once more.

    :raises psycopg.errors.LockNotAvailable: someone else still holds the lock.
    """
    try:
        _execute(conn, statement, as_role, lock_timeout_ms=FIRST_WAIT_MS)
        return
    except psycopg.errors.LockNotAvailable:
        pass
    conn.execute(
        "SELECT pg_catalog.pg_terminate_backend(pid, %(wait)s)"
        " FROM pg_catalog.pg_stat_activity"
        " WHERE (usename = %(role)s OR datname = %(database)s)"
        " AND backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid()",
        {"wait": END_WAIT_MS, "role": role, "database": database},
    )
    _execute(conn, statement, as_role)


def _execute(
    conn: psycopg.Connection[Any],
    statement: sql.Composed,
    as_role: str | None,
    lock_timeout_ms: int | None = None,
) -> None:
    with conn.transaction():
        if lock_timeout_ms is not None:
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(lock_timeout_ms))
        if as_role is not None:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(as_role)))
        conn.execute(statement)
