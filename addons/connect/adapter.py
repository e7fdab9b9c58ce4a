"""The Connect adapter: contract core plus Linking, Background, Actions, Dashboard, Metering.

Nothing is created at provision time: the connection starts ``NEW`` and is set up by
linking a Postgres resource of the same app (the schema and Heroku Connect's objects are made
in it with **that resource's own credentials**), authorizing a Salesforce org (OAuth web-server
flow; tokens in the adapter's encrypted state) and adding mappings. Deprovisioning revokes the
Salesforce refresh token (which revokes its access tokens) and the engine stops with the
resource; the synced tables stay in the customer's database, which belongs to them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import psycopg

from addons.connect import log_events, states
from addons.connect.actions import ConnectActions
from addons.connect.api_json import connection_info, export
from addons.connect.engine import EngineSettings, connect_db, database_url, rows_synced
from addons.connect.engine import tick as engine_tick
from addons.connect.external_objects import ExternalObjects
from addons.connect.mappings import mapping_id
from addons.connect.schema import LAYOUT, SchemaTaken, claim, install, release
from addons.connect.spec import SPEC
from addons.connect.views import details, usage, write_errors
from marketplace.adapters import (
    ActionResult,
    AdapterError,
    BackendStatus,
    LinkedResource,
    PlanChangeRejected,
    PlanSpec,
    ProvisionRejected,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    TickResult,
    Usage,
)


class ConnectAdapter(ExternalObjects):
    """Salesforce <-> Postgres sync, compatible with Heroku Connect; External Objects (the
    linked database as an OData service) come from :class:`ExternalObjects`."""

    spec = SPEC
    #: Called by the core only, once it has checked the signed, session-bound OAuth state.
    core_actions = frozenset({"authorize_url", "oauth_callback"})

    def __init__(self, settings: EngineSettings, base_url: str, login_url: str) -> None:
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._actions = ConnectActions(settings, base_url, login_url)

    # --- contract ---------------------------------------------------------------------------

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """A connection in state ``NEW``; ``CONNECT_API_URL`` is its API address."""
        api_url = f"{self._base_url}/connect/api/v3/connections/{request.resource_id}"
        return ProvisionResult(
            {"CONNECT_API_URL": api_url},
            message="Connection created: link a database and authorize Salesforce.",
            state={"connection": {"state": states.NEW, "schema": "salesforce"}, "mappings": {}},
        )

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        """Check the synced rows against ``new_plan``; raise slow mappings to its floor.

        :raises PlanChangeRejected: more rows are synced than ``new_plan`` allows.
        """
        rows = int(resource.state.get("connection", {}).get("rows") or 0)
        url = database_url(resource)
        mappings = resource.state.get("mappings", {})
        if url is not None and mappings and resource.state.get("connection", {}).get("installed"):
            with connect_db(url) as conn:
                rows = sum(rows_synced(conn, self._schema(resource), mappings).values())
        limit = int(new_plan.limits["max_rows"])
        if rows > limit:
            raise PlanChangeRejected(
                f"{rows} rows are synced and plan {new_plan.slug} allows {limit}: delete "
                "mappings or choose a larger plan."
            )
        state = copy.deepcopy(dict(resource.state))
        floor = int(new_plan.limits["min_poll_seconds"])
        if self._settings.min_poll_override > 0:
            floor = self._settings.min_poll_override
        for mapping in state.get("mappings", {}).values():
            seconds = int(mapping["config"]["sf_polling_seconds"])
            mapping["config"]["sf_polling_seconds"] = max(seconds, floor)
        return ProvisionResult({}, message=f"Now on plan {new_plan.slug}.", state=state)

    def deprovision(self, resource: ResourceRef) -> None:
        """Revoke the Salesforce tokens; the synced tables stay in the customer's database."""
        self._release_schema(resource)
        tokens = resource.state.get("sf") or {}
        login = str(tokens.get("login_url") or "")
        for name in ("refresh_token", "access_token"):
            if tokens.get(name) and login:
                self._settings.oauth.revoke(login, str(tokens[name]))

    def check(self) -> BackendStatus:
        """Connect has no shared backend (each connection uses its own org and database)."""
        configured = self._settings.oauth.configured
        return BackendStatus(
            True,
            "connected app configured" if configured else "no Salesforce connected app configured",
        )

    # --- linking ----------------------------------------------------------------------------

    def link_attached(self, resource: ResourceRef, target: LinkedResource) -> ActionResult:
        """Install the schema in the linked database with its own role.

        :raises ProvisionRejected: the target has no ``DATABASE_URL``.
        :raises BackendUnavailable: the database cannot be reached.
        """
        url = target.resource.config.get("DATABASE_URL")
        if not url:
            raise ProvisionRejected("That Postgres resource has no DATABASE_URL yet.")
        schema_name = self._schema(resource)
        try:
            with connect_db(url) as conn:
                install(conn, schema_name)
                claim(conn, schema_name, resource.resource_id)
        except SchemaTaken as error:
            raise ProvisionRejected(str(error)) from error
        state = copy.deepcopy(dict(resource.state))
        connection = state.setdefault("connection", {})
        connection.update(
            {
                "installed": True,
                "layout": LAYOUT,
                "schema": schema_name,
                "message": None,
                "db_key": target.resource.name or target.resource.resource_id,
                "db_resource": target.resource.resource_id,
                "state": states.IDLE if state.get("sf") else states.NEW,
            }
        )
        for mapping in state.get("mappings", {}).values():
            mapping.update({"state": states.INITIAL, "cursor": None, "next_url": None})
        linked = ActionResult(
            f"Linked {target.resource.name or target.resource.resource_id}: schema "
            f"{schema_name} is ready.",
            state=state,
            wake=True,
        )
        return _logged(resource, linked)

    def link_removed(self, resource: ResourceRef, link: str) -> ActionResult:
        """The database went away: stop, and say so."""
        state = copy.deepcopy(dict(resource.state))
        connection = state.setdefault("connection", {})
        connection.update(
            {
                "state": states.DB_UNAVAILABLE,
                "installed": False,
                "message": "The linked database was removed; sync has stopped. Link another "
                "database to start again (mappings reload into it).",
            }
        )
        return _logged(resource, ActionResult(connection["message"], state=state))

    # --- background, actions, dashboard, metering ------------------------------------------

    def tick(self, resource: ResourceRef) -> TickResult:
        """One step of the sync engine (:mod:`addons.connect.engine`), with its log lines
        (:mod:`addons.connect.log_events`)."""
        result = engine_tick(resource, self._settings)
        lines = log_events.changes(resource.resource_id, resource.state, result.state)
        return replace(result, events=(*result.events, *lines))

    def perform(
        self, resource: ResourceRef, action: str, params: Mapping[str, str]
    ) -> ActionResult:
        """See :mod:`addons.connect.actions`."""
        return _logged(resource, self._actions.perform(resource, action, params))

    def details(self, resource: ResourceRef) -> ResourceDetails:
        """Connection state, mappings with counts and times, write errors of the last 24 h."""
        return details(resource, self._settings)

    def usage(self, resource: ResourceRef) -> Usage:
        """Rows synced and Salesforce API calls today against the plan."""
        return usage(resource)

    # --- the Heroku Connect API's reads (see marketplace.connect_api) ----------------------

    def connection_info(self, resource: ResourceRef, deep: bool = False) -> dict[str, Any]:
        """The connection in the Heroku Connect API v3 shape."""
        return connection_info(resource, self._settings, deep=deep, base_url=self._base_url)

    def export_mappings(self, resource: ResourceRef) -> dict[str, Any]:
        """Heroku Connect's v1 export document."""
        return export(resource, self._settings)

    def write_errors(
        self, resource: ResourceRef, object_name: str | None = None
    ) -> list[dict[str, Any]]:
        """Write errors and sync errors of the last 24 hours, newest first."""
        return write_errors(resource, self._settings, object_name)

    def mapping_id(self, resource: ResourceRef, object_name: str) -> str:
        """The API id of a mapping."""
        return mapping_id(resource.resource_id, object_name)

    def _release_schema(self, resource: ResourceRef) -> None:
        """Best effort: let another connection use the schema (the tables stay)."""
        url = database_url(resource)
        if url is None or not resource.state.get("connection", {}).get("installed"):
            return
        try:
            with connect_db(url) as conn:
                release(conn, self._schema(resource), resource.resource_id)
        except (AdapterError, psycopg.Error):
            return

    @staticmethod
    def _schema(resource: ResourceRef) -> str:
        return str(resource.state.get("connection", {}).get("schema") or "salesforce")


def _logged(resource: ResourceRef, result: ActionResult) -> ActionResult:
    """``result`` with the log lines of the state change it makes."""
    lines = log_events.changes(resource.resource_id, resource.state, result.state)
    return replace(result, events=(*result.events, *lines)) if lines else result
