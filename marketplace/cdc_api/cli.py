"""``flask --app app data-connectors create|list|info|update|pause|resume|destroy``: the
operator's commands (Heroku CLI's ``data:connectors:*`` verbs). Output never includes a
secret: connector configs stay in Kafka Connect."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from marketplace.cdc_api.service import service
from marketplace.errors import MarketplaceError
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


@data_connectors.command("create")
@click.option("--source", "postgres", required=True, help="Postgres resource uuid.")
@click.option("--store", "kafka", required=True, help="Kafka resource uuid or name.")
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
        _echo(service().create(postgres, parse_request(body, creating=True)), as_json_output)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("list")
@click.option("--addon", "postgres", default=None, help="Postgres resource uuid (default: all).")
@click.option("--over-lag", is_flag=True, help="Only paused connectors past the lag threshold.")
@click.option("--json", "as_json_output", is_flag=True)
def list_command(postgres: str | None, over_lag: bool, as_json_output: bool) -> None:
    """List connectors with status and slot lag."""
    try:
        views = service().list_for(postgres) if postgres else service().all_views()
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
    for view in views:
        if not over_lag or view.lag_exceeded:
            _echo(view, as_json_output)


@data_connectors.command("info")
@click.argument("connector_id")
@click.option("--json", "as_json_output", is_flag=True)
def info_command(connector_id: str, as_json_output: bool) -> None:
    """Show one connector."""
    try:
        _echo(service().get(connector_id), as_json_output)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("update")
@click.argument("connector_id")
@click.option("--table", "tables", multiple=True, help="The new table list (repeat).")
@click.option("--exclude-column", "excluded", multiple=True, help="The new excluded columns.")
@click.option("--setting", "settings", multiple=True, help="key=value (allowed Debezium keys).")
def update_command(
    connector_id: str, tables: tuple[str, ...], excluded: tuple[str, ...], settings: tuple[str, ...]
) -> None:
    """Change a connector's tables, excluded columns or settings."""
    body: dict[str, object] = {}
    if tables:
        body["tables"] = list(tables)
    if excluded:
        body["excluded_columns"] = list(excluded)
    if settings:
        body["settings"] = dict(s.partition("=")[::2] for s in settings)
    try:
        _echo(service().update(connector_id, parse_request(body, creating=False)), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("pause")
@click.argument("connector_id")
def pause_command(connector_id: str) -> None:
    """Pause a connector (its slot keeps WAL until resumed)."""
    try:
        _echo(service().pause(connector_id), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("resume")
@click.argument("connector_id")
def resume_command(connector_id: str) -> None:
    """Resume a paused connector."""
    try:
        _echo(service().resume(connector_id), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@data_connectors.command("destroy")
@click.argument("connector_id")
@click.option("--confirm", default=None, help="The connector's id again.")
def destroy_command(connector_id: str, confirm: str | None) -> None:
    """Destroy a connector: its Kafka Connect connector, slot, publication and role."""
    if confirm != connector_id:
        raise click.ClickException("Pass --confirm with the connector's id to destroy it.")
    try:
        _echo(service().destroy(connector_id), False)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
