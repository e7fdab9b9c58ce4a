"""What a customer (or the core on their behalf) can do to a connection: ``perform``'s actions.

- ``authorize`` (``environment``: production, sandbox or custom; ``domain``): redirects to
  the core's OAuth start (``/connect/oauth/start/<uuid>``), which signs the ``state``;
- ``authorize_url`` (``state``, ``redirect_uri``, ``login_url``; called by the core):
  redirects to Salesforce's authorize page;
- ``oauth_callback`` (``code``, ``nonce``, ``login_url``, ``redirect_uri``; called by the
  core): trades the code for tokens, once per nonce;
- ``set_schema`` (``schema_name``): before a database is linked;
- ``pause``, ``resume``, ``restart``: Heroku Connect's; restart also clears error states;
- ``create_mapping`` (``object_name``, ``access``, ``fields`` comma-separated,
  ``upsert_field``, ``sf_polling_seconds``): adds or changes a mapping (a changed field list
  or access reloads it);
- ``reload_mapping``, ``delete_mapping`` (``object_name``): reload clears and loads again;
  delete drops the table;
- ``import`` (``document``: the JSON text of a Heroku Connect export): creates or changes
  every mapping in it.

Errors are :class:`ProvisionRejected` (422, nothing changed).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from addons.connect import schema, states
from addons.connect.engine import EngineSettings, connect_db, database_url, poll_floor
from addons.connect.mappings import (
    MappingError,
    load_document,
    new_mapping,
    normalise_config,
    now_iso,
    parse_document,
)
from addons.connect.salesforce import (
    NeedAuthentication,
    OrgSession,
    SalesforceFailure,
    org_and_user,
)
from marketplace.adapters import ActionResult, ProvisionRejected, ResourceRef

MY_DOMAIN = re.compile(
    r"^[a-z0-9][a-z0-9-]{0,62}(\.(sandbox|develop|scratch))?\.my\.salesforce\.com$"
)
MAX_USED_NONCES = 50


class ConnectActions:
    """The action handlers, sharing the adapter's settings."""

    def __init__(self, settings: EngineSettings, base_url: str, login_url: str) -> None:
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._login_url = login_url.rstrip("/")

    def perform(self, ref: ResourceRef, action: str, params: Mapping[str, str]) -> ActionResult:
        """Run ``action`` (see the module docstring).

        :raises ProvisionRejected: unknown action or bad parameters; nothing changed.
        """
        handlers: dict[
            str, Callable[[ResourceRef, dict[str, Any], Mapping[str, str]], ActionResult]
        ] = {
            "authorize": self._authorize,
            "authorize_url": self._authorize_url,
            "oauth_callback": self._oauth_callback,
            "set_schema": self._set_schema,
            "pause": self._pause,
            "resume": self._resume,
            "restart": self._restart,
            "create_mapping": self._create_mapping,
            "reload_mapping": self._reload_mapping,
            "delete_mapping": self._delete_mapping,
            "import": self._import,
        }
        handler = handlers.get(action)
        if handler is None:
            raise ProvisionRejected(f"Unknown action {action!r}.")
        state = copy.deepcopy(dict(ref.state))
        state.setdefault("connection", {"state": states.NEW, "schema": "salesforce"})
        state.setdefault("mappings", {})
        return handler(ref, state, params)

    # --- login ------------------------------------------------------------------------------

    def login_url(self, environment: str, domain: str = "") -> str:
        """The login host for Heroku Connect's ``environment`` choice.

        :raises ProvisionRejected: an unknown environment or a domain that is not a My Domain.
        """
        if environment in ("", "production"):
            return self._login_url
        if environment == "sandbox":
            return "https://test.salesforce.com"
        if environment == "custom":
            host = domain.strip().lower().removeprefix("https://").rstrip("/")
            if not MY_DOMAIN.match(host):
                raise ProvisionRejected("A custom domain must be <name>.my.salesforce.com.")
            return f"https://{host}"
        raise ProvisionRejected("environment must be production, sandbox or custom.")

    def _allowed_login(self, login_url: str) -> str:
        """Only known login hosts ever see the connected app's secret."""
        url = login_url.rstrip("/")
        host = urlsplit(url).hostname or ""
        if url in (self._login_url, "https://login.salesforce.com", "https://test.salesforce.com"):
            return url
        if url == f"https://{host}" and MY_DOMAIN.match(host):
            return url
        raise ProvisionRejected("That is not a Salesforce login host this broker uses.")

    def _authorize(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        if not self._settings.oauth.configured:
            raise ProvisionRejected(
                "This broker has no Salesforce connected app configured "
                "(SALESFORCE_CLIENT_ID/SALESFORCE_CLIENT_SECRET)."
            )
        login = self.login_url(params.get("environment", "production"), params.get("domain", ""))
        return ActionResult(
            "Log in to Salesforce to authorize the connection.",
            redirect=f"{self._base_url}/connect/oauth/start/{ref.resource_id}"
            f"?login_url={quote(login, safe='')}",
        )

    def _authorize_url(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        login = self._allowed_login(params.get("login_url", self._login_url))
        if not params.get("redirect_uri") or not params.get("state"):
            raise ProvisionRejected("authorize_url needs a state and a redirect_uri.")
        url = self._settings.oauth.authorize_url(login, params["redirect_uri"], params["state"])
        return ActionResult("Log in to Salesforce.", redirect=url)

    def _oauth_callback(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        oauth = state.setdefault("oauth", {})
        used: list[str] = oauth.setdefault("used_nonces", [])
        nonce = params.get("nonce", "")
        if not nonce or nonce in used:
            raise ProvisionRejected("This authorization was already used; start it again.")
        login = self._allowed_login(params.get("login_url", self._login_url))
        try:
            tokens = self._settings.oauth.exchange(
                login, params.get("code", ""), params.get("redirect_uri", "")
            )
        except SalesforceFailure as error:
            raise ProvisionRejected(f"Salesforce refused the login: {error.message}") from error
        org_id, user_id = org_and_user(str(tokens.get("id", "")))
        used.append(nonce)
        del used[:-MAX_USED_NONCES]
        previous = state.get("sf") or {}
        if previous.get("refresh_token") and previous.get("refresh_token") != tokens.get(
            "refresh_token"
        ):
            self._settings.oauth.revoke(
                str(previous.get("login_url", login)), str(previous["refresh_token"])
            )
        state["sf"] = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "instance_url": tokens["instance_url"],
            "login_url": login,
            "issued_at": tokens.get("issued_at"),
            "organization_id": org_id,
            "user_id": user_id,
            "environment": "sandbox" if "test.salesforce.com" in login else "production",
            "authorized_at": now_iso(),
        }
        connection = state["connection"]
        if connection.get("state") in (states.NEW, states.NEED_AUTHENTICATION):
            connection["state"] = states.IDLE if database_url(ref) else states.NEW
        connection["message"] = None
        return ActionResult(f"Authorized Salesforce org {org_id}.", state=state, wake=True)

    # --- connection -------------------------------------------------------------------------

    def _set_schema(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        try:
            name = schema.check_schema_name(params.get("schema_name", "salesforce"))
        except ValueError as error:
            raise ProvisionRejected(str(error)) from error
        connection = state["connection"]
        if connection.get("schema", "salesforce") == name:
            return ActionResult(f"The schema is {name}.", state=state)
        if database_url(ref) is not None:
            raise ProvisionRejected("The schema cannot change once a database is linked.")
        connection["schema"] = name
        return ActionResult(f"The schema is now {name}.", state=state)

    def _pause(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        connection = state["connection"]
        if connection.get("state") == states.PAUSED:
            return ActionResult("The connection is already paused.", state=state)
        if connection.get("state") not in states.HEALTHY:
            raise ProvisionRejected(
                f"Only a working connection can pause (it is {connection.get('state')})."
            )
        connection["state"] = states.PAUSED
        return ActionResult(
            "Paused: Salesforce is not polled and nothing is written to it; database changes "
            "are still captured and go out on resume.",
            state=state,
        )

    def _resume(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        connection = state["connection"]
        if connection.get("state") != states.PAUSED:
            raise ProvisionRejected("The connection is not paused.")
        connection["state"] = states.IDLE
        return ActionResult("Resumed.", state=state, wake=True)

    def _restart(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        connection = state["connection"]
        if connection.get("state") in (states.PAUSED, states.NEED_AUTHENTICATION, states.NEW):
            raise ProvisionRejected(
                f"The connection is {connection.get('state')}; it cannot restart."
            )
        if database_url(ref) is None:
            raise ProvisionRejected("Link a database first.")
        connection["state"] = states.IDLE
        state.setdefault("api", {}).pop("backoff_until", None)
        for mapping in state["mappings"].values():
            if mapping["state"] in states.ERROR_STATES:
                mapping["state"] = (
                    states.RELOAD_TABLE if not mapping.get("cursor") else states.DATA_SYNCED
                )
                mapping["error"] = None
        return ActionResult("Restarted.", state=state, wake=True)

    # --- mappings ---------------------------------------------------------------------------

    def _org(self, state: dict[str, Any]) -> OrgSession:
        if not state.get("sf"):
            raise ProvisionRejected("Authorize a Salesforce org first.")
        return OrgSession(state["sf"], self._settings.oauth, self._settings.api_version)

    def _describe(self, org: OrgSession, object_name: str) -> dict[str, Any]:
        try:
            return org.describe(object_name)
        except NeedAuthentication as error:
            raise ProvisionRejected(
                "Salesforce refused the stored login: authorize again."
            ) from error
        except SalesforceFailure as error:
            raise ProvisionRejected(
                f"Salesforce has no object {object_name[:80]!r} ({error.code})."
            ) from error

    def apply_mapping(
        self,
        ref: ResourceRef,
        state: dict[str, Any],
        org: OrgSession,
        object_name: str,
        config: Mapping[str, Any],
    ) -> str:
        """Add or change one mapping in ``state``; return what happened."""
        describe = self._describe(org, object_name)
        try:
            stored, types = normalise_config(
                object_name,
                config,
                describe,
                poll_floor=poll_floor(ref.plan.limits, self._settings),
            )
        except MappingError as error:
            raise ProvisionRejected(str(error)) from error
        mappings = state["mappings"]
        current = mappings.get(object_name)
        if current is None:
            mappings[object_name] = new_mapping(object_name, stored, types)
            return f"Mapping {object_name} created."
        revision = int(current["config"].get("revision", 1)) + 1
        fields_changed = set(stored["fields"]) != set(current["config"]["fields"])
        access_changed = stored["access"] != current["config"]["access"]
        current["config"] = {**stored, "revision": revision}
        current["field_types"] = types
        if fields_changed or access_changed or current["state"] in states.ERROR_STATES:
            current["state"] = states.INITIAL
            current["cursor"] = None
            current["next_url"] = None
        return f"Mapping {object_name} updated."

    def _create_mapping(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        object_name = params.get("object_name", "").strip()
        config: dict[str, Any] = {
            "access": params.get("access", "read_only"),
            "fields": {f.strip(): {} for f in params.get("fields", "").split(",") if f.strip()},
            "upsert_field": params.get("upsert_field", "").strip() or None,
            "sf_polling_seconds": params.get("sf_polling_seconds") or 600,
        }
        org = self._org(state)
        try:
            message = self.apply_mapping(ref, state, org, object_name, config)
        finally:
            org.close()
        return ActionResult(message, state=state, wake=True)

    def _mapping(self, state: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        name = params.get("object_name") or params.get("name") or ""
        mapping = state["mappings"].get(name)
        if mapping is None:
            raise ProvisionRejected(f"There is no mapping of {name[:80]!r}.")
        return dict(mapping)

    def _reload_mapping(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        mapping = self._mapping(state, params)
        name = mapping["object_name"]
        state["mappings"][name].update(
            {"state": states.INITIAL, "cursor": None, "next_url": None, "error": None}
        )
        return ActionResult(f"Reloading {name}.", state=state, wake=True)

    def _delete_mapping(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        mapping = self._mapping(state, params)
        name = mapping["object_name"]
        url = database_url(ref)
        if url is not None and state["connection"].get("installed"):
            with connect_db(url) as conn:
                schema.drop_table(conn, state["connection"].get("schema", "salesforce"), name)
        del state["mappings"][name]
        return ActionResult(f"Mapping {name} deleted; its table was dropped.", state=state)

    def _import(
        self, ref: ResourceRef, state: dict[str, Any], params: Mapping[str, str]
    ) -> ActionResult:
        try:
            items = parse_document(load_document(params.get("document", "")))
        except MappingError as error:
            raise ProvisionRejected(f"Not a mapping document: {error}") from error
        org = self._org(state)
        try:
            messages = [self.apply_mapping(ref, state, org, name, config) for name, config in items]
        finally:
            org.close()
        return ActionResult(
            f"Imported {len(messages)} mapping(s): " + " ".join(messages), state=state, wake=True
        )
