"""What the dashboard and the Heroku Connect API read: connection and mapping figures.

Shapes follow the Heroku Connect API v3 (reference/connect.md, section 1.8): a connection is
``{id, name, schema_name, db_key, state, organization_id, sf_info{...}, plan, features{...},
metrics{last_write_activity_time}, mappings[...]}``; a mapping ``{id, object_name, state,
state_description, access, sf_polling_seconds, upsert_field, config{...}, counts{db, sf,
pending, errors}, times{sf_poll, sf_write, db_poll, db_write}}``; write errors ``{id,
table_name, record_id, message, created_at}``. Figures that need the database are left out
(None) when it cannot be reached; nothing here raises for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from addons.connect import states
from addons.connect.engine import EngineSettings, connect_db, database_url, poll_floor, rows_synced
from addons.connect.mappings import export_document, mapping_id
from addons.connect.schema import table_name
from marketplace.adapters import (
    ActionField,
    ActionSpec,
    AdapterError,
    ResourceDetails,
    ResourceRef,
    Table,
    Usage,
    UsageMetric,
)


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


def _mapping_json(
    ref: ResourceRef, mapping: Mapping[str, Any], figures: DbFigures
) -> dict[str, Any]:
    table = table_name(str(mapping["object_name"]))
    config = mapping["config"]
    return {
        "id": mapping_id(ref.resource_id, str(mapping["object_name"])),
        "object_name": mapping["object_name"],
        "state": mapping["state"],
        "state_description": mapping.get("error") or states.mapping_label(mapping["state"]),
        "access": config["access"],
        "sf_polling_seconds": config["sf_polling_seconds"],
        "sf_notify_enabled": False,
        "upsert_field": config.get("upsert_field"),
        "config": dict(config),
        "counts": {
            "db": figures.rows.get(str(mapping["object_name"])) if figures.reachable else None,
            "sf": mapping.get("counts", {}).get("sf"),
            "pending": figures.pending.get(table, 0),
            "errors": figures.failed.get(table, 0),
        },
        "times": dict(mapping.get("times", {})),
        "is_polling": mapping["state"] == states.DATA_SYNCED,
    }


def connection_info(ref: ResourceRef, settings: EngineSettings, *, deep: bool) -> dict[str, Any]:
    """The connection in the Heroku Connect API v3 shape (mappings with ``deep``)."""
    state = ref.state
    connection = state.get("connection", {})
    sf = state.get("sf") or {}
    figures = db_figures(ref) if deep else DbFigures()
    body: dict[str, Any] = {
        "id": ref.resource_id,
        "name": ref.name or ref.resource_id,
        "resource_name": ref.name,
        "app_name": ref.app.name if ref.app else None,
        "schema_name": connection.get("schema", "salesforce"),
        "db_key": connection.get("db_key") if database_url(ref) else None,
        "state": connection.get("state", states.NEW),
        "state_description": connection.get("message"),
        "organization_id": sf.get("organization_id"),
        "sf_info": {
            "organization_id": sf.get("organization_id"),
            "environment": sf.get("environment"),
            "domain": sf.get("login_url"),
            "api_version": settings.api_version,
        }
        if sf
        else None,
        "plan": ref.plan.slug,
        "features": {"poll_db_no_merge": True, "disable_bulk_writes": True},
        "large_query_threshold": 10_000,
        "soap_batch_size": 200,
        "min_poll_seconds": poll_floor(ref.plan.limits, settings),
        "api_calls_today": state.get("api", {}).get("calls", 0),
        "daily_api_calls": ref.plan.limits.get("daily_api_calls"),
        "metrics": {"last_write_activity_time": connection.get("last_write_activity_time")},
    }
    if deep:
        body["mappings"] = [
            _mapping_json(ref, m, figures) for _, m in sorted(state.get("mappings", {}).items())
        ]
    return body


def mapping_info(ref: ResourceRef, object_name: str) -> dict[str, Any] | None:
    """One mapping in the API shape, or None."""
    mapping = ref.state.get("mappings", {}).get(object_name)
    return _mapping_json(ref, mapping, db_figures(ref)) if mapping else None


def export(ref: ResourceRef) -> dict[str, Any]:
    """Heroku Connect's v1 export document."""
    sf = ref.state.get("sf") or {}
    connection = ref.state.get("connection", {})
    return export_document(
        {
            "app_name": ref.app.name if ref.app else None,
            "organization_id": sf.get("organization_id"),
            "name": f"{ref.app.name if ref.app else ''}:{connection.get('db_key') or ''}:"
            f"{ref.name or ref.resource_id}",
            "features": {"poll_db_no_merge": True, "disable_bulk_writes": True},
        },
        ref.state.get("mappings", {}).values(),
    )


