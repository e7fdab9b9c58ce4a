"""Salesforce -> Postgres: the initial load (and reloads) and polling on ``SystemModstamp``.

- **Load** (mapping state ``RELOAD_TABLE``): rows that came from Salesforce are cleared, then
  ``SELECT <fields> FROM <Obj> ORDER BY SystemModstamp ASC`` is read page by page
  (``nextRecordsUrl``, kept in ``mapping["next_url"]`` so a restart resumes), or with one
  Bulk API 2.0 query job when ``COUNT()`` is above :data:`LARGE_QUERY_THRESHOLD` (Heroku
  Connect's ``large_query_threshold``).
- **Poll** (``DATA_SYNCED``): ``queryAll`` ``... WHERE SystemModstamp >= <cursor>`` so deleted
  records come back too (``IsDeleted = true``: their rows are deleted); the cursor is the
  largest ``SystemModstamp`` seen, so a restart repeats at most the records of that instant
  and the upsert makes the repeat a no-op.

Rows are staged with ``COPY`` into a temporary table and upserted on ``sfid``; all of it runs
in the engine's session (``xmlbinary = hex``), so the triggers neither capture these writes nor
mark them ``PENDING`` (they become ``SYNCED``). A row with a change of the app's not yet sent
(a ``NEW`` or ``PENDING`` entry in ``_trigger_log``) keeps it: the change goes to Salesforce
next and wins there. ``_hc_lastop = 'PENDING'`` alone does not hold a row back: an app's write
to a read-only mapping, or an UPDATE that changed nothing, leaves it ``PENDING`` with nothing
to send, and Salesforce's next change to the record must still arrive (as with Heroku
Connect, where the last writer wins).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from addons.connect import states
from addons.connect.mappings import mapped_fields, now_iso
from addons.connect.prefetch import read_ahead
from addons.connect.salesforce import OrgSession
from addons.connect.schema import column_name, table_name

LARGE_QUERY_THRESHOLD = 10_000
BULK_PAGE_SIZE = 20_000


class RowLimitReached(Exception):
    """Writing these rows would pass the plan's ``max_rows``."""


@dataclass
class RowBudget:
    """Rows the plan still allows across all mappings (decremented as rows are added)."""

    limit: int
    used: int

    @property
    def remaining(self) -> int:
        """How many more rows fit."""
        return max(self.limit - self.used, 0)


def soql(mapping: Mapping[str, Any], where: str = "") -> str:
    """The mapping's SOQL, oldest change first."""
    fields = ", ".join(mapped_fields(mapping))
    clause = f" WHERE {where}" if where else ""
    return f"SELECT {fields} FROM {mapping['object_name']}{clause} ORDER BY SystemModstamp ASC"


def soql_datetime(stamp: str) -> str:
    """A SOQL datetime literal from Salesforce's wire format (``...000+0000`` -> ``...000Z``)."""
    return stamp.replace("+0000", "Z")


def unsent(schema: str, table: str, alias: str) -> sql.Composed:
    """SQL true when the row ``alias`` of ``table`` has a change of the app's still to send."""
    return sql.SQL(
        "EXISTS (SELECT 1 FROM {s}._trigger_log l WHERE l.state IN ('NEW', 'PENDING') "
        "AND l.table_name = {t} AND l.record_id = {a}.id)"
    ).format(s=sql.Identifier(schema), t=sql.Literal(table), a=sql.Identifier(alias))


def _columns(mapping: Mapping[str, Any]) -> list[str]:
    return [column_name(f) for f in mapped_fields(mapping)]


def _stage(
    conn: psycopg.Connection[Any], schema: str, mapping: Mapping[str, Any]
) -> sql.Identifier:
    stage = sql.Identifier(f"hc_stage_{table_name(mapping['object_name'])}")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {}.{} WITH NO DATA").format(
            stage,
            sql.SQL(", ").join(map(sql.Identifier, _columns(mapping))),
            sql.Identifier(schema),
            sql.Identifier(table_name(mapping["object_name"])),
        )
    )
    return stage


