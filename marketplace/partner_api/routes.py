"""Partner API routes: authenticate, parse, call the provisioning service, map the outcome."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from flask import Response, g, jsonify

from marketplace.api import ApiBlueprint
from marketplace.context import broker, lifecycle
from marketplace.metrics import partner_operation
from marketplace.models._types import utcnow
from marketplace.schemas.partner_api import (
    PlanChangeRequestSchema,
    PlanChangeResponseSchema,
    ProvisionRequestSchema,
    ProvisionResponseSchema,
)
from marketplace.services.jobs import driver
from marketplace.services.partner_auth import authenticate_partner
from marketplace.services.provisioning import Provisioner
from marketplace.services.provisioning_outcomes import (
    Accepted,
    PlanChanged,
    ProvisionCommand,
    Provisioned,
    RemovalAccepted,
    RemovalOutcome,
    Removed,
)
from marketplace.untrusted import basic_credentials

blp = ApiBlueprint(
    "partner_api",
    __name__,
    url_prefix="/heroku/resources",
    description="Add-on Partner API v3: the platform provisions, changes and removes resources. "
    "HTTP Basic auth with the add-on's manifest id and password.",
)

GRANT_DEFAULT_LIFETIME = timedelta(minutes=5)

_E404 = "Unknown resource"
_E410 = "The resource was deprovisioned"
_E410_DELETE = "The resource was already deprovisioned, or the broker has no such resource"
_E422 = (
    "Invalid body (wrong types, missing fields, values too long, an oauth_grant without a "
    "code or with an invalid expires_at), unknown plan or region, or the data does not fit "
    "the plan"
)


@blp.before_request
def _authenticate() -> None:
    """Credentials are checked before the body is parsed or anything is looked up."""
    username, password = basic_credentials() or (None, None)
    g.addon = authenticate_partner(username, password, broker().vault)


def _provisioner() -> Provisioner:
    state = broker()
    return Provisioner(
        lifecycle(),
        state.vault,
        state.queue,
        state.async_settings.deadline,
        exchange_grant_now=lambda uuid: driver().exchange_grant_now(uuid),
    )


def _grant_expiry(grant: dict[str, Any] | None) -> datetime | None:
    """The grant's ``expires_at`` (validated, in UTC); the platform's default (5 minutes)
    when absent."""
    if not grant:
        return None
    expires_at: datetime | None = grant.get("expires_at")
    return expires_at or utcnow() + GRANT_DEFAULT_LIFETIME


def canonical_uuid(value: str) -> str:
    """A path's uuid in the form provisioning stored it (lower case, hyphenated), as the
    body's ``uuid`` is read; anything that is not a uuid stays as it is (and is unknown)."""
    try:
        return str(UUID(value))
    except ValueError:
        return value


def _json(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _provision_response(outcome: Provisioned | Accepted) -> Response:
    if isinstance(outcome, Accepted):
        return _json(202, {"id": outcome.id, "message": outcome.message})
    return _json(
        200, {"id": outcome.id, "config": dict(outcome.config), "message": outcome.message}
    )


def _plan_change_response(outcome: PlanChanged) -> Response:
    body: dict[str, Any] = {"message": outcome.message}
    if outcome.config:
        body["config"] = dict(outcome.config)
    return _json(200, body)


def _removal_response(outcome: RemovalOutcome) -> Response:
    if isinstance(outcome, RemovalAccepted):
        return _json(202, {"message": outcome.message})
    assert isinstance(outcome, Removed)
    return Response(status=204)


@blp.route("", methods=["POST"])
@blp.arguments(ProvisionRequestSchema)
@blp.doc(security=[{"basicAuth": []}])
@blp.response(200, ProvisionResponseSchema, description="Provisioned (the same answer on retries)")
@blp.alt_response(
    202,
    schema=ProvisionResponseSchema,
    description="Accepted: asynchronous plan; config arrives through the Platform API",
)
@blp.errors(
    400,
    401,
    409,
    410,
    413,
    415,
    422,
    500,
    503,
    e409="The uuid exists with another add-on or plan",
    e410=_E410,
    e422=_E422,
)
def provision(payload: dict[str, Any]) -> Response:
    """Provision a resource."""
    command = ProvisionCommand(
        uuid=payload["uuid"],
        plan=payload["plan"],
        region=payload["region"],
        name=payload["name"],
        callback_url=payload["callback_url"],
        options=payload["options"],
        grant_code=(payload["oauth_grant"] or {}).get("code"),
        grant_expires_at=_grant_expiry(payload["oauth_grant"]),
        log_input_url=payload["log_input_url"],
        log_drain_token=payload["log_drain_token"],
    )
    with partner_operation(g.addon.slug, "provision") as operation:
        outcome = _provisioner().provision(g.addon, command)
        operation.succeeded(outcome)
    return _provision_response(outcome)


@blp.route("/<string:uuid>", methods=["PUT"])
@blp.arguments(PlanChangeRequestSchema)
@blp.doc(security=[{"basicAuth": []}])
@blp.response(200, PlanChangeResponseSchema, description="Plan changed")
@blp.errors(400, 401, 404, 410, 413, 415, 422, 500, 503, e404=_E404, e410=_E410, e422=_E422)
def change_plan(payload: dict[str, Any], uuid: str) -> Response:
    """Change a resource's plan."""
    with partner_operation(g.addon.slug, "plan_change") as operation:
        outcome = _provisioner().change_plan(g.addon, canonical_uuid(uuid), payload["plan"])
        operation.succeeded(outcome)
    return _plan_change_response(outcome)


@blp.route("/<string:uuid>", methods=["DELETE"])
@blp.doc(security=[{"basicAuth": []}])
@blp.response(204, description="Deprovisioned")
@blp.alt_response(202, schema=PlanChangeResponseSchema, description="Removal under way (async)")
@blp.errors(400, 401, 410, 500, 503, e410=_E410_DELETE)
def deprovision(uuid: str) -> Response:
    """Deprovision a resource."""
    with partner_operation(g.addon.slug, "deprovision") as operation:
        outcome = _provisioner().deprovision(g.addon, canonical_uuid(uuid))
        operation.succeeded(outcome)
    return _removal_response(outcome)
