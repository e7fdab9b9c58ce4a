"""How many connections the PostgreSQL server has left to sell.

Room is ``max_connections`` less the superusers' reserve and the operator's
``reserved_connections`` (the broker's own way in, and the server's other users). What is sold
is the sum of the connection limits of every role the broker made: tenant roles
(``<prefix>u_…``) and data connector roles (``<prefix>c_…``, whose Debezium tasks hold
ordinary connections beside their WAL sender).
"""

from __future__ import annotations

from typing import Any

import psycopg


def connection_room(
    conn: psycopg.Connection[Any], prefix: str, reserved: int, excluding: str
) -> int:
    """Connections not yet sold, not counting role ``excluding`` (the one being sized);
    may be negative when the server was made smaller."""
    row = conn.execute(
        "SELECT pg_catalog.current_setting('max_connections')::int"
        " - pg_catalog.current_setting('superuser_reserved_connections')::int,"
        " (SELECT COALESCE(pg_catalog.sum(rolconnlimit), 0) FROM pg_catalog.pg_roles"
        "  WHERE (starts_with(rolname, %s) OR starts_with(rolname, %s))"
        "  AND rolname <> %s AND rolconnlimit > 0)",
        (f"{prefix}u_", f"{prefix}c_", excluding),
    ).fetchone()
    server, sold = (int(row[0]), int(row[1])) if row else (0, 0)
    return server - reserved - sold