def _merge(
    conn: psycopg.Connection[Any],
    schema: str,
    mapping: Mapping[str, Any],
    stage: sql.Identifier,
    budget: RowBudget,
) -> int:
    """Upsert the staged rows on ``sfid``; return how many rows were added or changed.

    :raises RowLimitReached: the new rows would pass the plan's limit (nothing written).
    """
    s, t = sql.Identifier(schema), sql.Identifier(table_name(mapping["object_name"]))
    columns = _columns(mapping)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    upsert_field = mapping["config"].get("upsert_field")
    # A row the app inserted whose write is still in flight has no sfid yet; its upsert field
    # already names the record: leave it to the write path instead of adding a twin.
    pending_twin: sql.Composable = sql.SQL("")
    if upsert_field:
        ext = sql.Identifier(column_name(upsert_field))
        pending_twin = sql.SQL(
            " AND NOT EXISTS (SELECT 1 FROM {s}.{t} x WHERE x.sfid IS NULL AND x.{e} = st.{e})"
        ).format(s=s, t=t, e=ext)
    added = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {st} st WHERE NOT EXISTS "
            "(SELECT 1 FROM {s}.{t} x WHERE x.sfid = st.sfid)"
        ).format(st=stage, s=s, t=t)
    ).fetchone()
    new_rows = int(added[0]) if added else 0
    if new_rows > budget.remaining:
        raise RowLimitReached(
            f"The plan allows {budget.limit} synced rows; {budget.used} are synced and "
            f"{new_rows} more came from Salesforce."
        )
    # An echo of the engine's own write (same data, new stamps) keeps INSERTED/UPDATED, which
    # apps poll for; the status trigger would otherwise make it SYNCED.
    data = [c for c in columns if c not in ("sfid", "systemmodstamp", "createddate", "isdeleted")]
    same = (
        sql.SQL("ROW({}) IS NOT DISTINCT FROM ROW({})").format(
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in data),
            sql.SQL(", ").join(sql.SQL("st.{}").format(sql.Identifier(c)) for c in data),
        )
        if data
        else sql.SQL("true")
    )
    conn.execute("DROP TABLE IF EXISTS hc_echo")
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE hc_echo ON COMMIT DROP AS SELECT t.id, t._hc_lastop FROM {s}.{t} t "
            "JOIN {st} st ON t.sfid = st.sfid WHERE t._hc_lastop IN ('INSERTED', 'UPDATED') "
            "AND {same}"
        ).format(s=s, t=t, st=stage, same=same)
    )
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns if c != "sfid"
    )
    result = conn.execute(
        sql.SQL(
            "INSERT INTO {s}.{t} AS t ({cols}) "
            "SELECT DISTINCT ON (sfid) {cols} FROM {st} st WHERE NOT COALESCE(isdeleted, false)"
            "{twin} ORDER BY sfid, systemmodstamp DESC "
            "ON CONFLICT (sfid) DO UPDATE SET {updates} "
            "WHERE NOT {unsent} "
            "AND t.systemmodstamp IS DISTINCT FROM EXCLUDED.systemmodstamp"
        ).format(
            s=s,
            t=t,
            cols=cols,
            st=stage,
            twin=pending_twin,
            updates=updates,
            unsent=unsent(schema, table_name(mapping["object_name"]), "t"),
        )
    )
    conn.execute(
        sql.SQL(
            "DELETE FROM {s}.{t} t USING {st} st WHERE st.isdeleted AND t.sfid = st.sfid"
        ).format(s=s, t=t, st=stage)
    )
    conn.execute(
        sql.SQL(
            "UPDATE {s}.{t} t SET _hc_lastop = e._hc_lastop FROM hc_echo e "
            "WHERE t.id = e.id AND t._hc_lastop = 'SYNCED'"
        ).format(s=s, t=t)
    )
    conn.execute("DROP TABLE hc_echo")
    budget.used += new_rows
    return int(result.rowcount or 0)


def write_records(
    conn: psycopg.Connection[Any],
    schema: str,
    mapping: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
    budget: RowBudget,
) -> tuple[int, str | None]:
    """Stage and merge REST records; return ``(rows changed, largest SystemModstamp)``."""
    fields = mapped_fields(mapping)
    stage = _stage(conn, schema, mapping)
    latest: str | None = None
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN").format(
            stage, sql.SQL(", ").join(map(sql.Identifier, _columns(mapping)))
        )
    ) as copy:
        for record in records:
            copy.write_row([_value(record.get(f)) for f in fields])
            stamp = record.get("SystemModstamp")
            if isinstance(stamp, str) and (latest is None or stamp > latest):
                latest = stamp
    return _merge(conn, schema, mapping, stage, budget), latest


