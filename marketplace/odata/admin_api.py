"""External Objects through the Connect API (Heroku Connect API v3 shape).

Authorized like every resource JSON endpoint: the resource's SSO session (writes with
``X-CSRFToken``) or its API token (``Authorization: Bearer``).

* ``POST /connect/api/v3/connections/<uuid>/odata``: 201 ``{url, username, password}``,
  the only time the password is shown; 409 when already on; 422 when the plan or add-on
  does not include External Objects.
* ``GET …/odata``: ``{state, url, username, tables}``.
* ``GET …/odata/tables``: ``{tables: [{name, kind, shareable, reason}]}``, every table and
  view of the database and why one cannot be shared.
* ``PUT …/odata/tables`` with ``{"tables": ["schema.table", …]}``: ``{tables}``; 422 naming
  every table that cannot be shared (nothing changes).
* ``POST …/odata/actions/reset-credentials``: ``{url, username, password}``; the old
  password keeps working for 10 minutes.
* ``DELETE …/odata``: 204; off, and the credentials stop working at once.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from marketplace.context import lifecycle
from marketplace.dashboard.access import require_access_to
from marketplace.errors import BadRequest
from marketplace.odata import management

bp = Blueprint("odata_admin_api", __name__, url_prefix="/connect/api/v3/connections")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _base_url() -> str:
    return str(current_app.config["MARKETPLACE_URL"])


@bp.post("/<uuid>/odata")
def enable(uuid: str) -> tuple[Response, int]:
    """Turn External Objects on."""
    require_access_to(uuid)
    answer = management.enable(uuid, lifecycle(), _base_url())
    body = {"url": answer.url, "username": answer.username, "password": answer.password}
    return jsonify(body), 201


@bp.get("/<uuid>/odata")
def state(uuid: str) -> Response:
    """State, URL, username and shared tables (never the password)."""
    require_access_to(uuid)
    return jsonify(management.state_of(uuid, _base_url()).as_json())


@bp.get("/<uuid>/odata/tables")
def tables(uuid: str) -> Response:
    """Every table and view of the database, with why one cannot be shared."""
    require_access_to(uuid)
    found = management.candidates(uuid, lifecycle())
    return jsonify(
        {
            "tables": [
                {"name": c.name, "kind": c.kind, "shareable": c.shareable, "reason": c.reason}
                for c in found
            ]
        }
    )


@bp.put("/<uuid>/odata/tables")
def share(uuid: str) -> Response:
    """Share exactly the tables named."""
    require_access_to(uuid)
    body = request.get_json(silent=True)
    names = body.get("tables") if isinstance(body, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadRequest('Send {"tables": ["schema.table", ...]}.')
    shared = management.set_tables(uuid, names, lifecycle())
    return jsonify({"tables": list(shared)})


@bp.post("/<uuid>/odata/actions/reset-credentials")
def reset(uuid: str) -> Response:
    """A new password; the old one keeps working for 10 minutes."""
    require_access_to(uuid)
    answer = management.reset_credentials(uuid, lifecycle(), _base_url())
    return jsonify({"url": answer.url, "username": answer.username, "password": answer.password})


@bp.delete("/<uuid>/odata")
def disable(uuid: str) -> tuple[str, int]:
    """Turn External Objects off and revoke the credentials."""
    require_access_to(uuid)
    management.disable(uuid)
    return "", 204
