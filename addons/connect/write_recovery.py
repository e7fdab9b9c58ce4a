"""After a killed worker: which in-flight writes Salesforce already holds.

A ``PENDING`` log row may or may not have reached Salesforce before the worker died. Before it
is sent again, Salesforce is asked (see :mod:`addons.connect.pg_to_sf`): an INSERT by its upsert
field's value or, without one, by its values among records created since the claim; an UPDATE
by ``sfid`` with the new values; a DELETE by whether the record is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from addons.connect.records import current_sfids, record_body
from addons.connect.salesforce import OrgSession


def soql_list(values: Sequence[str]) -> str:
    """``values`` as a SOQL ``IN`` list of quoted, escaped strings."""
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def already_applied(
    org: OrgSession,
    conn: psycopg.Connection[Any],
    schema: str,
    mapping: Mapping[str, Any],
    action: str,
    group: list[dict[str, Any]],
) -> dict[int, str]:
    """Log row id -> sfid for the rows of ``group`` Salesforce already holds."""
    object_name = str(mapping["object_name"])
    found: dict[int, str] = {}
    if action == "INSERT":
        upsert_field = mapping["config"].get("upsert_field")
        bodies = {
            r["id"]: record_body(mapping, r["new_values"] or {}, creating=True) for r in group
        }
        keyed = {rid: b.get(upsert_field) for rid, b in bodies.items()} if upsert_field else {}
        if keyed and all(v not in (None, "") for v in keyed.values()):
            answer = org.query(
                f"SELECT Id, {upsert_field} FROM {object_name} WHERE "
                f"{upsert_field} IN ({soql_list([str(v) for v in keyed.values()])})"
            )
            by_key = {str(r[upsert_field]): str(r["Id"]) for r in answer.get("records", [])}
            return {rid: by_key[str(v)] for rid, v in keyed.items() if str(v) in by_key}
        since = min(r["updated_at"] for r in group).strftime("%Y-%m-%dT%H:%M:%SZ")
        names = sorted({n for b in bodies.values() for n in b})
        answer = org.query(
            f"SELECT {', '.join(['Id', *names])} FROM {object_name} WHERE CreatedDate >= {since}"
        )
        taken = set(
            current_sfids(
                conn, schema, group[0]["table_name"], [r["record_id"] for r in group]
            ).values()
        )
        for rid, body in bodies.items():
            for record in answer.get("records", []):
                if record["Id"] not in taken and all(
                    str(record.get(k)) == str(v) for k, v in body.items()
                ):
                    found[rid] = str(record["Id"])
                    taken.add(str(record["Id"]))
                    break
        return found
    known = current_sfids(conn, schema, group[0]["table_name"], [r["record_id"] for r in group])
    sfids = {r["id"]: r["sfid"] or known.get(r["record_id"]) for r in group}
    ids = [str(v) for v in sfids.values() if v]
    if not ids:
        return found
    if action == "DELETE":
        answer = org.query(
            f"SELECT Id, IsDeleted FROM {object_name} WHERE Id IN ({soql_list(ids)})",
            include_deleted=True,
        )
        live = {str(r["Id"]) for r in answer.get("records", []) if not r.get("IsDeleted")}
        return {rid: str(sfid) for rid, sfid in sfids.items() if sfid and sfid not in live}
    bodies = {r["id"]: record_body(mapping, r["new_values"] or {}, creating=False) for r in group}
    names = sorted({n for b in bodies.values() for n in b})
    answer = org.query(
        f"SELECT Id{''.join(', ' + n for n in names)} FROM {object_name} "
        f"WHERE Id IN ({soql_list(ids)})"
    )
    records = {str(r["Id"]): r for r in answer.get("records", [])}
    for rid, sfid in sfids.items():
        record = records.get(str(sfid)) if sfid else None
        if record is not None and all(same(record.get(k), v) for k, v in bodies[rid].items()):
            found[rid] = str(sfid)
    return found


def same(held: Any, sent: Any) -> bool:
    """Whether Salesforce's value equals the one sent (numbers and stamps compared loosely)."""
    if isinstance(sent, float) and isinstance(held, int | float):
        return abs(float(held) - sent) < 1e-9
    if isinstance(sent, str) and isinstance(held, str) and "T" in sent and sent.endswith("Z"):
        return held[:19] == sent[:19]
    return bool(held == sent)