def write_csv(
    conn: psycopg.Connection[Any],
    schema: str,
    mapping: Mapping[str, Any],
    page: str,
    budget: RowBudget,
    *,
    direct: bool = False,
) -> int:
    """Stage and merge one Bulk API 2.0 CSV page (header first, every value quoted).

    With ``direct`` (a load into an empty table) the page is copied straight into the table.

    :raises RowLimitReached: the page would pass the plan's row limit (roll back).
    """
    columns = sql.SQL(", ").join(map(sql.Identifier, _columns(mapping)))
    if direct:
        target = sql.SQL("{}.{}").format(
            sql.Identifier(schema), sql.Identifier(table_name(mapping["object_name"]))
        )
        with conn.cursor() as cur:
            with cur.copy(
                sql.SQL(
                    "COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NULL ({}))"
                ).format(target, columns, columns)
            ) as copy:
                copy.write(page.encode())
            added = int(cur.rowcount or 0)
        if added > budget.remaining:
            raise RowLimitReached(
                f"The plan allows {budget.limit} synced rows; {budget.used} are synced and "
                f"{added} more came from Salesforce."
            )
        budget.used += added
        return added
    stage = _stage(conn, schema, mapping)
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NULL ({}))").format(
            stage, columns, columns
        )
    ) as copy:
        copy.write(page.encode())
    return _merge(conn, schema, mapping, stage, budget)


def _value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return None  # compound fields are not mapped
    return value


def _largest_stamp(
    conn: psycopg.Connection[Any], schema: str, mapping: Mapping[str, Any]
) -> str | None:
    row = conn.execute(
        sql.SQL(
            'SELECT to_char(max(systemmodstamp), \'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\') FROM {}.{}'
        ).format(sql.Identifier(schema), sql.Identifier(table_name(mapping["object_name"])))
    ).fetchone()
    return row[0] if row and row[0] else None


def load_step(
    conn: psycopg.Connection[Any],
    org: OrgSession,
    schema: str,
    mapping: dict[str, Any],
    budget: RowBudget,
    seconds: float,
) -> bool:
    """Load for up to ``seconds``; return True when the load finished.

    :raises RowLimitReached: the plan's row limit; :raises SalesforceFailure: and friends.
    """
    started = time.monotonic()
    s, t = sql.Identifier(schema), sql.Identifier(table_name(mapping["object_name"]))
    if not mapping.get("next_url"):
        cleared = conn.execute(
            sql.SQL("DELETE FROM {}.{} x WHERE sfid IS NOT NULL AND NOT {}").format(
                s, t, unsent(schema, table_name(mapping["object_name"]), "x")
            )
        )
        budget.used = max(budget.used - int(cleared.rowcount or 0), 0)
        total = org.count(mapping["object_name"])
        mapping["counts"] = {"sf": total, "sf_counted_at": now_iso()}
        if total > LARGE_QUERY_THRESHOLD:
            mapping["state"] = states.WAIT_BULK_LOAD
            empty = conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {}.{})").format(s, t))
            direct = bool((empty.fetchone() or (False,))[0])
            pages = org.bulk_query(mapping["object_name"], soql(mapping), BULK_PAGE_SIZE)
            for page in read_ahead(pages):  # the next page downloads during this one's COPY
                write_csv(conn, schema, mapping, page, budget, direct=direct)
            conn.commit()
            return _finish_load(conn, schema, mapping)
        page_body = org.query(soql(mapping))
    else:
        page_body = org.query_more(str(mapping["next_url"]))
    while True:
        write_records(conn, schema, mapping, page_body.get("records", []), budget)
        next_url = page_body.get("nextRecordsUrl") if not page_body.get("done", True) else None
        mapping["next_url"] = next_url
        conn.commit()
        if not next_url:
            return _finish_load(conn, schema, mapping)
        if time.monotonic() - started > seconds:
            return False
        page_body = org.query_more(str(next_url))


def _finish_load(conn: psycopg.Connection[Any], schema: str, mapping: dict[str, Any]) -> bool:
    mapping["cursor"] = _largest_stamp(conn, schema, mapping)
    mapping["next_url"] = None
    mapping["state"] = states.DATA_SYNCED
    mapping["error"] = None
    mapping["times"]["sf_poll"] = now_iso()
    return True


def poll(
    conn: psycopg.Connection[Any],
    org: OrgSession,
    schema: str,
    mapping: dict[str, Any],
    budget: RowBudget,
) -> int:
    """One poll for changes and deletes since the cursor; return rows changed."""
    cursor = mapping.get("cursor")
    where = f"SystemModstamp >= {soql_datetime(str(cursor))}" if cursor else ""
    body = org.query(soql(mapping, where), include_deleted=True)
    changed = 0
    while True:
        count, latest = write_records(conn, schema, mapping, body.get("records", []), budget)
        changed += count
        if latest and (not mapping.get("cursor") or soql_datetime(latest) > str(mapping["cursor"])):
            mapping["cursor"] = soql_datetime(latest)
        conn.commit()
        if body.get("done", True) or not body.get("nextRecordsUrl"):
            break
        body = org.query_more(str(body["nextRecordsUrl"]))
    mapping["times"]["sf_poll"] = now_iso()
    if changed:
        mapping["times"]["db_write"] = now_iso()
    return changed
