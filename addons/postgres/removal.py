"""Removing a tenant whatever state it put its database and role into.

A tenant owns its database and can change it: make it a template (which ``DROP DATABASE``
refuses), forbid connections, cap them at zero, or grant privileges on its tables to another
tenant's role (which then blocks *that* tenant's ``DROP ROLE``). Removal undoes each of these
first, so deprovisioning always ends with nothing left and no tenant can stop another's.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from addons.postgres.blockers import execute_past_tenants
from addons.postgres.connections import AdminConnections


def drop_database(conn: psycopg.Connection[Any], database: str) -> None:
    """Drop ``database`` (ending its sessions), even when its owner made it a template."""
    row = conn.execute(
        "SELECT datistemplate FROM pg_catalog.pg_database WHERE datname = %s", (database,)
    ).fetchone()
    if row is None:
        return
    if row[0]:
        conn.execute(
            sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(database))
        )
    conn.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
    )


def drop_role(conn: psycopg.Connection[Any], connections: AdminConnections, role: str) -> None:
    """End ``role``'s sessions, revoke what other databases granted it, and drop it."""
    conn.execute(
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
        " WHERE usename = %s",
        (role,),
    )
    for (database,) in conn.execute(
        "SELECT DISTINCT d.datname FROM pg_catalog.pg_shdepend s"
        " JOIN pg_catalog.pg_database d ON d.oid = s.dbid"
        " JOIN pg_catalog.pg_roles r ON r.oid = s.refobjid"
        " WHERE r.rolname = %s",
        (role,),
    ).fetchall():
        _drop_owned_in(connections, database, role)
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _drop_owned_in(connections: AdminConnections, database: str, role: str) -> None:
    """``DROP OWNED BY role`` inside ``database`` (whose owner may have shut it: see
    :meth:`AdminConnections.database`)."""
    with connections.database(database) as inside:
        execute_past_tenants(
            inside, sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)), database=database
        )
