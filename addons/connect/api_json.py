"""The Heroku Connect API v3 shapes of a connection, its mappings and its export document.

Field names follow Heroku's CLI and its test fixture (reference/connect.md, sections 1.6 and
1.8). A connection: ``{id, name, addon_id, resource_name, app_name, schema_name, db_key,
state, state_description, mappings_summary_state, organization_id, detail_url, sf_info{...},
plan, features{...}, large_query_threshold, bulk_page_size, soap_batch_size,
logplex_log_enabled, metrics{last_write_activity_time}, mappings[...]}`` (the CLI
fetches ``detail_url?deep=true``). A mapping: ``{id, object_name, state, state_description,
access, sf_polling_seconds, sf_notify_enabled, upsert_field, config{...}, counts{db, sf,
pending, errors}, times{sf_poll, sf_write, db_poll, db_write}, is_polling, actively_writing,
detail_url, errors_url, db_count_date, salesforce_count_date, has_hc_columns}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from addons.connect import states
from addons.connect.engine import EngineSettings, database_url, poll_floor
from addons.connect.figures import DbFigures, db_figures
from addons.connect.mappings import export_document, mapping_id
from addons.connect.schema import table_name
from addons.connect.sf_to_pg import BULK_PAGE_SIZE, LARGE_QUERY_THRESHOLD
from marketplace.adapters import ResourceRef

API_PATH = "/connect/api/v3"
#: Heroku Connect's connection ``features``, as this broker runs them: Ordered Writes
#: (``poll_db_no_merge``), REST writes only (``disable_bulk_writes``), nothing else.
FEATURES: dict[str, bool] = {
    "disable_bulk_writes": True,
    "poll_db_no_merge": True,
    "poll_external_ids": False,
    "rest_count_only": False,
    "ucs_basic_collation_index": False,
}
#: The add-on writes its sync lines to the app's log stream (see ``log_events``).
LOGPLEX_LOG_ENABLED = True


def _summary(mappings: Mapping[str, Mapping[str, Any]]) -> str:
    """``OK`` when every mapping is synced (or there are none), ``ERROR`` when one is in an
    error state, else ``SYNCING`` (loading or creating)."""
    found = {str(m["state"]) for m in mappings.values()}
    if found & states.ERROR_STATES:
        return "ERROR"
    return "OK" if found <= {states.DATA_SYNCED} else "SYNCING"


def mapping_json(
    ref: ResourceRef, mapping: Mapping[str, Any], figures: DbFigures, base_url: str = ""
) -> dict[str, Any]:
    """One mapping in the API shape."""
    table = table_name(str(mapping["object_name"]))
    config = mapping["config"]
    ident = mapping_id(ref.resource_id, str(mapping["object_name"]))
    pending = figures.pending.get(table, 0)
    counts = mapping.get("counts", {})
    return {
        "id": ident,
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
            "sf": counts.get("sf"),
            "pending": pending,
            "errors": figures.failed.get(table, 0),
        },
        "times": dict(mapping.get("times", {})),
        "is_polling": mapping["state"] == states.DATA_SYNCED,
        "actively_writing": config["access"] == "read_write" and pending > 0,
        "detail_url": f"{base_url}{API_PATH}/mappings/{ident}",
        "errors_url": f"{base_url}{API_PATH}/mappings/{ident}/errors",
        "db_count_date": _now() if figures.reachable else None,
        "salesforce_count_date": counts.get("sf_counted_at"),
        "has_hc_columns": True,
    }


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def connection_info(
    ref: ResourceRef, settings: EngineSettings, *, deep: bool, base_url: str = ""
) -> dict[str, Any]:
    """The connection in the Heroku Connect API v3 shape (mappings with ``deep``)."""
    state = ref.state
    connection = state.get("connection", {})
    sf = state.get("sf") or {}
    mappings = state.get("mappings", {})
    figures = db_figures(ref) if deep else DbFigures()
    body: dict[str, Any] = {
        "id": ref.resource_id,
        "name": ref.name or ref.resource_id,
        "addon_id": ref.resource_id,
        "resource_name": ref.name,
        "app_name": ref.app.name if ref.app else None,
        "schema_name": connection.get("schema", "salesforce"),
        "db_key": connection.get("db_key") if database_url(ref) else None,
        "state": connection.get("state", states.NEW),
        "state_description": connection.get("message"),
        "mappings_summary_state": _summary(mappings),
        "organization_id": sf.get("organization_id"),
        "detail_url": f"{base_url}{API_PATH}/connections/{ref.resource_id}",
        "sf_info": {
            "organization_id": sf.get("organization_id"),
            "environment": sf.get("environment"),
            "domain": sf.get("login_url"),
            "api_version": settings.api_version,
        }
        if sf
        else None,
        "plan": ref.plan.slug,
        "features": dict(FEATURES),
        "large_query_threshold": LARGE_QUERY_THRESHOLD,
        "bulk_page_size": BULK_PAGE_SIZE,
        "soap_batch_size": 200,
        "logplex_log_enabled": LOGPLEX_LOG_ENABLED,
        "min_poll_seconds": poll_floor(ref.plan.limits, settings),
        "api_calls_today": state.get("api", {}).get("calls", 0),
        "daily_api_calls": ref.plan.limits.get("daily_api_calls"),
        "metrics": {"last_write_activity_time": connection.get("last_write_activity_time")},
    }
    if deep:
        body["mappings"] = [
            mapping_json(ref, m, figures, base_url) for _, m in sorted(mappings.items())
        ]
    return body


def export(ref: ResourceRef, settings: EngineSettings) -> dict[str, Any]:
    """Heroku Connect's v1 export document."""
    sf = ref.state.get("sf") or {}
    connection = ref.state.get("connection", {})
    return export_document(
        {
            "app_name": ref.app.name if ref.app else None,
            "organization_id": sf.get("organization_id"),
            "name": f"{ref.app.name if ref.app else ''}:{connection.get('db_key') or ''}:"
            f"{ref.name or ref.resource_id}",
            "api_version": settings.api_version,
            "logplex_log_enabled": LOGPLEX_LOG_ENABLED,
            "features": dict(FEATURES),
        },
        ref.state.get("mappings", {}).values(),
    )
