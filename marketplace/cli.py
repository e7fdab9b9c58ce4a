"""``flask --app app ...`` commands for operators."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from huey.consumer import Consumer

from marketplace.config import metrics_multiproc_dir
from marketplace.context import broker
from marketplace.metrics.exposition import prepare_multiprocess_dir
from marketplace.services.catalog import get_addon, list_addons, sync_catalog
from marketplace.services.jobs import reconcile_once
from marketplace.services.manifest import build_manifest
from marketplace.usage_cli import usage


def register_commands(app: Flask) -> None:
    """Attach the broker's commands to ``app``."""
    app.cli.add_command(addons)
    app.cli.add_command(release)
    app.cli.add_command(worker)
    app.cli.add_command(reconcile)
    from marketplace.connect_api.cli import connect

    app.cli.add_command(connect)
    app.cli.add_command(usage)

    from marketplace.cdc_api import cli_group as data_connectors

    app.cli.add_command(data_connectors)


@click.command()
@with_appcontext
def release() -> None:
    """Apply migrations, then sync the catalog (the Procfile's release step)."""
    upgrade()
    synced = sync_catalog(
        broker().registry, broker().vault, current_app.config["PROVISIONING_MODES"]
    )
    click.echo(f"catalog: {', '.join(a.slug for a in synced) or 'no add-ons'}")


@click.group(cls=AppGroup)
def addons() -> None:
    """Inspect the add-ons this broker serves."""


@addons.command("list")
def list_command() -> None:
    """Print the add-on slugs."""
    for addon in list_addons():
        click.echo(addon.slug)


@addons.command("sync")
def sync_command() -> None:
    """Seed or update the catalog from the adapters' declarations."""
    for addon in sync_catalog(
        broker().registry, broker().vault, current_app.config["PROVISIONING_MODES"]
    ):
        click.echo(f"{addon.slug}: {len(addon.plans)} plans")


@addons.command("manifest")
@click.argument("slug")
def manifest_command(slug: str) -> None:
    """Print the v3 manifest of SLUG (it contains secrets: keep it out of git)."""
    addon = get_addon(slug)
    manifest = build_manifest(addon, current_app.config["MARKETPLACE_URL"], broker().vault)
    click.echo(json.dumps(manifest, indent=2))


@click.command()
@click.option("--threads", type=int, default=None, help="Job threads (WORKER_THREADS).")
@click.option(
    "--tick-threads", type=int, default=None, help="Tick threads (TICK_WORKER_THREADS)."
)
@with_appcontext
def worker(threads: int | None, tick_threads: int | None) -> None:
    """Run the job consumers: provisioning steps and the reconciler on one queue, background
    ticks on another (each with its own threads, so ticks never delay provisioning)."""
    config = current_app.config
    if metrics_multiproc_dir():  # this process's metrics join the web processes' files
        prepare_multiprocess_dir(metrics_multiproc_dir())
    queue = broker().queue
    # SIGTERM (what Heroku, systemd and Kubernetes send) lets running jobs finish, so a
    # restart never leaves a resource's lease held until it expires; SIGINT stops at once.
    shutdown = {
        "graceful_signal": "TERM",
        "shutdown_timeout": float(config["WORKER_SHUTDOWN_SECONDS"]),
    }
    ticks = Consumer(
        queue.tick_huey,
        workers=tick_threads or int(config["TICK_WORKER_THREADS"]),
        worker_type="thread",
        periodic=False,
        **shutdown,
    )
    jobs = _JobConsumer(
        queue.huey,
        beside=ticks,
        workers=threads or int(config["WORKER_THREADS"]),
        worker_type="thread",
        **shutdown,
    )
    ticks.start()  # runs beside the main consumer; run() below owns the signal handling
    try:
        jobs.run()
    finally:
        ticks.stop(graceful=True)


class _JobConsumer(Consumer):  # type: ignore[misc]
    """The main consumer; when it stops, the tick consumer beside it stops taking work at
    the same moment, so both drain within one ``WORKER_SHUTDOWN_SECONDS``, not one after
    the other (Heroku kills the process 30 s after SIGTERM)."""

    def __init__(self, huey: object, *, beside: Consumer, **options: object) -> None:
        super().__init__(huey, **options)
        self._beside = beside

    def stop(self, graceful: bool = False) -> None:
        self._beside.stop_flag.set()
        super().stop(graceful=graceful)


@click.command()
@with_appcontext
def reconcile() -> None:
    """Reconcile once: re-drive stuck work, clean up abandoned provisions, report orphans."""
    report = reconcile_once()
    click.echo(json.dumps(report.__dict__, indent=2, sort_keys=True))
