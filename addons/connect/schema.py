"""The database objects of a connection, laid out exactly as Heroku Connect lays them out.

Per mapped object ``Obj``, in the connection's schema (``salesforce`` by default): a table
``obj`` (the API name lower-cased) with ``id serial`` primary key ``obj_pkey``, ``sfid
varchar(18)`` (unique index ``hcu_idx_obj_sfid``), ``systemmodstamp``, ``isdeleted``,
``createddate``, ``_hc_lastop varchar(32)``, ``_hc_err text``, then the mapped fields with
Heroku Connect's type mapping (:func:`column_type`), and ``hc_idx_obj_systemmodstamp``.
Once per schema: ``_trigger_log``, ``_trigger_log_archive``, ``_hcmeta``, ``_sf_event_log``
and the functions of :mod:`addons.connect.triggers`. Source: real ``pg_dump``s of Heroku
Connect schemas (reference/connect.md, section 1.2).

Everything here runs on the customer's database with the Postgres resource's own role (the
database owner): ``hstore`` is a trusted extension, so the owner may create it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql

from addons.connect import triggers

HCVER = 1
#: Version of the functions and triggers this module installs; a connection whose schema was
#: laid out by an older version gets them replaced on its next tick (tables are untouched).
LAYOUT = 2
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED_SCHEMAS = frozenset({"public", "information_schema"})
SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp", "CreatedDate")
#: Columns every mapped table has, before the mapped fields.
SYSTEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sfid", "character varying(18)"),
    ("systemmodstamp", "timestamp without time zone"),
    ("isdeleted", "boolean"),
    ("createddate", "timestamp without time zone"),
    ("_hc_lastop", "character varying(32)"),
    ("_hc_err", "text"),
)


def check_schema_name(name: str) -> str:
    """``name`` if it can be a Connect schema.

    :raises ValueError: not a lower-case identifier of at most 63 characters, or reserved.
    """
    if not SCHEMA_NAME.match(name) or name in RESERVED_SCHEMAS or name.startswith("pg_"):
        raise ValueError(
            "The schema name must be a lower-case identifier (letters, digits, _), at most 63 "
            "characters, and not public or pg_*."
        )
    return name


def table_name(object_name: str) -> str:
    """Heroku Connect's table name for an object: its API name lower-cased."""
    return object_name.lower()


def column_name(field_name: str) -> str:
    """The column of a Salesforce field: ``Id`` is ``sfid``, others are lower-cased."""
    return "sfid" if field_name == "Id" else field_name.lower()


def column_type(field: Mapping[str, Any]) -> str:
    """The Postgres type of a field from its describe entry (``type``, ``length``).

    Heroku Connect's mapping: id/reference varchar(18); string-like varchar(length);
    picklist varchar(255); multipicklist varchar(4099); textarea text; boolean; double,
    currency, percent double precision; int integer; date; datetime timestamp (UTC).
    """
    kind = str(field.get("type", "string"))
    length = int(field.get("length") or 0)
    if kind in ("id", "reference"):
        return "character varying(18)"
    if kind == "picklist":
        return "character varying(255)"
    if kind == "multipicklist":
        return "character varying(4099)"
    if kind == "textarea":
        return "text"
    if kind == "boolean":
        return "boolean"
    if kind in ("double", "currency", "percent"):
        return "double precision"
    if kind == "int":
        return "integer"
    if kind == "date":
        return "date"
    if kind == "datetime":
        return "timestamp without time zone"
    if kind == "time":
        return "time without time zone"
    if length > 0:
        return f"character varying({length})"
    return "character varying(255)"


