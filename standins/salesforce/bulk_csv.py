"""Bulk API 2.0 result pages as CSV, built mostly inside SQLite.

Every value is quoted (``"..."``, inner quotes doubled), nulls are ``""``, booleans
``"true"``/``"false"`` and datetimes ``"2024-01-01T00:00:00.000Z"``: what the csv module wrote
before, byte for byte. Text, date, datetime, boolean and integer cells are formatted by SQLite
and joined with the delimiter in the query itself; only floating-point cells (currency,
double, percent) are formatted in Python, where ``str()`` gives the shortest form that reads
back as the same number (SQLite's text form keeps 15 digits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from standins.salesforce.schema import FieldDef, ObjectDef
from standins.salesforce.store import Org, quote

_REAL_TYPES = frozenset({"double", "currency", "percent"})


def _sql_cell(f: FieldDef) -> str:
    col = f"t.{quote(f.name)}"
    if f.type == "boolean":
        return f"""CASE WHEN {col} IS NULL THEN '""' WHEN {col} THEN '"true"' ELSE '"false"' END"""
    if f.type == "datetime":
        return (f"""CASE WHEN {col} IS NULL THEN '""' """
                f"""ELSE '"' || substr({col}, 1, length({col}) - 5) || 'Z"' END""")
    return f"""'"' || replace(COALESCE(CAST({col} AS TEXT), ''), '"', '""') || '"'"""


def _real_cell(value: Any) -> str:
    if value is None:
        return '""'
    if isinstance(value, float) and value.is_integer():
        return f'"{int(value)}"'
    return '"' + str(value).replace('"', '""') + '"'


def page(org: Org, cursor_id: str, obj: ObjectDef, fields: Sequence[FieldDef], start: int,
         count: int, delimiter: str, line_ending: str) -> tuple[str, int]:
    """Header and rows ``start+1 .. start+count`` of a cursor as CSV; and the row count."""
    quoted_delimiter = delimiter.replace("'", "''")
    slots: list[tuple[bool, str]] = []  # (is_real, SQL) in field order, text runs merged
    for f in fields:
        if f.type in _REAL_TYPES:
            slots.append((True, f"t.{quote(f.name)}"))
        elif slots and not slots[-1][0]:
            slots[-1] = (False, f"{slots[-1][1]} || '{quoted_delimiter}' || {_sql_cell(f)}")
        else:
            slots.append((False, _sql_cell(f)))
    sql = (f"SELECT {', '.join(expr for _, expr in slots)} "
           f"FROM query_cursor_row c JOIN {obj.table} t ON t.rowid = c.rid "
           "WHERE c.cursor_id = ? AND c.seq > ? AND c.seq <= ? ORDER BY c.seq")
    rows = org.db.execute(sql, (cursor_id, start, start + count)).fetchall()
    header = delimiter.join('"' + f.name.replace('"', '""') + '"' for f in fields)
    reals = [i for i, (is_real, _) in enumerate(slots) if is_real]
    line: Callable[[tuple[Any, ...]], str]
    if not reals:
        def line(row: tuple[Any, ...]) -> str:
            return str(row[0])
    else:
        real_set = frozenset(reals)
        def line(row: tuple[Any, ...]) -> str:
            return delimiter.join([_real_cell(v) if i in real_set else v
                                   for i, v in enumerate(row)])
    body = line_ending.join([header, *map(line, rows)]) + line_ending
    return body, len(rows)
