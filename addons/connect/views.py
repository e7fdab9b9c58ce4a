"""What the dashboard and the Heroku Connect API read: connection and mapping figures.

The API's connection and mapping shapes are :mod:`addons.connect.api_json`'s; write errors
are ``{id, table_name, record_id, message, created_at}`` (Heroku Connect API v3,
reference/connect.md, section 1.8). Figures that need the database are left out (None) when it
cannot be reached; nothing here raises for that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from addons.connect import states
from addons.connect.api_json import mapping_json
from addons.connect.engine import EngineSettings, database_url, poll_floor
from addons.connect.figures import db_figures
from addons.connect.schema import table_name
from marketplace.adapters import (
    ActionField,
    ActionSpec,
    ResourceDetails,
    ResourceRef,
    Table,
    Usage,
    UsageMetric,
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
        info = mapping_json(ref, mapping, figures)
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
