"""``flask --app app data-connectors create|list|info|update|pause|resume|wait|destroy``: the
operator's commands, Heroku CLI's ``data:connectors:*`` verbs and flags. A connector is named
by its uuid or its name, a resource by its uuid or its name (Heroku's add-on name). Output
never includes a secret: connector configs stay in Kafka Connect."""

from __future__ import annotations

import json
import time

import click
from flask.cli import AppGroup

from marketplace.cdc_api.service import service
from marketplace.errors import MarketplaceError
from marketplace.models import ConnectorStatus
from marketplace.services.data_connector_lookup import resource_uuid, resources_of_app
from marketplace.services.data_connector_views import ConnectorView, as_json, parse_request


@click.group("data-connectors", cls=AppGroup)
def data_connectors() -> None:
    """Streaming data connectors (Postgres change data capture into Kafka)."""


def _echo(view: ConnectorView, as_json_output: bool) -> None:
    if as_json_output:
        click.echo(json.dumps(as_json(view), indent=2))
        return
    flag = "  LAG OVER THRESHOLD: consider destroying it" if view.lag_exceeded else ""
    click.echo(
        f"{view.uuid}  {view.name}  {view.status}  lag {view.lag}"
        f" ({view.lag_bytes if view.lag_bytes is not None else '?'} bytes){flag}"
    )
    if view.status_reason:
        click.echo(f"  {view.status_reason}")
    for table, topic in view.topics:
        click.echo(f"  {table} -> {topic}")


def _id(connector: str) -> str:
    """The id of the connector named ``connector`` (uuid or name)."""
    return service().connector_id(connector)


@data_connectors.command("create")
@click.option("--source", "postgres", required=True, help="Postgres resource (uuid or name).")
@click.option("--store", "kafka", required=True, help="Kafka resource (uuid or name).")
@click.option("--table", "tables", multiple=True, required=True, help="schema.table (repeat).")
@click.option("--exclude-column", "excluded", multiple=True, help="schema.table.column.")
@click.option("--name", default=None)
@click.option("--json", "as_json_output", is_flag=True)
def create_command(
    postgres: str,
    kafka: str,
    tables: tuple[str, ...],
    excluded: tuple[str, ...],
    name: str | None,
    as_json_output: bool,
) -> None:
    """Create a connector streaming TABLES of a Postgres resource into a Kafka resource."""
    body = {"kafka": kafka, "tables": list(tables), "excluded_columns": list(excluded)}
    if name:
        body["name"] = name
    try:
        view = service().create(resource_uuid(postgres), parse_request(body, creating=True))
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
    _echo(view, as_json_output)


@data_connectors.command("list")
@click.option("--addon", default=None, help="A Postgres or Kafka resource (uuid or name).")
@click.option("-a", "--app", default=None, help="An app (id or name).")
@click.option("--over-lag", is_flag=True, help="Only paused connectors past the lag threshold.")
@click.option("--json", "as_json_output", is_flag=True)
def list_command(addon: str | None, app: str | None, over_lag: bool, as_json_output: bool) -> None:
    """List connectors with status and slot lag (all of them, an add-on's or an app's)."""
    try:
        if addon:
            views = service().list_for_addon(resource_uuid(addon))
        elif app:
            seen: dict[str, ConnectorView] = {}
            for uuid in resources_of_app(app):
                seen.update((v.uuid, v) for v in service().list_for_addon(uuid))
            views = list(seen.values())
        else:
            views = service().all_views()
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
    for view in views:
        if not over_lag or view.lag_exceeded:
            _echo(view, as_json_output)


@data_connectors.command("info")
@click.argument("connector")
@click.option("--json", "as_json_output", is_flag=True)
def info_command(connector: str, as_json_output: bool) -> None:
    """Show one connector (uuid or name)."""
    try:
        _echo(service().get(_id(connector)), as_json_output)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("update")
@click.argument("connector")
@click.option("--setting", "settings", multiple=True, help="key=value (allowed Debezium keys).")
@click.option("--add-table", "added", multiple=True, help="schema.table to capture too.")
@click.option("--remove-table", "removed", multiple=True, help="schema.table to stop capturing.")
@click.option(
    "--exclude-column", "excluded", multiple=True, help="schema.table.column to leave out."
)
@click.option("--remove-excluded-column", "included", multiple=True, help="Capture it again.")
@click.option("--table", "tables", multiple=True, help="Replace the table list (repeat).")
def update_command(
    connector: str,
    settings: tuple[str, ...],
    added: tuple[str, ...],
    removed: tuple[str, ...],
    excluded: tuple[str, ...],
    included: tuple[str, ...],
    tables: tuple[str, ...],
) -> None:
    """Change a connector's settings, tables or excluded columns, as Heroku's
    ``data:connectors:update`` does (settings merge into the current ones)."""
    try:
        connector_id = _id(connector)
        current = service().get(connector_id)
        body: dict[str, object] = {}
        if tables or added or removed:
            base = list(tables) if tables else list(current.tables)
            body["tables"] = [t for t in [*base, *added] if t not in removed]
        if excluded or included:
            columns = [*current.excluded_columns, *excluded]
            body["excluded_columns"] = [c for c in columns if c not in included]
        if settings:
            malformed = [s for s in settings if "=" not in s]
            if malformed:
                raise click.BadParameter(
                    f"{malformed[0]!r}: use key=value.", param_hint="--setting"
                )
            body["settings"] = dict(s.split("=", 1) for s in settings)
        _echo(service().update(connector_id, parse_request(body, creating=False)), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("pause")
@click.argument("connector")
def pause_command(connector: str) -> None:
    """Pause a connector (its slot keeps WAL until resumed)."""
    try:
        _echo(service().pause(_id(connector)), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("resume")
@click.argument("connector")
def resume_command(connector: str) -> None:
    """Resume a paused connector."""
    try:
        _echo(service().resume(_id(connector)), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("wait")
@click.argument("connector")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between checks.")
@click.option("--timeout", default=600.0, show_default=True, help="Give up after (seconds).")
def wait_command(connector: str, interval: float, timeout: float) -> None:
    """Wait until the connector is available (Heroku's ``data:connectors:wait``); fail if it
    goes to error or is destroyed, or after TIMEOUT."""
    deadline = time.monotonic() + timeout
    try:
        connector_id = _id(connector)
        while True:
            view = service().get(connector_id)
            if view.status == ConnectorStatus.AVAILABLE and view.streaming:
                _echo(view, False)
                return
            if view.status in (ConnectorStatus.ERROR, ConnectorStatus.DEPROVISIONED):
                _echo(view, False)
                raise click.ClickException(f"The data connector is {view.status}.")
            if time.monotonic() > deadline:
                raise click.ClickException(f"Still {view.status} after {timeout:g} s.")
            time.sleep(interval)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("destroy")
@click.argument("connector")
@click.option("--confirm", default=None, help="The connector's name or id again.")
def destroy_command(connector: str, confirm: str | None) -> None:
    """Destroy a connector: its Kafka Connect connector, slot, publication and role."""
    if confirm != connector:
        raise click.ClickException("Pass --confirm with the connector's name or id to destroy it.")
    try:
        _echo(service().destroy(_id(connector)), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
