"""The sync engine's tick: one short, resumable step of a connection's work.

A tick reads the adapter's state (connection state, tokens, mappings with their cursors),
connects to the linked database **with the Postgres resource's own credentials** (from the
link's current config, so a rotation never breaks the sync) in the engine's session
(``xmlbinary = hex``), and in this order:

1. installs the schema's shared objects and creates the tables of new mappings;
2. sends captured changes of read-write mappings (:mod:`.pg_to_sf`), when the plan's
   ``db_poll_seconds`` have passed; reconciling a killed worker's batch comes first, so a
   Salesforce poll never sees a half-acknowledged insert;
3. loads mappings in ``RELOAD_TABLE`` (time-boxed; the page cursor is in the state) and polls
   mappings whose ``sf_polling_seconds`` (never below the plan's floor) have passed.

It returns the new state and when to come back: the earliest due poll, or None when the
connection cannot work (``NEW``, ``NEED_AUTHENTICATION``, ``PAUSED``, ``DB_UNAVAILABLE``)
until an action wakes it. Salesforce's ``REQUEST_LIMIT_EXCEEDED`` and the plan's daily call
budget pause Salesforce calls (15 minutes, or until the next UTC day); database changes keep
being captured meanwhile.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from addons.connect import schema, states
from addons.connect.mappings import extra_indexes, now_iso
from addons.connect.pg_to_sf import write_step
from addons.connect.salesforce import (
    LimitExceeded,
    NeedAuthentication,
    OAuthClient,
    OrgSession,
    SalesforceFailure,
)
from addons.connect.sf_to_pg import RowBudget, RowLimitReached, load_step, poll
from addons.connect.triggers import ENGINE_OPTIONS
from marketplace.adapters import BackendUnavailable, ResourceRef, TickResult

log = logging.getLogger(__name__)

LOAD_SECONDS_PER_TICK = 20.0
LIMIT_BACKOFF_SECONDS = 900
MAX_ERRORS_KEPT = 50
STOPPED = frozenset({states.NEW, states.NEED_AUTHENTICATION, states.PAUSED, states.DB_UNAVAILABLE})


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs besides the resource: the OAuth client, API version, and the
    development override of the polling floor (0: the plan's)."""

    oauth: OAuthClient
    api_version: str
    min_poll_override: int = 0


def poll_floor(plan_limits: Mapping[str, int], settings: EngineSettings) -> int:
    """The fastest a mapping may poll Salesforce, in seconds."""
    if settings.min_poll_override > 0:
        return settings.min_poll_override
    return int(plan_limits.get("min_poll_seconds", 600))


def db_poll_seconds(plan_limits: Mapping[str, int], settings: EngineSettings) -> int:
    """How often the trigger log is read, in seconds."""
    seconds = int(plan_limits.get("db_poll_seconds", 30))
    if settings.min_poll_override > 0:
        seconds = min(seconds, settings.min_poll_override)
    return max(seconds, 1)


def parse_time(value: str | None) -> datetime | None:
    """An ISO time from the state (``...Z``), or None."""
    return datetime.fromisoformat(value) if value else None


def database_url(ref: ResourceRef) -> str | None:
    """The linked Postgres resource's current ``DATABASE_URL``, or None."""
    target = ref.links.get("database")
    return target.resource.config.get("DATABASE_URL") if target is not None else None


