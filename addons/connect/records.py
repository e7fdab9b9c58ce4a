"""A captured row as Salesforce sees it: field values, create/update bodies, and the ``sfid``
each Postgres row already carries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from addons.connect.schema import SYSTEM_FIELDS, column_name


def sf_value(kind: str, text: str | None) -> Any:
    """A captured column value (hstore text) as Salesforce's JSON for a field of ``kind``."""
    if text is None:
        return None
    if kind == "boolean":
        return text in ("t", "true")
    if kind in ("double", "currency", "percent"):
        return float(text)
    if kind == "int":
        return int(text)
    if kind == "datetime":
        return text.replace(" ", "T") + ("" if text.endswith("Z") else "Z")
    return text


def record_body(
    mapping: Mapping[str, Any], values: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """The fields of a captured row Salesforce accepts in a create or update."""
    body: dict[str, Any] = {}
    for name, meta in mapping["field_types"].items():
        if name in SYSTEM_FIELDS or not meta.get("createable" if creating else "updateable"):
            continue
        column = column_name(name)
        if column not in values:
            continue
        value = sf_value(str(meta.get("type")), values[column])
        if creating and value is None:
            continue
        body[name] = value
    return body


def current_sfids(
    conn: psycopg.Connection[Any], schema: str, table: str, record_ids: Sequence[int]
) -> dict[int, str]:
    """Postgres row id -> ``sfid`` for the rows of ``table`` that have one."""
    rows = conn.execute(
        sql.SQL("SELECT id, sfid FROM {}.{} WHERE id = ANY(%s) AND sfid IS NOT NULL").format(
            sql.Identifier(schema), sql.Identifier(table)
        ),
        (list(record_ids),),
    ).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}
