"""What every data view shares: the org in use, auth, API counting, JSON in and out.

Data calls (``/services/data/vXX.X/...``) need ``Authorization: Bearer <access token>`` (or
``OAuth <token>``); each one counts against DailyApiRequests and answers with the header
``Sforce-Limit-Info: api-usage=N/M`` (REST API Developer Guide, "Response Headers"). When the
limit is used up the call is refused with 403 ``REQUEST_LIMIT_EXCEEDED``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request

from standins.salesforce.auth import Auth
from standins.salesforce.describe import is_served
from standins.salesforce.errors import (
    ApiError,
    invalid_session,
    json_parser_error,
    not_found,
    request_limit_exceeded,
)
from standins.salesforce.schema import ObjectDef
from standins.salesforce.store import Org

EXTENSION_KEY = "salesforce_standin"


@dataclass
class StandinState:
    """Per-app state kept in ``app.extensions``."""

    org: Org
    auth: Auth


def state() -> StandinState:
    """The stand-in state of the current app."""
    found: StandinState = current_app.extensions[EXTENSION_KEY]
    return found


def org() -> Org:
    """The org of the current app."""
    return state().org


def base_url() -> str:
    """The stand-in's own https base URL, as the client reached it."""
    return request.host_url.rstrip("/")


def check_data_call(version: str) -> None:
    """Before a data call: a served version, a live session, and API budget left."""
    if not is_served(version):
        raise not_found()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "oauth") or not token.strip():
        raise invalid_session()
    if state().auth.session(token.strip()) is None:
        raise invalid_session()
    used, limit, allowed = org().count_api_call()
    g.api_usage = (used, limit)
    if not allowed:
        raise request_limit_exceeded()


def add_limit_header(response: Response) -> Response:
    """Stamp ``Sforce-Limit-Info`` on a data call's response."""
    usage = g.get("api_usage")
    if usage is not None:
        response.headers["Sforce-Limit-Info"] = f"api-usage={usage[0]}/{usage[1]}"
    return response


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response with Salesforce's content type and key order kept."""
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Content-Type": "application/json;charset=UTF-8"})


def no_content() -> Response:
    """204 No Content."""
    return Response(status=204)


def json_body() -> Any:
    """The request's JSON body; 400 ``JSON_PARSER_ERROR`` when it does not parse."""
    raw = request.get_data(as_text=True)
    if not raw.strip():
        raise json_parser_error("The request body is empty")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise json_parser_error(f"Unexpected character: {exc.msg} at [line:{exc.lineno}, "
                                f"column:{exc.colno}]") from None


def sobject(name: str) -> ObjectDef:
    """The object named in the URL; 404 ``NOT_FOUND`` as Salesforce answers for unknown ones."""
    obj = org().schema.get(name)
    if obj is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return obj


def flag(value: str | None) -> bool:
    """A boolean query parameter (``true``/``false``)."""
    return (value or "").lower() == "true"
