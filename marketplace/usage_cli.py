"""``flask --app app usage ...``: export usage for billing, and correct a record."""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

import click
from flask.cli import AppGroup

from marketplace.errors import MarketplaceError
from marketplace.models._types import utcnow
from marketplace.ops.usage import parse_time
from marketplace.services.usage import correct, report, report_csv

usage = AppGroup("usage", help="Usage records for billing.")


def _time(value: str | None, name: str) -> datetime | None:
    try:
        return parse_time(value, name)
    except MarketplaceError as error:
        raise click.BadParameter(error.message, param_hint=f"--{name}") from error


@usage.command("export")
@click.option("--from", "start", required=True, help="ISO 8601 start (inclusive, UTC).")
@click.option("--to", "end", default=None, help="ISO 8601 end (exclusive); default: now.")
@click.option(
    "--kind",
    type=click.Choice(["periods", "samples", "records"]),
    default="periods",
    show_default=True,
    help="Plan periods (seconds per plan), metered samples, or the raw records.",
)
@click.argument("file", type=click.File("w"), default="-")
def export(start: str, end: str | None, kind: str, file: TextIO) -> None:
    """Write usage in [--from, --to) as CSV to FILE (default: standard output)."""
    began = _time(start, "from")
    if began is None:
        raise click.BadParameter("give the window's start as an ISO 8601 time", param_hint="--from")
    try:
        usage_report = report(began, _time(end, "to") or utcnow())
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
    file.write(report_csv(usage_report, kind))


@usage.command("correct")
@click.argument("record_id", type=int)
@click.option("--note", required=True, help="Why (kept with the correction).")
@click.option("--at", "occurred_at", default=None, help="The corrected time (ISO 8601).")
@click.option("--plan", default=None, help="The corrected plan.")
@click.option("--value", type=float, default=None, help="The corrected sample value.")
@click.option("--void", is_flag=True, help="Cancel the record.")
def correct_command(
    record_id: int,
    note: str,
    occurred_at: str | None,
    plan: str | None,
    value: float | None,
    void: bool,
) -> None:
    """Add a correction of RECORD_ID (records are never changed)."""
    try:
        record = correct(
            record_id, note, occurred_at=_time(occurred_at, "at"), plan=plan, value=value, void=void
        )
    except MarketplaceError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"record {record.id} corrects record {record.corrects_id}")
