"""Postgres -> Salesforce for read-write mappings: the trigger log, in capture order.

One step (Heroku Connect's "Ordered Writes", reference/connect.md section 1.3):

1. **Reconcile** what a killed worker left in flight: log rows in state ``PENDING`` (their
   ``processed_tx`` is the batch id). Each is checked against Salesforce before anything is
   sent again: an INSERT with an upsert field value is looked up by that external id, one
   without by its values among records created since the claim; an UPDATE is looked up by
   ``sfid`` and counts as done when Salesforce holds the new values; a DELETE when the
   record is deleted. What Salesforce has is acknowledged; the rest goes back to ``NEW``.
2. **Claim** up to 200 ``NEW`` rows in ``id`` order (``FOR UPDATE SKIP LOCKED``), keep the
   leading run of one table and action, mark it ``PENDING`` with a batch id and commit,
   *then* call Salesforce: sObject Collections create/update/delete, or upsert by the
   mapping's external id field (idempotent by design).
3. **Acknowledge** in one transaction: ``sfid`` and ``_hc_lastop`` (``INSERTED``/``UPDATED``)
   written back, log rows ``SUCCESS`` moved to ``_trigger_log_archive``; a rejected record
   gets ``_hc_lastop = 'FAILED'`` and ``_hc_err`` (``{"op", "src": "SF", "code", "msg",
   "fields"}``) and its log row stays in ``_trigger_log`` as ``FAILED`` with ``sf_message``.
   Later rows go on.

A write is sent at most once: it is sent only from ``PENDING`` after a committed claim, and a
``PENDING`` row is only sent again after Salesforce was asked whether it already happened.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from addons.connect import states
from addons.connect.mappings import now_iso
from addons.connect.records import current_sfids, record_body
from addons.connect.salesforce import MAX_COLLECTION, OrgSession
from addons.connect.write_recovery import already_applied

_LOG_COLUMNS = (
    "id, action, table_name, record_id, sfid, updated_at, processed_tx, "
    'hstore_to_json("values"::hstore) AS new_values, hstore_to_json(old::hstore) AS old_values'
)


@dataclass
class WriteReport:
    """What a write step did: log rows sent, failed, and reconciled after a crash."""

    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    tables: set[str] = field(default_factory=set)


def _by_table(mappings: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {
        str(m["object_name"]).lower(): m
        for m in mappings.values()
        if m["config"]["access"] == "read_write" and m["state"] not in states.ERROR_STATES
    }


def write_step(
    conn: psycopg.Connection[Any],
    org: OrgSession,
    schema: str,
    mappings: Mapping[str, Mapping[str, Any]],
    max_batches: int = 10,
) -> WriteReport:
    """Reconcile, then send up to ``max_batches`` batches; see the module docstring."""
    report = WriteReport()
    writable = _by_table(mappings)
    _archive_unsendable(conn, schema)
    if not writable:
        return report
    _reconcile(conn, org, schema, writable, report)
    for _ in range(max_batches):
        batch = _claim(conn, schema, writable)
        if not batch:
            break
        mapping = writable[batch[0]["table_name"]]
        results = _send(org, mapping, batch, conn, schema)
        _acknowledge(conn, schema, mapping, batch, results, report)
    return report


def _archive_unsendable(conn: psycopg.Connection[Any], schema: str) -> None:
    """Move IGNORE and READONLY entries to the archive (nothing is sent for them)."""
    s = sql.Identifier(schema)
    conn.execute(
        sql.SQL(
            "WITH moved AS (DELETE FROM {s}._trigger_log WHERE state IN ('IGNORE', 'READONLY') "
            "RETURNING *) INSERT INTO {s}._trigger_log_archive SELECT * FROM moved"
        ).format(s=s)
    )
    conn.commit()


def _claim(
    conn: psycopg.Connection[Any], schema: str, writable: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Claim the leading run of one table and action among the oldest NEW rows."""
    s = sql.Identifier(schema)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL(
                "SELECT " + _LOG_COLUMNS + " FROM {s}._trigger_log WHERE state = 'NEW' "
                "AND table_name = ANY(%s) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
            ).format(s=s),
            (list(writable), MAX_COLLECTION),
        ).fetchall()
    run: list[dict[str, Any]] = []
    for row in rows:
        if run and (row["table_name"], row["action"]) != (run[0]["table_name"], run[0]["action"]):
            break
        run.append(row)
    if run:
        batch_id = secrets.randbits(62)
        conn.execute(
            sql.SQL(
                "UPDATE {s}._trigger_log SET state = 'PENDING', processed_tx = %s, "
                "updated_at = clock_timestamp() WHERE id = ANY(%s)"
            ).format(s=s),
            (batch_id, [r["id"] for r in run]),
        )
    conn.commit()  # the claim is durable before anything is sent
    return run