def install(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the schema's shared objects (idempotent): extension, tables, functions."""
    s = sql.Identifier(schema)
    conn.execute("CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public")
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
    conn.execute(triggers.GET_XMLBINARY)
    log_columns = sql.SQL(
        "txid bigint, created_at timestamp with time zone {d}, "
        "updated_at timestamp with time zone {d}, processed_at timestamp with time zone, "
        "processed_tx bigint, state character varying(8), action character varying(7), "
        "table_name character varying(128), record_id integer, sfid character varying(18), "
        'old text, "values" text, sf_result integer, sf_message text'
    )
    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {}._trigger_log (id serial PRIMARY KEY, {})").format(
            s, log_columns.format(d=sql.SQL("DEFAULT now()"))
        )
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}._trigger_log_archive (id integer PRIMARY KEY, {})"
        ).format(s, log_columns.format(d=sql.SQL("")))
    )
    for statement in (
        "CREATE INDEX IF NOT EXISTS _trigger_log_idx_created_at ON {s}._trigger_log (created_at)",
        "CREATE INDEX IF NOT EXISTS _trigger_log_idx_state_id ON {s}._trigger_log (state, id)",
        "CREATE INDEX IF NOT EXISTS _trigger_log_idx_state_table_name ON {s}._trigger_log "
        "(state, table_name) WHERE state IN ('NEW', 'PENDING')",
        "CREATE INDEX IF NOT EXISTS _trigger_log_archive_idx_created_at "
        "ON {s}._trigger_log_archive (created_at)",
        "CREATE INDEX IF NOT EXISTS _trigger_log_archive_idx_record_id "
        "ON {s}._trigger_log_archive (record_id)",
        "CREATE INDEX IF NOT EXISTS _trigger_log_archive_idx_state_table_name "
        "ON {s}._trigger_log_archive (state, table_name) WHERE state = 'FAILED'",
        "CREATE TABLE IF NOT EXISTS {s}._hcmeta (id serial PRIMARY KEY, hcver integer, "
        "org_id character varying(50), details text)",
        "CREATE TABLE IF NOT EXISTS {s}._sf_event_log (id serial PRIMARY KEY, "
        "table_name character varying(128), action character varying(7), "
        "synced_at timestamp with time zone DEFAULT now(), "
        "sf_timestamp timestamp with time zone, sfid character varying(20), record text, "
        "processed boolean)",
        "CREATE INDEX IF NOT EXISTS idx__sf_event_log_comp_key ON {s}._sf_event_log "
        "(table_name, synced_at)",
        "CREATE INDEX IF NOT EXISTS idx__sf_event_log_sfid ON {s}._sf_event_log (sfid)",
    ):
        conn.execute(sql.SQL(statement).format(s=s))
    for function in triggers.schema_functions(schema):
        conn.execute(function)


class SchemaTaken(ValueError):
    """The schema already belongs to another connection; the message says so."""


def claim(conn: psycopg.Connection[Any], schema: str, connection_id: str) -> None:
    """Mark ``schema`` as ``connection_id``'s in ``_hcmeta`` (``details`` JSON
    ``{"connection": ...}``): two connections in one schema would share one trigger log and
    overwrite each other's tables.

    :raises SchemaTaken: another connection holds it (the caller's transaction rolls back).
    """
    s = sql.Identifier(schema)
    row = conn.execute(
        sql.SQL("SELECT id, details FROM {}._hcmeta ORDER BY id LIMIT 1 FOR UPDATE").format(s)
    ).fetchone()
    try:
        details = json.loads(row[1]) if row and row[1] else {}
    except ValueError:
        details = {}
    owner = details.get("connection") if isinstance(details, dict) else None
    if owner and owner != connection_id:
        raise SchemaTaken(
            f"Schema {schema} of that database is used by another Connect connection: choose "
            "another schema_name."
        )
    value = json.dumps(
        {**(details if isinstance(details, dict) else {}), "connection": connection_id}
    )
    if row is None:
        conn.execute(
            sql.SQL("INSERT INTO {}._hcmeta (hcver, details) VALUES (%s, %s)").format(s),
            (HCVER, value),
        )
    else:
        conn.execute(
            sql.SQL("UPDATE {}._hcmeta SET details = %s WHERE id = %s").format(s), (value, row[0])
        )


def release(conn: psycopg.Connection[Any], schema: str, connection_id: str) -> None:
    """Give up ``connection_id``'s claim on ``schema`` (when the connection goes away)."""
    conn.execute(
        sql.SQL("UPDATE {}._hcmeta SET details = NULL WHERE details = %s").format(
            sql.Identifier(schema)
        ),
        (json.dumps({"connection": connection_id}),),
    )


def record_meta(conn: psycopg.Connection[Any], schema: str, org_id: str, details: str) -> None:
    """Keep one ``_hcmeta`` row: the layout version, the org and a JSON of the mappings."""
    s = sql.Identifier(schema)
    updated = conn.execute(
        sql.SQL("UPDATE {}._hcmeta SET hcver = %s, org_id = %s, details = %s").format(s),
        (HCVER, org_id, details),
    )
    if updated.rowcount == 0:
        conn.execute(
            sql.SQL("INSERT INTO {}._hcmeta (hcver, org_id, details) VALUES (%s, %s, %s)").format(
                s
            ),
            (HCVER, org_id, details),
        )


