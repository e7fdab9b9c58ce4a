"""Connect's API v3 and CLI: connections of adapters that speak the Heroku Connect API.

The core does not read an adapter's private state; an adapter that offers this API implements
:class:`ConnectionApi` (reads) and the actions of its ``perform`` (writes, which go through
:func:`marketplace.services.dashboard.perform_action`: row lock, state stored, tick woken).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from marketplace.adapters import AddonAdapter
from marketplace.errors import MarketplaceError, NotFound, Unprocessable
from marketplace.models import Resource, ResourceState
from marketplace.services import links, oauth_state
from marketplace.services.dashboard import ActionOutcome, live_resource, perform_action
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.scheduling import Scheduler

DATABASE_LINK = "database"
#: A Heroku config var name (``DATABASE_URL``, ``HEROKU_POSTGRESQL_RED_URL``): Heroku Connect's
#: ``db_key`` names the database that way.
CONFIG_VAR = re.compile(r"^[A-Z][A-Z0-9_]{0,62}_URL$")


@runtime_checkable
class ConnectionApi(Protocol):
    """Reads of the Heroku Connect API v3 (see ``addons/connect/views.py`` for shapes)."""

    def connection_info(self, resource: Any, deep: bool = False) -> dict[str, Any]:
        """The connection (``deep``: with mappings, counts and times)."""
        ...

    def export_mappings(self, resource: Any) -> dict[str, Any]:
        """Heroku Connect's v1 mapping document."""
        ...

    def write_errors(self, resource: Any, object_name: str | None = None) -> list[dict[str, Any]]:
        """Errors of the last 24 hours, newest first."""
        ...


@dataclass(frozen=True)
class Connection:
    """A resource whose adapter speaks the API, with its adapter."""

    resource: Resource
    adapter: ConnectionApi


def connection(uuid: str, lifecycle: Lifecycle) -> Connection:
    """The live resource ``uuid`` if its add-on speaks the Connect API.

    :raises Forbidden: the resource is gone. :raises NotFound: not a Connect resource.
    """
    resource = live_resource(uuid)
    adapter: AddonAdapter | None = lifecycle.registry.get(resource.addon.slug)
    if not isinstance(adapter, ConnectionApi) or resource.state != ResourceState.PROVISIONED:
        raise NotFound("No Connect connection with this id.")
    return Connection(resource, adapter)


def info(uuid: str, lifecycle: Lifecycle, *, deep: bool = False) -> dict[str, Any]:
    """``GET /connections/<uuid>``."""
    found = connection(uuid, lifecycle)
    return found.adapter.connection_info(lifecycle.ref(found.resource), deep)


def mapping(uuid: str, object_name: str, lifecycle: Lifecycle) -> dict[str, Any]:
    """One mapping of ``GET /mappings/<id>``.

    :raises NotFound: no such mapping.
    """
    for item in info(uuid, lifecycle, deep=True).get("mappings", []):
        if item["object_name"] == object_name:
            return dict(item)
    raise NotFound("No mapping with this id.")


def require_mapping(uuid: str, object_name: str, lifecycle: Lifecycle) -> None:
    """Check that the connection maps ``object_name`` (from its state; no database call).

    :raises NotFound: no such mapping.
    """
    document = export(uuid, lifecycle)
    if not any(m.get("object_name") == object_name for m in document.get("mappings", [])):
        raise NotFound("No mapping with this id.")


def export(uuid: str, lifecycle: Lifecycle) -> dict[str, Any]:
    """``GET /connections/<uuid>/actions/export``."""
    found = connection(uuid, lifecycle)
    return found.adapter.export_mappings(lifecycle.ref(found.resource))


def errors(uuid: str, lifecycle: Lifecycle, object_name: str | None = None) -> dict[str, Any]:
    """``GET /connections/<uuid>/errors``: ``{count, results}``."""
    found = connection(uuid, lifecycle)
    results = found.adapter.write_errors(lifecycle.ref(found.resource), object_name)
    return {"count": len(results), "results": results}


def act(
    uuid: str, action: str, params: Mapping[str, str], lifecycle: Lifecycle, scheduler: Scheduler
) -> ActionOutcome:
    """Run one of the connection's actions (pause, resume, import, create_mapping, ...)."""
    connection(uuid, lifecycle)
    return perform_action(uuid, action, params, lifecycle, scheduler)