def write_errors(
    ref: ResourceRef, settings: EngineSettings, object_name: str | None = None
) -> list[dict[str, Any]]:
    """Write errors (from the trigger log) and sync errors of the last 24 h, newest first."""
    since = datetime.now(UTC) - timedelta(hours=24)
    table = table_name(object_name) if object_name else None
    found = [e for e in db_figures(ref).errors if table is None or e["table_name"] == table]
    for error in ref.state.get("errors", []):
        if datetime.fromisoformat(error["at"]) >= since and (
            object_name is None or error.get("mapping") == object_name
        ):
            found.append(
                {
                    "id": None,
                    "table_name": table_name(error["mapping"]) if error.get("mapping") else None,
                    "record_id": None,
                    "action": None,
                    "message": error["message"],
                    "created_at": error["at"],
                }
            )
    return sorted(found, key=lambda e: str(e["created_at"]), reverse=True)


def usage(ref: ResourceRef) -> Usage:
    """Rows synced and API calls today against the plan's limits."""
    api = ref.state.get("api", {})
    today = datetime.now(UTC).date().isoformat()
    calls = int(api.get("calls", 0)) if api.get("day") == today else 0
    rows = int(ref.state.get("connection", {}).get("rows") or 0)
    return Usage(
        (
            UsageMetric("rows", "Rows synced", rows, ref.plan.limits.get("max_rows")),
            UsageMetric(
                "api_calls",
                "Salesforce API calls today",
                calls,
                ref.plan.limits.get("daily_api_calls"),
            ),
        )
    )


def _short(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "never"


def details(ref: ResourceRef, settings: EngineSettings) -> ResourceDetails:
    """The dashboard's Connect panel."""
    state = ref.state
    connection = state.get("connection", {})
    sf = state.get("sf") or {}
    figures = db_figures(ref)
    facts: list[tuple[str, str]] = [
        ("Connection state", str(connection.get("state", states.NEW))),
        ("Schema", str(connection.get("schema", "salesforce"))),
        (
            "Database",
            str(connection.get("db_key") or "not linked") if database_url(ref) else "not linked",
        ),
        ("Salesforce org", str(sf.get("organization_id") or "not authorized")),
        ("Polling floor", f"{poll_floor(ref.plan.limits, settings)} s"),
    ]
    if connection.get("message"):
        facts.append(("Note", str(connection["message"])))
    mapping_rows = []
    for name, mapping in sorted(state.get("mappings", {}).items()):
        info = _mapping_json(ref, mapping, figures)
        counts, times = info["counts"], info["times"]
        mapping_rows.append(
            (
                name,
                mapping["config"]["access"],
                str(info["state_description"]),
                "-" if counts["db"] is None else str(counts["db"]),
                "-" if counts["sf"] is None else str(counts["sf"]),
                str(counts["pending"]),
                str(counts["errors"]),
                _short(times.get("sf_poll")),
                _short(times.get("sf_write")),
            )
        )
    error_rows = tuple(
        (
            str(e["created_at"])[:19],
            str(e["table_name"] or "-"),
            str(e["record_id"] or "-"),
            str(e["message"]),
        )
        for e in write_errors(ref, settings)[:20]
    )
    names = tuple((n, n) for n in sorted(state.get("mappings", {})))
    actions = [
        ActionSpec(
            "authorize",
            "Authorize Salesforce" if not sf else "Authorize again",
            (
                ActionField(
                    "environment",
                    "Org",
                    "select",
                    choices=(
                        ("production", "Production"),
                        ("sandbox", "Sandbox"),
                        ("custom", "Custom domain"),
                    ),
                ),
                ActionField(
                    "domain",
                    "My Domain (custom only)",
                    required=False,
                    placeholder="acme.my.salesforce.com",
                ),
            ),
        ),
        ActionSpec("pause", "Pause"),
        ActionSpec("resume", "Resume"),
        ActionSpec("restart", "Restart"),
        ActionSpec(
            "create_mapping",
            "Create or edit a mapping",
            (
                ActionField("object_name", "Object", placeholder="Contact"),
                ActionField("fields", "Fields (comma-separated)", placeholder="LastName, Email"),
                ActionField(
                    "access",
                    "Access",
                    "select",
                    choices=(("read_only", "Read only"), ("read_write", "Read/write")),
                ),
                ActionField("upsert_field", "Upsert field (External ID)", required=False),
                ActionField(
                    "sf_polling_seconds",
                    "Poll every (seconds)",
                    "number",
                    required=False,
                    placeholder="600",
                ),
            ),
        ),
        ActionSpec("reload_mapping", "Reload", confirm="Clear and load this table again?"),
    ]
    if names:
        actions.append(
            ActionSpec(
                "delete_mapping",
                "Delete a mapping",
                (ActionField("object_name", "Mapping", "select", choices=names),),
                confirm="Delete the mapping and drop its table?",
            )
        )
    return ResourceDetails(
        facts=tuple(facts),
        tables=(
            Table(
                "Mappings",
                (
                    "Object",
                    "Access",
                    "State",
                    "Rows in Postgres",
                    "Rows in Salesforce",
                    "Pending writes",
                    "Failed writes",
                    "Last poll",
                    "Last write",
                ),
                tuple(mapping_rows),
                row_action="reload_mapping",
                row_param="object_name",
            ),
            Table("Errors in the last 24 hours", ("Time", "Table", "Row", "Message"), error_rows),
        ),
        actions=tuple(actions),
    )
