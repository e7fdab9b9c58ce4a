"""Running queries, with query locators for paging (REST API Developer Guide, "Query").

A result page is ``{"totalSize": N, "done": false, "nextRecordsUrl":
"/services/data/v59.0/query/01gDn00000000001AAA-2000", "records": [...]}``; the last page has
``"done": true`` and no ``nextRecordsUrl``. A query whose result does not fit one batch gets a
cursor: the row ids of the whole result, in order, stored once, so later pages are a cheap
range read and the result stays stable while records change. As in Salesforce, a user keeps at
most 10 cursors (opening an 11th releases the oldest) and an unused cursor lapses after 15
minutes; a released one answers ``INVALID_QUERY_LOCATOR``.

``COUNT()`` answers ``{"totalSize": N, "done": true, "records": []}``; ``COUNT(field) [alias]``
one ``AggregateResult`` record with ``expr0`` (or the alias).
"""

from __future__ import annotations

import json
import time
from typing import Any

from standins.salesforce import ids, records
from standins.salesforce.errors import ApiError
from standins.salesforce.schema import FieldDef, ObjectDef
from standins.salesforce.soql_compile import Plan, plan
from standins.salesforce.store import Org, quote

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_CURSORS = 10
CURSOR_TTL_SECONDS = 15 * 60
LOCATOR_PREFIX = "01g"


def batch_size(header: str | None) -> int:
    """The page size from ``Sforce-Query-Options: batchSize=N`` (200..2000, default 2000)."""
    for option in (header or "").split(","):
        name, _, value = option.strip().partition("=")
        if name.strip() == "batchSize" and value.strip().isdigit():
            return max(MIN_BATCH, min(DEFAULT_BATCH, int(value.strip())))
    return DEFAULT_BATCH


def _count(org: Org, p: Plan) -> dict[str, Any]:
    limit = p.query.limit if p.query.limit is not None else -1
    count = p.query.count
    counted_field = p.obj.field(count.field.name) if count and count.field else None
    counted = quote(counted_field.name) if counted_field else "*"
    sql = (f"SELECT COUNT({counted}) FROM (SELECT * FROM {p.obj.table} WHERE {p.where} "
           "LIMIT ? OFFSET ?)")
    total = org.db.execute(sql, [*p.params, limit, p.query.offset or 0]).fetchone()[0]
    if count is None or counted_field is None:
        return {"totalSize": total, "done": True, "records": []}
    row = {"attributes": {"type": "AggregateResult"}, count.alias or "expr0": total}
    return {"totalSize": 1, "done": True, "records": [row]}


def matching_rowids(org: Org, p: Plan, cap: int | None = None) -> list[int]:
    """The rowids of the query's result, in order (at most ``cap`` of them)."""
    limit = p.query.limit if p.query.limit is not None else -1
    if cap is not None:
        limit = cap if limit < 0 else min(limit, cap)
    sql = (f"SELECT rowid FROM {p.obj.table} WHERE {p.where} ORDER BY {p.order} "
           "LIMIT ? OFFSET ?")
    return [r[0] for r in org.db.execute(sql, [*p.params, limit, p.query.offset or 0])]


def _columns(fields: list[FieldDef]) -> str:
    return ", ".join(['"Id"', *(quote(f.name) for f in fields)])


def _rows_by_rowid(org: Org, obj: ObjectDef, fields: list[FieldDef],
                   rowids: list[int]) -> list[tuple[Any, ...]]:
    if not rowids:
        return []
    marks = ", ".join("?" for _ in rowids)
    found = {
        row[0]: row[1:]
        for row in org.db.execute(
            f"SELECT rowid, {_columns(fields)} FROM {obj.table} WHERE rowid IN ({marks})",
            rowids,
        )
    }
    return [found[r] for r in rowids if r in found]


def cursor_rows(org: Org, cursor_id: str, obj: ObjectDef, fields: list[FieldDef], start: int,
                count: int) -> list[tuple[Any, ...]]:
    """Rows ``start+1 .. start+count`` of a cursor, each ``(Id, *fields)``."""
    sql = (f"SELECT {', '.join('t.' + c for c in _columns(fields).split(', '))} "
           f"FROM query_cursor_row c JOIN {obj.table} t ON t.rowid = c.rid "
           "WHERE c.cursor_id = ? AND c.seq > ? AND c.seq <= ? ORDER BY c.seq")
    return org.db.execute(sql, (cursor_id, start, start + count)).fetchall()


