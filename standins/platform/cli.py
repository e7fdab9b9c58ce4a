"""``flask --app standins.dev platform ...``: run the local platform and act as the
platform's CLI.

The commands talk to a running ``platform serve`` (``LOCAL_PLATFORM_URL``), which calls the
broker named by the manifest, exactly as Heroku would. Development tooling: the production
CLI (``flask --app app``) does not have these commands.

Settings (read here, not by the product): ``LOCAL_PLATFORM_URL`` (default
``http://127.0.0.1:5100``) and ``LOCAL_PLATFORM_DB`` (default ``instance/local-platform.db``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from marketplace.context import broker
from marketplace.errors import NotFound
from marketplace.services.catalog import get_addon, list_addons
from marketplace.services.manifest import build_manifest
from standins.platform.server import create_platform_app

platform = AppGroup("platform", help="Play the platform's side locally.")
DEFAULT_URL = "http://127.0.0.1:5100"


def platform_url() -> str:
    """Where the local platform listens (``LOCAL_PLATFORM_URL``)."""
    return os.environ.get("LOCAL_PLATFORM_URL") or DEFAULT_URL


def platform_db() -> str:
    """The local platform's own store (``LOCAL_PLATFORM_DB``)."""
    default = Path(current_app.instance_path) / "local-platform.db"
    return os.environ.get("LOCAL_PLATFORM_DB") or str(default)
TERMINAL_STATES = {"provisioned", "deprovisioned", "failed"}


@platform.command("serve")
@click.option("--port", type=int, default=None, help="Default: the port of LOCAL_PLATFORM_URL.")
def serve(port: int | None) -> None:
    """Run the local platform (OAuth, Platform API for Partners, SSO)."""
    config = current_app.config
    url = urlsplit(platform_url())
    app = create_platform_app(
        platform_db(),
        default_client_secret=config["OAUTH_CLIENT_SECRET"],
        client_secrets=config["OAUTH_CLIENT_SECRETS"],
        public_url=platform_url(),
    )
    run_simple(url.hostname or "127.0.0.1", port or url.port or 5100, app, threaded=True)


@platform.command("create", context_settings={"ignore_unknown_options": True})
@click.argument("service_plan")
@click.option("--app", "app_name", required=True, help="The app to attach it to.")
@click.option(
    "--manifest",
    "manifest_file",
    type=click.File(),
    default=None,
    help="Manifest JSON of the add-on (default: this broker's own).",
)
@click.option("--wait", type=float, default=120, show_default=True, help="Seconds to wait.")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def create(
    service_plan: str, app_name: str, manifest_file: Any, wait: float, options: tuple[str, ...]
) -> None:
    """Create SERVICE:PLAN for an app, like `heroku addons:create` (options after --)."""
    slug, _, plan = service_plan.partition(":")
    manifest = json.load(manifest_file) if manifest_file else _own_manifest(slug)
    _admin("POST", "/_admin/manifests", json=manifest)
    result = _admin(
        "POST",
        "/_admin/addons",
        json={
            "service": slug,
            "plan": plan or _default_plan(slug),
            "app": app_name,
            "options": parse_options(options),
        },
    )
    addon = result["addon"]
    _refused(result, f"creating {addon['name']}")
    click.echo(f"{addon['name']} ({addon['uuid']}): broker answered {result['status']}")
    if result["status"] == 202:
        click.echo(result["body"].get("message", ""))
        addon = _wait_for(addon["uuid"], wait)
    _print_addon(addon)


@platform.command("plan-change")
@click.argument("addon_uuid")
@click.argument("plan")
def plan_change(addon_uuid: str, plan: str) -> None:
    """Move an add-on to another plan."""
    result = _admin("POST", f"/_admin/addons/{addon_uuid}/plan", json={"plan": plan})
    _refused(result, f"changing {addon_uuid} to {plan}")
    click.echo(f"broker answered {result['status']}: {result['body'].get('message', '')}")


