"""What the customer's database says about a connection: rows per mapped table, pending and
failed writes, and the write errors of the last 24 hours. Nothing here raises when the
database cannot be reached: the figures are then empty (``reachable`` False)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import psycopg
from psycopg import sql

from addons.connect.engine import connect_db, database_url, rows_synced
from marketplace.adapters import AdapterError, ResourceRef


@dataclass
class DbFigures:
    """Per-table counts from the customer's database (empty when it cannot be reached)."""

    rows: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    reachable: bool = False


def _schema(ref: ResourceRef) -> str:
    return str(ref.state.get("connection", {}).get("schema") or "salesforce")


def db_figures(ref: ResourceRef) -> DbFigures:
    """Row counts, pending and failed writes, and the write errors of the last 24 h."""
    figures = DbFigures()
    url = database_url(ref)
    if url is None or not ref.state.get("connection", {}).get("installed"):
        return figures
    schema_name = _schema(ref)
    s = sql.Identifier(schema_name)
    try:
        with connect_db(url) as conn:
            figures.rows = rows_synced(conn, schema_name, ref.state.get("mappings", {}))
            for table, kind, count in conn.execute(
                sql.SQL(
                    "SELECT table_name, state, count(*) FROM {}._trigger_log "
                    "WHERE state IN ('NEW', 'PENDING', 'FAILED') GROUP BY 1, 2"
                ).format(s)
            ):
                target = figures.failed if kind == "FAILED" else figures.pending
                target[table] = target.get(table, 0) + int(count)
            rows = conn.execute(
                sql.SQL(
                    "SELECT id, table_name, record_id, action, sf_message, created_at FROM ("
                    "SELECT * FROM {s}._trigger_log WHERE state = 'FAILED' UNION ALL "
                    "SELECT * FROM {s}._trigger_log_archive WHERE state = 'FAILED') f "
                    "WHERE created_at > now() - interval '24 hours' ORDER BY created_at DESC "
                    "LIMIT 100"
                ).format(s=s)
            ).fetchall()
            figures.errors = [
                {
                    "id": r[0],
                    "table_name": r[1],
                    "record_id": r[2],
                    "action": r[3],
                    "message": r[4],
                    "created_at": r[5].astimezone(UTC).isoformat(),
                }
                for r in rows
            ]
            figures.reachable = True
    except (AdapterError, psycopg.Error):
        return figures
    return figures