def _send(
    org: OrgSession,
    mapping: Mapping[str, Any],
    batch: list[dict[str, Any]],
    conn: psycopg.Connection[Any],
    schema: str,
) -> list[dict[str, Any]]:
    """One sObject Collections call for the batch; one result per log row, in order."""
    action, table = batch[0]["action"], batch[0]["table_name"]
    object_name = str(mapping["object_name"])
    if action == "INSERT":
        upsert_field = mapping["config"].get("upsert_field")
        bodies = [record_body(mapping, r["new_values"] or {}, creating=True) for r in batch]
        if upsert_field and all(b.get(upsert_field) not in (None, "") for b in bodies):
            records = [{"attributes": {"type": object_name}, **b} for b in bodies]
            return org.upsert(object_name, upsert_field, records)
        return org.create([{"attributes": {"type": object_name}, **b} for b in bodies])
    known = current_sfids(conn, schema, table, [r["record_id"] for r in batch])
    sfids = [r["sfid"] or known.get(r["record_id"]) for r in batch]
    results: list[dict[str, Any] | None] = [None] * len(batch)
    sendable = [i for i, sfid in enumerate(sfids) if sfid]
    for i, _ in enumerate(batch):
        if i not in sendable:
            results[i] = {
                "success": False,
                "errors": [
                    {
                        "statusCode": "MISSING_SFID",
                        "message": "The row has no Salesforce id yet (its insert failed).",
                    }
                ],
            }
    if sendable:
        if action == "UPDATE":
            records = [
                {
                    "attributes": {"type": object_name},
                    "id": sfids[i],
                    **record_body(mapping, batch[i]["new_values"] or {}, creating=False),
                }
                for i in sendable
            ]
            answers = org.update(records)
        else:
            answers = org.delete([str(sfids[i]) for i in sendable])
        for i, answer in zip(sendable, answers, strict=False):
            if action == "DELETE" and not answer.get("success"):
                codes = {e.get("statusCode") for e in answer.get("errors", [])}
                if codes & {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"}:
                    answer = {"id": sfids[i], "success": True, "errors": []}
            results[i] = {**answer, "id": answer.get("id") or sfids[i]}
    return [r or {"success": False, "errors": []} for r in results]


def _acknowledge(
    conn: psycopg.Connection[Any],
    schema: str,
    mapping: Mapping[str, Any],
    batch: list[dict[str, Any]],
    results: list[dict[str, Any]],
    report: WriteReport,
) -> None:
    s, t = sql.Identifier(schema), sql.Identifier(batch[0]["table_name"])
    done: list[int] = []
    for row, result in zip(batch, results, strict=True):
        action = row["action"]
        if result.get("success"):
            done.append(row["id"])
            report.sent += 1
            if action == "INSERT":
                conn.execute(
                    sql.SQL(
                        "UPDATE {}.{} SET sfid = %s, _hc_lastop = 'INSERTED', _hc_err = NULL "
                        "WHERE id = %s"
                    ).format(s, t),
                    (result.get("id"), row["record_id"]),
                )
            elif action == "UPDATE":
                conn.execute(
                    sql.SQL(
                        "UPDATE {s}.{t} SET _hc_lastop = 'UPDATED', _hc_err = NULL WHERE id = %s "
                        "AND NOT EXISTS (SELECT 1 FROM {s}._trigger_log l WHERE l.table_name = %s "
                        "AND l.record_id = %s AND l.state = 'NEW' AND l.id > %s)"
                    ).format(s=s, t=t),
                    (row["record_id"], row["table_name"], row["record_id"], row["id"]),
                )
            conn.execute(
                sql.SQL(
                    "UPDATE {}._trigger_log SET state = 'SUCCESS', sfid = %s, sf_result = 0, "
                    "processed_at = clock_timestamp() WHERE id = %s"
                ).format(s),
                (result.get("id"), row["id"]),
            )
            continue
        report.failed += 1
        error = (result.get("errors") or [{}])[0]
        code = str(error.get("statusCode") or error.get("errorCode") or "UNKNOWN")
        message = str(error.get("message") or "Salesforce refused the write.")
        detail = {
            "op": action,
            "src": "SF",
            "code": code,
            "msg": message,
            "fields": list(error.get("fields") or []),
        }
        if action != "DELETE":
            conn.execute(
                sql.SQL(
                    "UPDATE {}.{} SET _hc_lastop = 'FAILED', _hc_err = %s WHERE id = %s"
                ).format(s, t),
                (json.dumps(detail), row["record_id"]),
            )
        conn.execute(
            sql.SQL(
                "UPDATE {}._trigger_log SET state = 'FAILED', sf_result = 1, sf_message = %s, "
                "processed_at = clock_timestamp() WHERE id = %s"
            ).format(s),
            (f"{code}: {message}", row["id"]),
        )
    if done:
        conn.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM {s}._trigger_log WHERE id = ANY(%s) RETURNING *) "
                "INSERT INTO {s}._trigger_log_archive SELECT * FROM moved"
            ).format(s=s),
            (done,),
        )
    conn.commit()
    report.tables.add(batch[0]["table_name"])
    mapping["times"]["sf_write"] = now_iso()


def _reconcile(
    conn: psycopg.Connection[Any],
    org: OrgSession,
    schema: str,
    writable: Mapping[str, Mapping[str, Any]],
    report: WriteReport,
) -> None:
    """Settle the PENDING rows a killed worker left (see the module docstring)."""
    s = sql.Identifier(schema)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL(
                "SELECT " + _LOG_COLUMNS + " FROM {s}._trigger_log WHERE state = 'PENDING' "
                "ORDER BY id FOR UPDATE"
            ).format(s=s)
        ).fetchall()
    if not rows:
        conn.commit()
        return
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["table_name"], row["action"]), []).append(row)
    for (table, action), group in groups.items():
        mapping = writable.get(table)
        if mapping is None:
            continue
        found = already_applied(org, conn, schema, mapping, action, group)
        results = []
        for row in group:
            sfid = found.get(row["id"])
            results.append({"success": True, "id": sfid, "errors": []} if sfid else None)
        applied = [(r, res) for r, res in zip(group, results, strict=True) if res]
        if applied:
            _acknowledge(
                conn, schema, mapping, [r for r, _ in applied], [res for _, res in applied], report
            )
            report.sent -= len(applied)
            report.reconciled += len(applied)
        retry = [r["id"] for r, res in zip(group, results, strict=True) if not res]
        if retry:
            conn.execute(
                sql.SQL(
                    "UPDATE {}._trigger_log SET state = 'NEW', processed_tx = NULL "
                    "WHERE id = ANY(%s)"
                ).format(s),
                (retry,),
            )
    conn.commit()