def create_table(
    conn: psycopg.Connection[Any],
    schema: str,
    object_name: str,
    fields: Iterable[Mapping[str, Any]],
    *,
    read_write: bool,
) -> None:
    """Create (or widen) the mapped table, its fixed indexes and its triggers (idempotent);
    the mapping's other indexes are :func:`sync_indexes`'s.

    :param fields: describe entries of the mapped fields other than the system ones.
    """
    table = table_name(object_name)
    s, t = sql.Identifier(schema), sql.Identifier(table)
    columns: list[sql.Composable] = [sql.SQL("id serial NOT NULL")]
    columns += [
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(kind)) for n, kind in SYSTEM_COLUMNS
    ]
    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({}, CONSTRAINT {} PRIMARY KEY (id))").format(
            s, t, sql.SQL(", ").join(columns), sql.Identifier(f"{table}_pkey")
        )
    )
    for field in fields:
        name = column_name(str(field["name"]))
        if name in dict(SYSTEM_COLUMNS) or name == "id":
            continue
        conn.execute(
            sql.SQL("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS {} {}").format(
                s, t, sql.Identifier(name), sql.SQL(column_type(field))
            )
        )
    conn.execute(
        sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {}.{} (sfid)").format(
            sql.Identifier(f"hcu_idx_{table}_sfid"), s, t
        )
    )
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} (systemmodstamp)").format(
            sql.Identifier(f"hc_idx_{table}_systemmodstamp"), s, t
        )
    )
    for trigger in triggers.table_triggers(schema, table, read_write=read_write):
        conn.execute(trigger)


def index_name(table: str, field_name: str, *, unique: bool) -> str:
    """Heroku Connect's index name: ``hcu_idx_<table>_<column>`` (unique) or ``hc_idx_...``."""
    return f"{'hcu' if unique else 'hc'}_idx_{table}_{column_name(field_name)}"


def sync_indexes(
    conn: psycopg.Connection[Any],
    schema: str,
    object_name: str,
    wanted: Mapping[str, bool],
    previous: Mapping[str, bool],
) -> None:
    """Create the mapping's indexes (field -> unique) and drop those it no longer asks for.

    ``Id``'s and ``SystemModstamp``'s are :func:`create_table`'s and are not in these maps.
    """
    table = table_name(object_name)
    s = sql.Identifier(schema)
    for field_name, unique in previous.items():
        if wanted.get(field_name) != unique:
            conn.execute(
                sql.SQL("DROP INDEX IF EXISTS {}.{}").format(
                    s, sql.Identifier(index_name(table, field_name, unique=unique))
                )
            )
    for field_name, unique in wanted.items():
        conn.execute(
            sql.SQL("CREATE {} INDEX IF NOT EXISTS {} ON {}.{} ({})").format(
                sql.SQL("UNIQUE" if unique else ""),
                sql.Identifier(index_name(table, field_name, unique=unique)),
                s,
                sql.Identifier(table),
                sql.Identifier(column_name(field_name)),
            )
        )


def refresh_triggers(
    conn: psycopg.Connection[Any], schema: str, tables: Mapping[str, bool]
) -> None:
    """Reinstall the shared functions and each existing mapped table's triggers.

    :param tables: table name -> whether its mapping is read-write.
    """
    install(conn, schema)
    for table, read_write in tables.items():
        if table_exists(conn, schema, table):
            for trigger in triggers.table_triggers(schema, table, read_write=read_write):
                conn.execute(trigger)


def table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',)).fetchone()
    return bool(row and row[0])


def drop_table(conn: psycopg.Connection[Any], schema: str, object_name: str) -> None:
    """Drop a mapping's table, its trigger functions and its pending log rows."""
    table = table_name(object_name)
    s = sql.Identifier(schema)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(s, sql.Identifier(table)))
    for suffix in ("logger", "status"):
        conn.execute(
            sql.SQL("DROP FUNCTION IF EXISTS {}.{}()").format(
                s, sql.Identifier(f"hc_{table}_{suffix}")
            )
        )
    conn.execute(sql.SQL("DELETE FROM {}._trigger_log WHERE table_name = %s").format(s), (table,))


def schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    """Whether the connection's schema holds a trigger log."""
    return bool(
        conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"._trigger_log',)
        ).fetchone()[0]  # type: ignore[index]
    )