def connect_db(url: str) -> psycopg.Connection[Any]:
    """A connection in the engine's session (its writes are not captured).

    :raises BackendUnavailable: the database cannot be reached.
    """
    try:
        return psycopg.connect(url, options=ENGINE_OPTIONS, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise BackendUnavailable(
            f"The linked database cannot be reached ({type(error).__name__})."
        ) from error


def record_error(state: dict[str, Any], message: str, mapping: str | None = None) -> None:
    """Keep a sync error (newest last) for the dashboard and ``GET .../errors``."""
    errors = state.setdefault("errors", [])
    errors.append({"at": now_iso(), "mapping": mapping, "message": message[:500]})
    del errors[:-MAX_ERRORS_KEPT]


def rows_synced(
    conn: psycopg.Connection[Any], schema_name: str, mappings: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Rows in each mapped table (a missing table counts 0)."""
    counts: dict[str, int] = {}
    for name in mappings:
        table = schema.table_name(name)
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema_name}"."{table}"',)
        ).fetchone()
        if not exists or not exists[0]:
            counts[name] = 0
            continue
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema_name), sql.Identifier(table)
            )
        ).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def tick(ref: ResourceRef, settings: EngineSettings) -> TickResult:
    """One step of the connection's work (see the module docstring).

    :raises BackendUnavailable: the database cannot be reached (the worker backs off).
    """
    state: dict[str, Any] = copy.deepcopy(dict(ref.state))
    connection = state.setdefault("connection", {"state": states.NEW})
    if connection.get("state") in STOPPED:
        return TickResult(None, state)
    url = database_url(ref)
    if url is None or not state.get("sf"):
        connection["state"] = states.NEW if url else states.DB_UNAVAILABLE
        return TickResult(None, state)
    now = datetime.now(UTC)
    api = state.setdefault("api", {})
    if api.get("day") != now.date().isoformat():
        api.update({"day": now.date().isoformat(), "calls": 0})
    budget_calls = int(ref.plan.limits.get("daily_api_calls", 15000))
    backoff = parse_time(api.get("backoff_until"))
    sf_allowed = api["calls"] < budget_calls and (backoff is None or backoff <= now)
    org = OrgSession(state["sf"], settings.oauth, settings.api_version)
    mappings: dict[str, dict[str, Any]] = state.setdefault("mappings", {})
    schema_name = str(connection.get("schema", "salesforce"))
    try:
        with connect_db(url) as conn:
            _prepare(conn, schema_name, mappings, state)
            counts = rows_synced(conn, schema_name, mappings)
            budget = RowBudget(int(ref.plan.limits.get("max_rows", 10_000)), sum(counts.values()))
            if sf_allowed:
                _sync(conn, org, schema_name, mappings, state, budget, ref, settings, now)
            connection["rows"] = budget.used
    except NeedAuthentication as error:
        connection["state"] = states.NEED_AUTHENTICATION
        connection["message"] = "Salesforce refused the stored login: authorize the org again."
        record_error(state, f"{error.code}: {error.message}")
        return TickResult(None, state)
    except LimitExceeded as error:
        api["backoff_until"] = (now + timedelta(seconds=LIMIT_BACKOFF_SECONDS)).isoformat()
        record_error(state, f"{error.code}: {error.message}")
    except SalesforceFailure as error:
        record_error(state, f"{error.code}: {error.message}")
        _finish(state, org)
        return TickResult(60.0, state)
    except psycopg.Error as error:
        log.warning(
            "connect tick database error",
            extra={"resource": ref.resource_id, "error": type(error).__name__},
        )
        raise BackendUnavailable(f"The linked database failed ({type(error).__name__}).") from error
    finally:
        org.close()
    _finish(state, org)
    if not sf_allowed and api["calls"] >= budget_calls:
        connection["message"] = (
            f"The plan's daily budget of {budget_calls} Salesforce API calls is used up; "
            "sync resumes at midnight UTC."
        )
    elif (connection.get("message") or "").startswith("The plan's daily budget"):
        connection["message"] = None
    return TickResult(_next_in(state, ref, settings, now), state)


def _finish(state: dict[str, Any], org: OrgSession) -> None:
    api = state.setdefault("api", {})
    api["calls"] = int(api.get("calls", 0)) + org.calls
    if org.usage is not None:
        api["org_usage"] = list(org.usage)


def _prepare(
    conn: psycopg.Connection[Any],
    schema_name: str,
    mappings: dict[str, dict[str, Any]],
    state: dict[str, Any],
) -> None:
    connection = state["connection"]
    if not connection.get("installed") or connection.get("layout") != schema.LAYOUT:
        schema.refresh_triggers(
            conn,
            schema_name,
            {
                schema.table_name(name): m["config"]["access"] == "read_write"
                for name, m in mappings.items()
            },
        )
        connection.update({"installed": True, "layout": schema.LAYOUT})
    for name, mapping in mappings.items():
        created = mapping["state"] == states.INITIAL
        if created:
            config = mapping["config"]
            types = [t for n, t in mapping["field_types"].items() if n not in schema.SYSTEM_FIELDS]
            schema.create_table(
                conn,
                schema_name,
                name,
                types,
                read_write=config["access"] == "read_write",
            )
            mapping["state"] = states.RELOAD_TABLE
            mapping["next_url"] = None
        wanted = extra_indexes(mapping["config"])
        if (created or mapping.get("indexed") != wanted) and schema.table_exists(
            conn, schema_name, schema.table_name(name)
        ):
            schema.sync_indexes(conn, schema_name, name, wanted, mapping.get("indexed") or {})
            mapping["indexed"] = wanted
    conn.commit()


def _sync(
    conn: psycopg.Connection[Any],
    org: OrgSession,
    schema_name: str,
    mappings: dict[str, dict[str, Any]],
    state: dict[str, Any],
    budget: RowBudget,
    ref: ResourceRef,
    settings: EngineSettings,
    now: datetime,
) -> None:
    connection = state["connection"]
    last_db_poll = parse_time(connection.get("db_poll"))
    interval = db_poll_seconds(ref.plan.limits, settings)
    if last_db_poll is None or (now - last_db_poll).total_seconds() >= interval - 0.5:
        report = write_step(conn, org, schema_name, mappings)
        connection["db_poll"] = now.isoformat()
        for name, mapping in mappings.items():
            mapping["times"]["db_poll"] = now_iso()
            if schema.table_name(name) in report.tables:
                connection["last_write_activity_time"] = now_iso()
    connection["state"] = states.IDLE
    floor = poll_floor(ref.plan.limits, settings)
    for name, mapping in mappings.items():
        try:
            if mapping["state"] in (states.RELOAD_TABLE, states.WAIT_BULK_LOAD):
                connection["state"] = states.BUSY
                if load_step(conn, org, schema_name, mapping, budget, LOAD_SECONDS_PER_TICK):
                    connection["state"] = states.IDLE
            elif mapping["state"] == states.DATA_SYNCED and _poll_due(mapping, floor, now):
                poll(conn, org, schema_name, mapping, budget)
                _count_sf(org, mapping, now)
        except RowLimitReached as error:
            conn.rollback()
            mapping["state"] = states.ROW_LIMIT
            mapping["error"] = str(error)
            record_error(state, str(error), name)


def _poll_due(mapping: Mapping[str, Any], floor: int, now: datetime) -> bool:
    last = parse_time(mapping["times"].get("sf_poll"))
    interval = max(int(mapping["config"]["sf_polling_seconds"]), floor)
    return last is None or (now - last).total_seconds() >= interval - 0.5


def _count_sf(org: OrgSession, mapping: dict[str, Any], now: datetime) -> None:
    """Refresh the Salesforce row count at most every 10 minutes."""
    counted = parse_time(mapping["counts"].get("sf_counted_at"))
    if counted is None or (now - counted).total_seconds() >= 600:
        mapping["counts"] = {"sf": org.count(mapping["object_name"]), "sf_counted_at": now_iso()}


def _next_in(
    state: Mapping[str, Any], ref: ResourceRef, settings: EngineSettings, now: datetime
) -> float | None:
    connection = state["connection"]
    if connection.get("state") in STOPPED:
        return None
    mappings = state.get("mappings", {})
    if not mappings:
        return None
    if any(
        m["state"] in (states.RELOAD_TABLE, states.WAIT_BULK_LOAD, states.INITIAL)
        for m in mappings.values()
    ):
        return 0.0
    waits: list[float] = []
    backoff = parse_time(state.get("api", {}).get("backoff_until"))
    floor = poll_floor(ref.plan.limits, settings)
    for mapping in mappings.values():
        if mapping["state"] != states.DATA_SYNCED:
            continue
        last = parse_time(mapping["times"].get("sf_poll")) or now
        interval = max(int(mapping["config"]["sf_polling_seconds"]), floor)
        waits.append(max((last - now).total_seconds() + interval, 0.0))
        if mapping["config"]["access"] == "read_write":
            waits.append(float(db_poll_seconds(ref.plan.limits, settings)))
    if backoff is not None and backoff > now:
        waits = [max(w, (backoff - now).total_seconds()) for w in waits]
    return min(waits) if waits else None