def open_cursor(org: Org, p: Plan, rowids: list[int], batch: int, *, pinned: bool) -> str:
    """Store a result's rowids under a new locator id; release old or surplus cursors."""
    now = time.time()
    cursor_id = org.mint(LOCATOR_PREFIX)[0]
    names = json.dumps([f.name for f in p.fields])
    org.db.execute(
        "INSERT INTO query_cursor (id, sobject, fields, total, batch_size, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (cursor_id, p.obj.name, names, len(rowids), batch, now if not pinned else -1),
    )
    org.db.executemany(
        "INSERT INTO query_cursor_row (cursor_id, seq, rid) VALUES (?, ?, ?)",
        ((cursor_id, seq, rid) for seq, rid in enumerate(rowids, start=1)),
    )
    _release_cursors(org, now)
    return cursor_id


def _release_cursors(org: Org, now: float) -> None:
    """Drop lapsed cursors and all but the newest ``MAX_CURSORS`` (bulk jobs' are pinned)."""
    live = org.db.execute(
        "SELECT id, created_at FROM query_cursor WHERE created_at >= 0 ORDER BY created_at DESC"
    ).fetchall()
    stale = [cid for n, (cid, used) in enumerate(live)
             if n >= MAX_CURSORS or used < now - CURSOR_TTL_SECONDS]
    for cid in stale:
        drop_cursor(org, cid)


def drop_cursor(org: Org, cursor_id: str) -> None:
    """Forget a cursor and its rows."""
    org.db.execute("DELETE FROM query_cursor_row WHERE cursor_id = ?", (cursor_id,))
    org.db.execute("DELETE FROM query_cursor WHERE id = ?", (cursor_id,))


def _page(obj: ObjectDef, fields: list[FieldDef], rows: list[tuple[Any, ...]],
          version: str) -> list[dict[str, Any]]:
    return [records.record_json(obj, fields, row[1:], version, row[0]) for row in rows]


def run_query(org: Org, text: str, version: str, *, include_deleted: bool,
              batch: int) -> dict[str, Any]:
    """Answer ``GET /query?q=`` or ``/queryAll?q=``: the first page, with a locator if needed."""
    p = plan(org.schema, text, include_deleted)
    endpoint = "queryAll" if include_deleted else "query"
    with org.transaction():
        if p.is_count:
            return _count(org, p)
        first = matching_rowids(org, p, cap=batch + 1)
        if len(first) <= batch:
            rows = _rows_by_rowid(org, p.obj, p.fields, first)
            return {"totalSize": len(rows), "done": True,
                    "records": _page(p.obj, p.fields, rows, version)}
        rowids = matching_rowids(org, p)
        cursor_id = open_cursor(org, p, rowids, batch, pinned=False)
        rows = cursor_rows(org, cursor_id, p.obj, p.fields, 0, batch)
    return {
        "totalSize": len(rowids),
        "done": False,
        "nextRecordsUrl": f"/services/data/v{version}/{endpoint}/{cursor_id}-{batch}",
        "records": _page(p.obj, p.fields, rows, version),
    }


def invalid_locator() -> ApiError:
    """400 ``INVALID_QUERY_LOCATOR``."""
    return ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


def query_more(org: Org, locator: str, version: str, endpoint: str) -> dict[str, Any]:
    """Answer ``GET /query/<locator>-<offset>``: the next page of an open cursor."""
    raw_id, _, offset_text = locator.partition("-")
    cursor_id = ids.normalize(raw_id)
    if not offset_text.isdigit() or cursor_id is None:
        raise invalid_locator()
    offset = int(offset_text)
    with org.transaction():
        row = org.db.execute(
            "SELECT sobject, fields, total, batch_size FROM query_cursor "
            "WHERE id = ? AND created_at >= 0", (cursor_id,)
        ).fetchone()
        if row is None or offset > row[2]:
            raise invalid_locator()
        sobject, names, total, batch = row
        obj = org.schema.get(sobject)
        assert obj is not None
        fields = [f for f in (obj.field(n) for n in json.loads(names)) if f is not None]
        rows = cursor_rows(org, cursor_id, obj, fields, offset, batch)
        org.db.execute("UPDATE query_cursor SET created_at = ? WHERE id = ?",
                       (time.time(), cursor_id))
    result: dict[str, Any] = {"totalSize": total, "done": offset + batch >= total}
    if not result["done"]:
        result["nextRecordsUrl"] = (f"/services/data/v{version}/{endpoint}/"
                                    f"{cursor_id}-{offset + batch}")
    result["records"] = _page(obj, fields, rows, version)
    return result
