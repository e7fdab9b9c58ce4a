"""The admin role's connections: pooled to the maintenance database, safe everywhere.

Every admin session is immune to objects a tenant controls: the session's ``search_path`` is
``pg_catalog, pg_temp`` (set as a startup option, which outranks any ``ALTER DATABASE ... SET``
or ``ALTER ROLE ... SET`` a tenant made), so a tenant's functions, operators or views named
like the catalog's are never found; the statement, lock and idle timeouts are the broker's
own, not the tenant's; so are its role (a database's ``SET role`` would make the admin act
as the tenant), its encoding and its preloaded libraries (a missing one fails every login).
Queries also qualify catalog objects with ``pg_catalog.``.

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

        :raises BackendUnavailable: the server cannot be reached, or fails while in use.
        """
        try:
            conn = psycopg.connect(
                self._admin_url,
                dbname=dbname,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                options=SAFE_OPTIONS,
            )
        except psycopg.OperationalError as error:
            raise BackendUnavailable(UNREACHABLE) from error
        try:
            with conn:
                yield conn
        except psycopg.OperationalError as error:
            raise BackendUnavailable("PostgreSQL failed while serving the request.") from error
