"""PostgreSQL objects of one data connector: its replication role, grants, publication, slot.

Privileges (see ``scripts/services/CONNECT_NOTES.md``): the admin is no superuser and cannot
create REPLICATION roles, so the superuser-owned ``marketplace_ops.create_replication_role``
function (database ``marketplace_ops``) makes them from a SCRAM verifier and makes the admin a
member. Grants and the publication are made as the tenant's owner (``SET ROLE``: it owns the
tables), the slot as the connector role (it has REPLICATION). Everything is idempotent: a
retried step finds what an earlier try made.

Table names are ``schema.table`` with plain identifiers (letters, digits, ``_``, ``$``; what
PostgreSQL stores for unquoted names, or quoted names that need no quoting); columns likewise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import sql

from addons.postgres.blockers import execute_past_tenants
from marketplace.adapters import BackendUnavailable, ProvisionRejected

OPS_DATABASE = "marketplace_ops"
#: Connections a connector role may hold: one Debezium 3.6 task holds 2 JDBC connections and
#: 1 WAL sender, plus 1 for heartbeat.action.query; the rest covers a task restart's overlap.
CONNECTOR_CONNECTION_LIMIT = 8
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
TABLE_NAME = re.compile(rf"({IDENTIFIER})\.({IDENTIFIER})")
COLUMN_NAME = re.compile(rf"({IDENTIFIER})\.({IDENTIFIER})\.({IDENTIFIER})")


def split_table(name: str) -> tuple[str, str]:
    """``schema.table`` as its two parts.

    :raises ProvisionRejected: not a ``schema.table`` name of plain identifiers.
    """
    match = TABLE_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ProvisionRejected(
            f"{str(name)[:80]!r} is not a table name: use schema.table (letters, digits, _)."
        )
    return match.group(1), match.group(2)


def split_column(name: str) -> tuple[str, str, str]:
    """``schema.table.column`` as its three parts.

    :raises ProvisionRejected: not a ``schema.table.column`` name of plain identifiers.
    """
    match = COLUMN_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ProvisionRejected(
            f"{str(name)[:80]!r} is not a column name: use schema.table.column."
        )
    return match.group(1), match.group(2), match.group(3)


def check_capture(
    conn: psycopg.Connection[Any], owner: str, tables: Sequence[str], excluded: Sequence[str]
) -> None:
    """Check, in the tenant's database, that each table is an ordinary or partitioned table
    owned by ``owner`` with a replica identity (a primary key, an index or ``FULL``: without
    one PostgreSQL refuses a published table's updates and deletes), and each excluded
    column is a column of a captured table.

    :raises ProvisionRejected: the first name that fails, said plainly.
    """
    for name in tables:
        schema, table = split_table(name)
        row = conn.execute(
            "SELECT c.relkind, pg_catalog.pg_get_userbyid(c.relowner), c.relreplident,"
            " EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
            " WHERE i.indrelid = c.oid AND i.indisprimary)"
            " FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            (schema, table),
        ).fetchone()
        if row is None or row[0] not in ("r", "p") or row[1] != owner:
            raise ProvisionRejected(f"This database has no table {name} that can be captured.")
        if not _has_replica_identity(str(row[2]), bool(row[3])):
            raise ProvisionRejected(
                f"Table {name} has no primary key (nor another replica identity): once "
                "published, PostgreSQL would refuse its updates and deletes. Add a primary "
                f"key, or run ALTER TABLE {name} REPLICA IDENTITY FULL, then try again."
            )
    for name in excluded:
        schema, table, column = split_column(name)
        if f"{schema}.{table}" not in tables:
            raise ProvisionRejected(f"Excluded column {name} is not in a captured table.")
        found = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c"
            " ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND a.attnum > 0"
            " AND NOT a.attisdropped",
            (schema, table, column),
        ).fetchone()
        if found is None:
            raise ProvisionRejected(f"Table {schema}.{table} has no column {column}.")


def _has_replica_identity(replident: str, has_primary_key: bool) -> bool:
    """Whether a table's updates and deletes can be published: ``relreplident`` is ``f``
    (full) or ``i`` (an index), or ``d`` (default) with a primary key; ``n`` never."""
    return replident in ("f", "i") or (replident == "d" and has_primary_key)


def create_role(conn: psycopg.Connection[Any], role: str, password: str) -> None:
    """Create the connector role, or reset its password (through the ops function: the
    verifier goes over the wire, never the password). ``conn`` is on ``marketplace_ops``.

    :raises BackendUnavailable: the function is missing or refuses the name (out of date).
    """
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    try:
        conn.execute(
            "SELECT marketplace_ops.create_replication_role(%s, %s, %s)",
            (role, verifier.decode(), CONNECTOR_CONNECTION_LIMIT),
        )
    except (psycopg.errors.InvalidParameterValue, psycopg.errors.UndefinedFunction) as error:
        # An older function (names mkt_c_* only) or none: the server's setup is behind.
        raise BackendUnavailable(
            "PostgreSQL cannot create data connector roles: its marketplace_ops function is "
            "missing or out of date (scripts/services/postgres.sh start installs it)."
        ) from error


def grant_and_publish(
    conn: psycopg.Connection[Any],
    database: str,
    owner: str,
    role: str,
    publication: str,
    tables: Sequence[str],
) -> None:
    """As ``owner``: let ``role`` connect and read exactly ``tables`` (revoking earlier
    grants on other tables), and make ``publication`` publish exactly ``tables``."""
    names = [split_table(name) for name in tables]
    idents = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in names)
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
        for schema in sorted({s for s, _ in names}):
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(role)
                )
            )
        for schema, table in _granted_tables(conn, role):
            if f"{schema}.{table}" not in tables:
                conn.execute(
                    sql.SQL("REVOKE ALL ON {} FROM {}").format(
                        sql.Identifier(schema, table), sql.Identifier(role)
                    )
                )
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(idents, sql.Identifier(role)))
        exists = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = %s", (publication,)
        ).fetchone()
        verb = (
            "ALTER PUBLICATION {} SET TABLE {}" if exists else "CREATE PUBLICATION {} FOR TABLE {}"
        )
        conn.execute(sql.SQL(verb).format(sql.Identifier(publication), idents))
        # A partitioned table's changes are published under its own name, not its
        # partitions' (which Debezium's include list does not name: they were dropped).
        conn.execute(
            sql.SQL("ALTER PUBLICATION {} SET (publish_via_partition_root = true)").format(
                sql.Identifier(publication)
            )
        )


def create_slot(conn: psycopg.Connection[Any], role: str, slot: str) -> None:
    """As ``role`` (REPLICATION): create the logical slot ``slot`` with pgoutput, which fixes
    the position the connector starts from. An existing slot is kept."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        exists = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
        if not exists:
            conn.execute(
                "SELECT pg_catalog.pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,)
            )


def end_wal_senders(conn: psycopg.Connection[Any], slots: Iterable[str]) -> None:
    """End the sessions streaming from ``slots`` (the admin has ``pg_signal_backend``)."""
    conn.execute(
        "SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots"
        " WHERE slot_name = ANY(%s) AND active_pid IS NOT NULL",
        (list(slots),),
    )


def drop_slot(conn: psycopg.Connection[Any], role: str, slot: str) -> None:
    """As ``role``: drop ``slot`` (from any database); a missing slot is fine. ``role`` must
    exist (see :func:`create_role`)."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        with suppress(psycopg.errors.UndefinedObject), conn.transaction():
            conn.execute("SELECT pg_catalog.pg_drop_replication_slot(%s)", (slot,))


def drop_publication(conn: psycopg.Connection[Any], publication: str) -> None:
    """As the publication's owner: drop it; a missing one is fine. ``conn`` is in its
    database. The owner (the tenant) holding it in an open transaction (an uncommitted
    ``ALTER PUBLICATION``) does not block this: see :mod:`addons.postgres.blockers`."""
    row = conn.execute(
        "SELECT pg_catalog.pg_get_userbyid(pubowner), pg_catalog.current_database()"
        " FROM pg_catalog.pg_publication WHERE pubname = %s",
        (publication,),
    ).fetchone()
    if row is None:
        return
    owner, database = row
    execute_past_tenants(
        conn,
        sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(publication)),
        database=database,
        as_role=owner,
    )


def slot_facts(
    conn: psycopg.Connection[Any], slots: Sequence[str]
) -> dict[str, tuple[bool, int | None, str | None, str]]:
    """``{slot: (active, lag bytes, wal_status, database)}`` from ``pg_replication_slots``;
    lag is the WAL between the server's position and what the slot's consumer confirmed."""
    rows = conn.execute(
        "SELECT slot_name, active,"
        " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,"
        " wal_status, database FROM pg_catalog.pg_replication_slots WHERE slot_name = ANY(%s)",
        (list(slots),),
    ).fetchall()
    return {
        str(name): (bool(active), None if lag is None else int(lag), wal, str(database or ""))
        for name, active, lag, wal, database in rows
    }


def most_published_tables(conn: psycopg.Connection[Any], publications: Sequence[str]) -> int:
    """The largest number of tables any of ``publications`` publishes (0 for none)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_publication_tables WHERE pubname = ANY(%s)"
        " GROUP BY pubname ORDER BY 1 DESC LIMIT 1",
        (list(publications),),
    ).fetchone()
    return int(row[0]) if row else 0


def _granted_tables(conn: psycopg.Connection[Any], role: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT DISTINCT n.nspname, c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,"
        " pg_catalog.aclexplode(c.relacl) a"
        " WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)",
        (role,),
    ).fetchall()
    return [(str(schema), str(table)) for schema, table in rows]
