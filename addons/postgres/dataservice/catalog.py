"""Tables, views, columns and keys of a tenant database, read from ``pg_catalog``.

A table can be shared when it has a primary key; a view or materialized view when it has a
column named ``id`` (taken as unique; views are read-only). Its schema and name must be
identifiers (:func:`is_identifier`: the entity set ``schema$table`` is an OData name), and so
must its key columns' names; a numeric key column needs a precision of at most 15 digits
(decimals travel as doubles, so a wider key would lose its identity). Columns are typed with
data.py's portable types (:data:`PORTABLE_TYPES`; enums travel as strings); columns of other
types (arrays, bytea, intervals, geometry, ...) and columns whose names are not identifiers
are not served.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from marketplace.adapters.data import CandidateKind, Column, EntitySet

#: Postgres type name -> portable column type (data.py). Others are not served.
PORTABLE_TYPES = {
    "int2": "int16",
    "int4": "int32",
    "int8": "int64",
    "numeric": "decimal",
    "float4": "double",
    "float8": "double",
    "bool": "boolean",
    "text": "string",
    "varchar": "string",
    "bpchar": "string",
    "name": "string",
    "citext": "string",
    "date": "date",
    "timestamp": "datetime",
    "timestamptz": "datetimeoffset",
    "time": "time",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "json",
}
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
#: The most significant digits a decimal key may have (it travels as a double).
MAX_KEY_DIGITS = 15
_IDENTIFIER = re.compile(r"[^\W\d]\w{0,127}")

# One row per column of every ordinary/partitioned table, view and materialized view outside
# the system schemas (all of them, or those in %(tables)s); domains resolve to their base type.
_CATALOG = """
SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind, a.attname AS column,
       bt.typname AS type, bt.typtype AS typtype,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       a.attnotnull AS not_null, pg_catalog.format_type(a.atttypid, a.atttypmod) AS declared,
       pg_catalog.array_position(pk.conkey, a.attnum) AS key_position,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable,
       a.attgenerated <> '' OR a.attidentity = 'a' AS computed
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  JOIN pg_catalog.pg_type bt
    ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
 WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
   AND n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE 'pg\\_%%'
   AND (%(tables)s::text[] IS NULL OR n.nspname || '.' || c.relname = ANY(%(tables)s::text[]))
 ORDER BY n.nspname, c.relname, a.attnum
"""


@dataclass(frozen=True)
class TableInfo:
    """One table or view: ``schema.table``, its kind, why it cannot be shared (None when it
    can), and its entity set when it can."""

    name: str
    kind: CandidateKind
    reason: str | None
    entity_set: EntitySet | None


def is_identifier(name: str) -> bool:
    """A CSDL SimpleIdentifier, near enough: a Unicode letter or ``_`` then letters, digits
    and ``_`` (no spaces, punctuation, ``$`` or dots), at most 128 characters."""
    return _IDENTIFIER.fullmatch(name) is not None


def entity_set_name(table: str) -> str:
    """``schema.table`` -> ``schema$table`` (Heroku External Objects' entity set names)."""
    schema, _, name = table.partition(".")
    return f"{schema}${name}"


def describe_tables(
    conn: psycopg.Connection[Any], tables: Sequence[str] | None
) -> dict[str, TableInfo]:
    """Every table and view (``tables`` None) or those named ``schema.table``, by name."""
    rows = conn.execute(
        _CATALOG, {"system": list(SYSTEM_SCHEMAS), "tables": list(tables) if tables else None}
    ).fetchall()
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:  # by (schema, table): "a.b"."c" and "a"."b.c" are two tables
        grouped.setdefault((row["schema"], row["table"]), []).append(row)
    return {f"{s}.{t}": _describe_table(s, t, columns) for (s, t), columns in grouped.items()}


def _describe_table(schema: str, table: str, columns: Sequence[Mapping[str, Any]]) -> TableInfo:
    name = f"{schema}.{table}"
    is_view = columns[0]["kind"] in ("v", "m")
    served = {c.name: c for c in (_column_of(row) for row in columns) if c is not None}
    declared = {row["column"]: row["declared"] for row in columns}
    if is_view:
        key: tuple[str, ...] = ("id",) if "id" in declared else ()
    else:
        keyed = sorted((r for r in columns if r["key_position"]), key=lambda r: r["key_position"])
        key = tuple(r["column"] for r in keyed)
    kind: CandidateKind = "view" if is_view else "table"
    reason = _refusal(schema, table, columns[0]["readable"], is_view, key, served, declared)
    if reason is not None:
        return TableInfo(name, kind, reason, None)
    typed = tuple(
        replace(c, nullable=False) if c.name in key else c
        for c in served.values()
        if c.name in key or is_identifier(c.name)
    )
    return TableInfo(name, kind, None, EntitySet(entity_set_name(name), typed, key, not is_view))


def _refusal(
    schema: str,
    table: str,
    readable: bool,
    is_view: bool,
    key: tuple[str, ...],
    served: Mapping[str, Column],
    declared: Mapping[str, str],
) -> str | None:
    """Why the table cannot be shared, or None."""
    unserved = [k for k in key if k not in served]
    odd_key = [k for k in key if not is_identifier(k)]
    wide_key = [k for k in key if k in served and _too_wide(served[k])]
    if not readable:
        return "the database's role may not read it"
    if not (is_identifier(schema) and is_identifier(table)):
        return (
            "its schema and table names must be identifiers (letters, digits and _, not"
            " starting with a digit) to make an OData entity set name"
        )
    if not key:
        return "a view needs a column named id" if is_view else "it has no primary key"
    if unserved:
        return f"key column {unserved[0]} has type {declared[unserved[0]]}, not served by OData"
    if odd_key:
        return f"key column {odd_key[0]!r} is not an identifier OData can name"
    if wide_key:
        return (
            f"key column {wide_key[0]} is {declared[wide_key[0]]}: OData serves decimals as"
            f" doubles, so a key needs at most {MAX_KEY_DIGITS} digits of precision"
        )
    return None


def _too_wide(column: Column) -> bool:
    """A decimal whose values a double cannot tell apart (unconstrained or > 15 digits)."""
    precision = column.precision
    return column.type == "decimal" and (precision is None or precision > MAX_KEY_DIGITS)


def _column_of(row: Mapping[str, Any]) -> Column | None:
    """A catalog row as a portable :class:`Column` (None for types OData cannot serve)."""
    portable = PORTABLE_TYPES.get(row["type"])
    if portable is None and row["typtype"] == "e":
        portable = "string"  # enums travel as their labels
    if portable is None:
        return None
    typmod = int(row["typmod"])
    max_length = precision = scale = None
    if row["type"] in ("varchar", "bpchar") and typmod >= 4:
        max_length = typmod - 4
    if portable == "decimal" and typmod >= 4:
        # numeric's typmod: precision in the high 16 bits, scale a signed 11-bit number
        # (PostgreSQL 15 allows numeric(5,-2), rounding to hundreds, and numeric(2,5))
        precision = ((typmod - 4) >> 16) & 0xFFFF
        scale = (((typmod - 4) & 0x7FF) ^ 0x400) - 0x400
        if scale < 0:  # numeric(5,-2) holds up to 7 digits, none after the point
            precision, scale = precision - scale, 0
        precision = max(precision, scale)
    nullable = not row["not_null"]
    computed = bool(row["computed"])
    return Column(row["column"], portable, nullable, max_length, precision, scale, computed)
