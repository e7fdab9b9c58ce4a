"""HTTP for the test/admin hooks, under ``/_standin/`` (not a Salesforce path; no auth).

=======  ===========================================  ==========================================
method   path                                         does
=======  ===========================================  ==========================================
GET      /_standin/                                   org id, user id, default OAuth client
POST     /_standin/tokens/expire                      expire every access token
POST     /_standin/tokens/revoke ``{"token"}``        revoke a refresh (or access) token
GET      /_standin/limits                             ``{"used", "max"}`` API calls
PUT      /_standin/limits ``{"max", "used"}``         set the daily limit and/or the usage
POST     /_standin/validation-rules                   ``{"sobject", "field", "value",
                                                      "message", "errorField"}``
DELETE   /_standin/validation-rules                   drop every injected rule
GET      /_standin/records/<Obj>[?includeDeleted=1]   every record, every field
POST     /_standin/records/<Obj>                      create as a Salesforce user
GET      /_standin/records/<Obj>/<id>                 one record, deleted or not
PATCH    /_standin/records/<Obj>/<id>                 edit as a Salesforce user
DELETE   /_standin/records/<Obj>/<id>                 delete as a Salesforce user
POST     /_standin/records/<Obj>/generate             ``{"count": N}`` generated records, fast
POST     /_standin/connected-apps                     ``{"clientId", "clientSecret", "name",
                                                      "callbackUrls"}``
=======  ===========================================  ==========================================

Errors use the Salesforce shape ``[{"message", "errorCode"}]`` like the rest of the stand-in.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from standins.salesforce import seed, web
from standins.salesforce.admin import Admin
from standins.salesforce.auth import DEFAULT_CLIENT_ID
from standins.salesforce.errors import ApiError, OAuthError

bp = Blueprint("sfdc_admin", __name__, url_prefix="/_standin")


def _admin() -> Admin:
    return Admin(web.org(), web.state().auth)


def _body() -> dict[str, Any]:
    body = web.json_body() if request.get_data() else {}
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    return body


@bp.get("/")
def info() -> Response:
    """Who the org is and how to reach it."""
    org = web.org()
    return web.json_response({
        "organizationId": org.org_id, "userId": org.user_id, "instanceUrl": web.base_url(),
        "defaultClientId": DEFAULT_CLIENT_ID, "sobjects": [o.name for o in org.schema.objects],
        "store": org.path, "testing": bool(current_app.testing),
    })


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    """Expire every access token."""
    return web.json_response({"expired": _admin().expire_access_tokens()})


@bp.post("/tokens/revoke")
def revoke_token() -> Response:
    """Revoke a refresh token and the access tokens it issued."""
    try:
        _admin().revoke_refresh_token(str(_body().get("token", "")))
    except OAuthError as exc:
        raise ApiError(404, "NOT_FOUND", exc.description) from None
    return web.no_content()


@bp.route("/limits", methods=["GET", "PUT"])
def limits() -> Response:
    """Read or set the DailyApiRequests limit and usage."""
    if request.method == "GET":
        return web.json_response(_admin().api_usage())
    body = _body()
    return web.json_response(_admin().set_api_limit(body.get("max"), body.get("used")))


@bp.route("/validation-rules", methods=["POST", "DELETE"])
def validation_rules() -> Response:
    """Add a validation rule, or remove them all."""
    if request.method == "DELETE":
        _admin().clear_validation_rules()
        return web.no_content()
    body = _body()
    rule_id = _admin().add_validation_rule(
        str(body.get("sobject", "")), str(body.get("field", "")), body.get("value"),
        str(body.get("message", "Validation failed")), body.get("errorField"),
    )
    return web.json_response({"id": rule_id}, 201)


@bp.get("/records/<name>")
def list_records(name: str) -> Response:
    """Every record of an object."""
    found = _admin().list_records(name, web.flag(request.args.get("includeDeleted")) or
                                  request.args.get("includeDeleted") == "1")
    return web.json_response({"totalSize": len(found), "records": found})


@bp.post("/records/<name>")
def create_record(name: str) -> Response:
    """Create a record as a Salesforce user."""
    return web.json_response({"id": _admin().create_record(name, _body())}, 201)


@bp.get("/records/<name>/<record_id>")
def get_record(name: str, record_id: str) -> Response:
    """One record with every field."""
    return web.json_response(_admin().get_record(name, record_id))


@bp.patch("/records/<name>/<record_id>")
def update_record(name: str, record_id: str) -> Response:
    """Edit a record as a Salesforce user."""
    _admin().update_record(name, record_id, _body())
    return web.no_content()


@bp.delete("/records/<name>/<record_id>")
def delete_record(name: str, record_id: str) -> Response:
    """Delete a record as a Salesforce user."""
    _admin().delete_record(name, record_id)
    return web.no_content()


@bp.post("/records/<name>/generate")
def generate(name: str) -> Response:
    """Insert ``count`` generated records in bulk."""
    count = int(_body().get("count", 0))
    created = seed.generate(web.org(), name, count)
    return web.json_response({"created": created}, 201)


@bp.post("/connected-apps")
def connected_app() -> Response:
    """Register (or replace) an OAuth client."""
    body = _body()
    app = web.state().auth.register_app(
        str(body.get("clientId", "")), str(body.get("clientSecret", "")),
        str(body.get("name", "Connect")), body.get("callbackUrls"),
    )
    return web.json_response({"clientId": app.client_id, "name": app.name,
                              "callbackUrls": app.callback_urls}, 201)
