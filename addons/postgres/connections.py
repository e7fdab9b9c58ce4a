"""The admin role's connections: pooled to the maintenance database, safe everywhere.

Every admin session is immune to objects a tenant controls: the session's ``search_path`` is
``pg_catalog, pg_temp`` (set as a startup option, which outranks any ``ALTER DATABASE ... SET``
or ``ALTER ROLE ... SET`` a tenant made), so a tenant's functions, operators or views named
like the catalog's are never found; the statement, lock and idle timeouts are the broker's
own, not the tenant's; so are its role (a database's ``SET role`` would make the admin act
as the tenant), its encoding and its preloaded libraries (a missing one fails every login).
Queries also qualify catalog objects with ``pg_catalog.``. A tenant database's owner cannot
shut the admin out either (see :meth:`AdminConnections.database`).

The connection to the maintenance database (the admin URL's) comes from a pool that keeps one
connection open, so the broker always has a way in, even while tenants use every connection
they were sold. Connections into a tenant's database are opened per call (one database each).
There is one pool per admin URL and process: created in the process that uses it (after
gunicorn forks), shared by every adapter object on that URL, replacing connections that broke
(a server restart), and closed at exit.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from marketplace.adapters import BackendUnavailable

CONNECT_TIMEOUT_SECONDS = 5
#: Startup options of every admin session (see the module docstring).
SAFE_OPTIONS = " ".join(
    (
        "-c search_path=pg_catalog,pg_temp",
        "-c statement_timeout=15000",
        "-c lock_timeout=5000",
        "-c idle_in_transaction_session_timeout=30000",
        "-c default_transaction_read_only=off",
        "-c default_transaction_isolation=read\\ committed",
        "-c role=none",
        "-c client_encoding=UTF8",
        "-c local_preload_libraries=",
    )
)
UNREACHABLE = "PostgreSQL is not reachable right now; try again shortly."


POOL_SIZE = 4
_pools: dict[tuple[str, int], ConnectionPool[psycopg.Connection[Any]]] = {}
_pools_lock = threading.Lock()


def shared_pool(admin_url: str) -> ConnectionPool[psycopg.Connection[Any]]:
    """This process's pool for ``admin_url`` (made on first use)."""
    key = (admin_url, os.getpid())
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            # A pool inherited through fork() shares sockets with the parent: never reuse it.
            pool = ConnectionPool(
                admin_url,
                min_size=1,
                max_size=POOL_SIZE,
                kwargs={
                    "autocommit": True,
                    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                    "options": SAFE_OPTIONS,
                },
                check=ConnectionPool.check_connection,
                reconnect_timeout=30,
                name="postgres-admin",
                open=True,
            )
            _pools[key] = pool
        return pool


@atexit.register
def close_pools() -> None:
    """Close this process's pools."""
    with _pools_lock:
        mine = [key for key in _pools if key[1] == os.getpid()]
        for key in mine:
            _pools.pop(key).close()


class AdminConnections:
    """Admin sessions on one server: pooled to ``admin_url``'s database, direct elsewhere."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url

    @contextmanager
    def maintenance(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled, autocommit admin session on the maintenance database.

        :raises BackendUnavailable: the server cannot be reached, or fails while in use.
        """
        try:
            with shared_pool(self._admin_url).connection(timeout=CONNECT_TIMEOUT_SECONDS) as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as error:
            raise BackendUnavailable(UNREACHABLE) from error

    @contextmanager
    def database(self, dbname: str) -> Iterator[psycopg.Connection[Any]]:
        """A direct, autocommit admin session on the tenant database ``dbname``.

        A database's owner can shut everyone out of it (revoke ``CONNECT``, forbid or cap
        connections); when that keeps the admin out, :meth:`let_admin_in` undoes it and the
        connection is tried once more, so no tenant escapes metering or blocks a removal.

        :raises BackendUnavailable: the server cannot be reached, or fails while in use.
        """
        try:
            conn = self._connect(dbname)
        except psycopg.OperationalError as error:
            if not self.let_admin_in(dbname):
                raise BackendUnavailable(UNREACHABLE) from error
            try:
                conn = self._connect(dbname)
            except psycopg.OperationalError as again:
                raise BackendUnavailable(UNREACHABLE) from again
        try:
            with conn:
                yield conn
        except psycopg.OperationalError as error:
            raise BackendUnavailable("PostgreSQL failed while serving the request.") from error

    def let_admin_in(self, dbname: str) -> bool:
        """Undo what keeps the admin out of ``dbname``, a database whose owner the admin is a
        member of: grant the admin ``CONNECT``, allow connections, lift a connection limit
        its sessions reached. Return whether anything changed."""
        with self.maintenance() as conn:
            row = conn.execute(
                "SELECT pg_catalog.has_database_privilege(d.oid, 'CONNECT'), d.datallowconn,"
                " d.datconnlimit >= 0 AND d.datconnlimit <= (SELECT pg_catalog.count(*)"
                "  FROM pg_catalog.pg_stat_activity a WHERE a.datid = d.oid)"
                " FROM pg_catalog.pg_database d WHERE d.datname = %s"
                " AND pg_catalog.pg_has_role(d.datdba, 'MEMBER')",
                (dbname,),
            ).fetchone()
            if row is None:  # no such database, or not a tenant's
                return False
            may_connect, allowed, full = row
            if not allowed or full:
                conn.execute(
                    sql.SQL(
                        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true CONNECTION LIMIT -1"
                    ).format(sql.Identifier(dbname))
                )
            if not may_connect:
                conn.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO CURRENT_USER").format(
                        sql.Identifier(dbname)
                    )
                )
        return not (may_connect and allowed and not full)

    def _connect(self, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self._admin_url,
            dbname=dbname,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            options=SAFE_OPTIONS,
        )