def set_database(
    uuid: str,
    db_key: str | None,
    schema_name: str | None,
    lifecycle: Lifecycle,
    scheduler: Scheduler,
) -> str:
    """``PATCH /connections/<uuid>``: the schema, then the link to a Postgres resource.

    :raises Unprocessable: a bad schema name, or no such Postgres resource on this app;
        nothing changed (a schema set for a link that then failed is set back).
    """
    previous = info(uuid, lifecycle).get("schema_name")
    messages = []
    if schema_name is not None:
        messages.append(
            perform_action(
                uuid, "set_schema", {"schema_name": schema_name}, lifecycle, scheduler
            ).message
        )
    if db_key is not None:
        try:
            target = _database_by_config_var(uuid, db_key, lifecycle) or db_key
            messages.append(links.attach(uuid, DATABASE_LINK, target, lifecycle).message)
        except MarketplaceError:
            if schema_name is not None and isinstance(previous, str) and previous != schema_name:
                perform_action(uuid, "set_schema", {"schema_name": previous}, lifecycle, scheduler)
            raise
        scheduler.enqueue_tick(uuid, 0.0)
    if not messages:
        raise Unprocessable(
            'Send {"db_key": "<Postgres resource uuid or name>", "schema_name": "salesforce"}.'
        )
    return " ".join(messages)


def _databases(uuid: str, lifecycle: Lifecycle) -> list[Resource]:
    """The provisioned resources of the app of ``uuid`` its database link may point at."""
    source = connection(uuid, lifecycle).resource
    spec = lifecycle.adapter(source).spec.link(DATABASE_LINK)
    return links.candidates(source, spec.addon) if spec is not None else []


def _database_by_config_var(uuid: str, db_key: str, lifecycle: Lifecycle) -> str | None:
    """The uuid of the database a Heroku-style ``db_key`` (a config var name such as
    ``DATABASE_URL``) names, or None when ``db_key`` is not one (it is then a resource uuid or
    name). Every Postgres resource sets ``DATABASE_URL``, so the name picks the app's only one.

    :raises Unprocessable: the app has none, or several (name one by uuid or resource name).
    """
    if not CONFIG_VAR.match(db_key):
        return None
    found = _databases(uuid, lifecycle)
    if any(r.name == db_key or r.uuid == db_key for r in found):
        return None
    sets_it = [r for r in found if db_key in lifecycle.adapter(r).spec.config_vars]
    if len(sets_it) == 1:
        return sets_it[0].uuid
    if not sets_it:
        raise Unprocessable(f"No database of this app sets {db_key}.")
    raise Unprocessable(
        f"Several databases of this app set {db_key}: name one by its uuid or resource name "
        "(GET /connect/api/v3/apps/<app> lists them)."
    )


def db_keys(uuid: str, app_name: str, lifecycle: Lifecycle) -> dict[str, Any]:
    """``GET /apps/<app>``: ``{"db_keys": [{"name", "addon": {"plan"}}]}``, the databases a
    connection of ``app_name`` can be linked to (``name`` is what ``PATCH`` takes as
    ``db_key``).

    :raises NotFound: ``uuid`` is not a connection of that app.
    """
    source = connection(uuid, lifecycle).resource
    if source.app_name != app_name:
        raise NotFound("No app with this name.")
    return {
        "db_keys": [
            {"name": r.name or r.uuid, "uuid": r.uuid, "addon": {"plan": r.plan.slug}}
            for r in _databases(uuid, lifecycle)
        ]
    }


def start_login(
    uuid: str,
    binding: str,
    login_url: str,
    secret_key: str,
    redirect_uri: str,
    lifecycle: Lifecycle,
    scheduler: Scheduler,
) -> str:
    """The Salesforce authorize URL for ``uuid``, with a state bound to ``binding``."""
    connection(uuid, lifecycle)
    state = oauth_state.issue(secret_key, uuid, binding, login_url)
    outcome = perform_action(
        uuid,
        "authorize_url",
        {"state": state, "redirect_uri": redirect_uri, "login_url": login_url},
        lifecycle,
        scheduler,
        core=True,
    )
    if not outcome.redirect:
        raise Unprocessable(outcome.message)
    return outcome.redirect


def finish_login(
    token: str,
    code: str,
    proof: Callable[[str, str], str | None],
    secret_key: str,
    redirect_uri: str,
    lifecycle: Lifecycle,
    scheduler: Scheduler,
) -> tuple[str, str]:
    """Trade the callback's code for tokens; return ``(resource uuid, message)``.

    :raises Forbidden: a forged, expired, foreign or reused state.
    """
    verified = oauth_state.verify(secret_key, token, proof)
    outcome = perform_action(
        verified.resource_uuid,
        "oauth_callback",
        {
            "code": code,
            "nonce": verified.nonce,
            "login_url": verified.login_url,
            "redirect_uri": redirect_uri,
        },
        lifecycle,
        scheduler,
        core=True,
    )
    return verified.resource_uuid, outcome.message
