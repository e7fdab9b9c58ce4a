"""``flask --app app connect ...``: the Heroku Connect CLI's commands, for operators.

``info``, ``export``, ``import FILE``, ``pause``, ``resume``, ``restart``, ``db:set``,
``mapping:reload OBJECT``, ``mapping:delete OBJECT``, ``write-errors``; each takes
``--resource`` (the connection's uuid or resource name).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import or_, select

from marketplace.context import broker, lifecycle
from marketplace.errors import MarketplaceError
from marketplace.extensions import db
from marketplace.models import Addon, Resource, ResourceState
from marketplace.services import connections

connect = AppGroup("connect", help="Heroku Connect-style commands for Connect resources.")
RESOURCE = click.option("--resource", "-r", required=True, help="Connection uuid or resource name.")


def _uuid(key: str) -> str:
    found = db.session.scalars(
        select(Resource.uuid)
        .join(Addon, Addon.id == Resource.addon_id)
        .where(
            Addon.slug == "connect",
            Resource.state == ResourceState.PROVISIONED,
            or_(Resource.uuid == key, Resource.name == key),
        )
    ).all()
    db.session.rollback()
    if len(found) != 1:
        raise click.ClickException(
            f"No single Connect resource called {key!r}."
            if not found
            else f"{len(found)} Connect resources are called {key!r}: use the uuid."
        )
    return found[0]


def _run(action: str, key: str, **params: str) -> None:
    try:
        outcome = connections.act(_uuid(key), action, params, lifecycle(), broker().queue)
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
    click.echo(outcome.message)


@connect.command("info")
@RESOURCE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(resource: str, as_json: bool) -> None:
    """The connection's state and its mappings (like ``heroku connect:info``)."""
    body = connections.info(_uuid(resource), lifecycle(), deep=True)
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"Connection [{body['id']}] / {body['state']}")
    click.echo(
        f"  schema {body['schema_name']}, database {body['db_key'] or '-'}, "
        f"org {body['organization_id'] or '-'}"
    )
    for mapping in body.get("mappings", []):
        counts = mapping["counts"]
        click.echo(
            f"  --> {mapping['object_name']} ({mapping['access']}): {mapping['state']} "
            f"db={counts['db']} sf={counts['sf']} pending={counts['pending']} "
            f"errors={counts['errors']}"
        )


@connect.command("export")
@RESOURCE
def export(resource: str) -> None:
    """Print the mapping document (``heroku connect:export``)."""
    click.echo(json.dumps(connections.export(_uuid(resource), lifecycle()), indent=2))


@connect.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@RESOURCE
def import_(file: Path, resource: str) -> None:
    """Import a mapping document (``heroku connect:import FILE``)."""
    _run("import", resource, document=file.read_text())


@connect.command("pause")
@RESOURCE
def pause(resource: str) -> None:
    """Pause the sync (database changes are still captured)."""
    _run("pause", resource)


@connect.command("resume")
@RESOURCE
def resume(resource: str) -> None:
    """Resume the sync."""
    _run("resume", resource)


@connect.command("restart")
@RESOURCE
def restart(resource: str) -> None:
    """Restart after errors (``heroku connect:recover``)."""
    _run("restart", resource)


@connect.command("db:set")
@RESOURCE
@click.option("--db", "db_key", required=True, help="Postgres resource uuid or name.")
@click.option("--schema", "schema_name", default="salesforce", show_default=True)
def db_set(resource: str, db_key: str, schema_name: str) -> None:
    """Link the database and set the schema (``heroku connect:db:set``)."""
    try:
        click.echo(
            connections.set_database(
                _uuid(resource), db_key, schema_name, lifecycle(), broker().queue
            )
        )
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error


@connect.command("mapping:reload")
@click.argument("object_name")
@RESOURCE
def mapping_reload(object_name: str, resource: str) -> None:
    """Reload a mapping's table from Salesforce."""
    _run("reload_mapping", resource, object_name=object_name)


@connect.command("mapping:delete")
@click.argument("object_name")
@RESOURCE
def mapping_delete(object_name: str, resource: str) -> None:
    """Delete a mapping and drop its table."""
    _run("delete_mapping", resource, object_name=object_name)


@connect.command("write-errors")
@RESOURCE
def write_errors(resource: str) -> None:
    """Errors of the last 24 hours as JSON."""
    click.echo(json.dumps(connections.errors(_uuid(resource), lifecycle()), indent=2))
