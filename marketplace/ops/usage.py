"""``GET /api/usage?from=&to=``: plan periods, usage samples and raw usage records, for
billing. Operator-authenticated (``OPERATOR_TOKEN``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request

from marketplace.errors import BadRequest, Unprocessable
from marketplace.models._types import as_utc, utcnow
from marketplace.ops.auth import require_operator
from marketplace.services.usage import report, report_json

bp = Blueprint("usage", __name__)

#: A UTC offset whose "+" a query string turned into a space (``?from=…T00:00:00+01:00``
#: unencoded arrives as ``…T00:00:00 01:00``): a space between the time and ``hh[:]mm``.
_PLUS_AS_SPACE = re.compile(r"(?<=\d) (?=\d{2}:?\d{2}$)")


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time in UTC (a date alone is midnight UTC; no offset means UTC), or None.

    A positive offset whose ``+`` an unencoded query string turned into a space is read as
    the offset it was (``2026-11-01T00:00:00 01:00`` is ``2026-11-01T00:00:00+01:00``).

    :raises BadRequest: not a time.
    :raises Unprocessable: a time that is not within years 1 to 9999 once moved to UTC
        (``0001-01-01T00:00:00+01:00``).
    """
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = datetime.fromisoformat(_PLUS_AS_SPACE.sub("+", text))
    except ValueError as error:
        raise BadRequest(
            f"'{name}' must be an ISO 8601 time, like 2026-11-01T00:00:00Z."
        ) from error
    try:
        return as_utc(parsed).astimezone(UTC)
    except OverflowError as error:
        raise Unprocessable(
            f"'{name}' is out of range: in UTC it must fall in the years 1 to 9999."
        ) from error


@bp.get("/api/usage")
def usage() -> Response:
    """Usage in ``[from, to)``: ``from`` is required, ``to`` defaults to now; each at most
    once (a billing window is never guessed from ``from=a&from=b``)."""
    require_operator(str(current_app.config["OPERATOR_TOKEN"] or ""))
    start = parse_time(_once("from"), "from")
    if start is None:
        raise BadRequest("Give 'from' (and optionally 'to') as ISO 8601 times.")
    end = parse_time(_once("to"), "to") or utcnow()
    response = jsonify(report_json(report(start, end)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _once(name: str) -> str | None:
    """The query parameter ``name``, or None.

    :raises BadRequest: it is given more than once.
    """
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"'{name}' is given more than once; give it once.")
    return values[0] if values else None