@platform.command("destroy")
@click.argument("addon_uuid")
@click.option("--wait", type=float, default=120, show_default=True)
def destroy(addon_uuid: str, wait: float) -> None:
    """Remove an add-on."""
    result = _admin("DELETE", f"/_admin/addons/{addon_uuid}")
    if result["status"] != 410:  # 410: the broker had nothing left, as good as removed
        _refused(result, f"destroying {addon_uuid}")
    click.echo(f"broker answered {result['status']}")
    if result["status"] == 202:
        _print_addon(_wait_for(addon_uuid, wait))


@platform.command("open")
@click.argument("addon_uuid")
def open_command(addon_uuid: str) -> None:
    """Print the URL that signs you in to the add-on's dashboard (SSO)."""
    _admin("GET", f"/_admin/addons/{addon_uuid}")  # an unknown add-on is an error
    click.echo(f"{platform_url().rstrip('/')}/addons/{addon_uuid}/sso")


@platform.command("list")
def list_command() -> None:
    """List the platform's add-ons."""
    for addon in _admin("GET", "/_admin/addons"):
        click.echo(
            f"{addon['uuid']}  {addon['slug']}:{addon['plan']}  {addon['state']:<14} {addon['app']}"
        )


@platform.command("logs")
@click.argument("app_name")
def logs(app_name: str) -> None:
    """Print the lines add-ons posted to APP_NAME's log stream, like `heroku logs`."""
    for line in _admin("GET", f"/_admin/logs/{app_name}"):
        click.echo(f"{line['timestamp']} app[{line['procid']}]: {line['message']}")


def parse_options(words: tuple[str, ...]) -> dict[str, str]:
    """``--foo bar --baz`` → ``{"foo": "bar", "baz": "true"}`` (as the Heroku CLI does)."""
    options: dict[str, str] = {}
    key: str | None = None
    for word in words:
        if word.startswith("--"):
            if key:
                options[key] = "true"
            key, _, value = word[2:].partition("=")
            if value:
                options[key], key = value, None
        elif key:
            options[key], key = word, None
    if key:
        options[key] = "true"
    return options


def _own_manifest(slug: str) -> dict[str, Any]:
    try:
        addon = get_addon(slug)
    except NotFound as error:
        served = ", ".join(a.slug for a in list_addons()) or "none"
        raise click.ClickException(
            f"this broker serves no add-on called {slug!r} (it serves: {served})"
        ) from error
    return build_manifest(addon, current_app.config["MARKETPLACE_URL"], broker().vault)


def _default_plan(slug: str) -> str:
    addon = next((a for a in list_addons() if a.slug == slug), None)
    if addon is None or not addon.plans:
        raise click.ClickException(f"no default plan known for {slug!r}: give SERVICE:PLAN")
    return next((p.slug for p in addon.plans if p.is_default), addon.plans[0].slug)


def _refused(result: dict[str, Any], doing: str) -> None:
    """Fail with the broker's message when it refused (as the Heroku CLI does)."""
    status = int(result["status"])
    if status >= 400:
        message = str(result["body"].get("message") or "no message")
        raise click.ClickException(f"{doing}: the broker answered {status}: {_one_line(message)}")


def _admin(method: str, path: str, **kwargs: Any) -> Any:
    url = platform_url().rstrip("/") + path
    try:
        response = requests.request(method, url, timeout=60, **kwargs)
    except requests.ConnectionError as error:
        raise click.ClickException(
            f"the local platform at {url} is not running (flask --app standins.dev platform serve)"
        ) from error
    if response.status_code >= 400:
        try:
            message = str(response.json()["message"])
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise click.ClickException(_one_line(f"{message} ({response.status_code})"))
    return response.json()


def _one_line(text: str) -> str:
    """``text`` on one line, cut short: error messages are read in a terminal."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 300 else flat[:299] + "…"


def _wait_for(addon_uuid: str, wait: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    addon = _admin("GET", f"/_admin/addons/{addon_uuid}")
    while addon["state"] not in TERMINAL_STATES and time.monotonic() < deadline:
        time.sleep(0.5)
        addon = _admin("GET", f"/_admin/addons/{addon_uuid}")
    return dict(addon)


def _print_addon(addon: dict[str, Any]) -> None:
    click.echo(f"state: {addon['state']}")
    for name, value in sorted(addon.get("config", {}).items()):
        click.echo(f"{name}={value}")
