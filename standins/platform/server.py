"""The local platform's HTTP side: what Heroku's id and api hosts and its dashboard do.

``/oauth/token`` and ``/addons/...`` behave like the Platform API for Partners (strictly:
a wrong token is 401, an unknown add-on 404, a token for another add-on 403). ``/_admin/...``
is the platform's own side (its dashboard and CLI): it registers manifests, creates, changes
and destroys add-ons by calling the broker's Partner API, and injects faults for tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, render_template_string, request

from standins.platform.broker_calls import BrokerCalls, BrokerUnreachable
from standins.platform.logs import FrameError, parse_frames, parse_syslog
from standins.platform.store import PlatformStore

VENDOR_JSON = "application/vnd.heroku+json; version=3"

APP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ app }} · local platform</title></head>
<body><main><h1>{{ app }}</h1><table><thead><tr><th>Add-on</th><th>Plan</th><th>State</th>
<th></th></tr></thead><tbody>{% for addon in addons %}<tr><td>{{ addon.name }}</td>
<td>{{ addon.slug }}:{{ addon.plan }}</td><td>{{ addon.state }}</td>
<td><a href="/addons/{{ addon.uuid }}/sso">Open</a></td></tr>{% else %}<tr><td colspan="4">
No add-ons: flask --app standins.dev platform create SLUG:PLAN --app {{ app }}</td></tr>{% endfor %}
</tbody></table></main></body></html>"""

SSO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Opening {{ name }}</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{ action }}">
{% for key, value in params.items() %}
<input type="hidden" name="{{ key }}" value="{{ value }}">
{% endfor %}
<noscript><button type="submit">Open {{ name }}</button></noscript></form></body></html>"""


def create_platform_app(
    store_path: str,
    *,
    default_client_secret: str,
    client_secrets: Mapping[str, str] | None = None,
    access_ttl: float = 28800,
    grant_ttl: float = 300,
    public_url: str = "http://127.0.0.1:5100",
) -> Flask:
    """Build the local platform app over the SQLite store at ``store_path``."""
    app = Flask("standins.platform")
    store = PlatformStore(store_path)
    secrets = dict(client_secrets or {})
    broker = BrokerCalls(store, public_url.rstrip("/"), grant_ttl)
    app.extensions["platform_store"] = store
    app.extensions["platform_broker_calls"] = broker

    def secret_for(slug: str) -> str:
        return secrets.get(slug) or default_client_secret

    @app.errorhandler(LookupError)
    def _unknown(error: LookupError) -> Response:
        return _error(404, "not_found", str(error.args[0] if error.args else error))

    @app.errorhandler(BrokerUnreachable)
    def _unreachable(error: BrokerUnreachable) -> Response:
        return _error(502, "bad_gateway", str(error))

    @app.before_request
    def _inject_fault() -> Response | None:
        if request.path.startswith("/_admin"):
            return None
        fault = store.take_fault(request.method, request.path)
        if fault is None:
            return None
        if fault["delay_seconds"]:
            time.sleep(fault["delay_seconds"])  # simulates a slow platform for crash tests
        if fault["status"]:
            store.log(request.method, request.path, fault["status"], fault=True)
            response = _error(fault["status"], "injected", "Injected failure.")
            if fault["retry_after"] is not None:
                response.headers["Retry-After"] = fault["retry_after"]
            return response
        return None

    # --- OAuth --------------------------------------------------------------------------------

    @app.post("/oauth/token")
    def oauth_token() -> Response:
        params = {**request.args.to_dict(), **request.form.to_dict()}
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            addon_uuid = store.use_grant(params.get("code", ""))
            if addon_uuid is None:
                return _logged(400, "invalid_grant", "Unknown, used or expired grant code.")
            addon = store.addon(addon_uuid) or {}
            if params.get("client_secret") != secret_for(addon.get("slug", "")):
                return _logged(401, "unauthorized", "Wrong client secret.")
            body = store.issue_tokens(addon_uuid, access_ttl)
        elif grant_type == "refresh_token":
            body = store.refresh_tokens(params.get("refresh_token", ""), access_ttl) or {}
            addon = store.addon(body.pop("uuid", "")) or {}
            if not body or params.get("client_secret") != secret_for(addon.get("slug", "")):
                return _logged(401, "unauthorized", "Unknown refresh token or wrong secret.")
        else:
            return _logged(400, "invalid_request", "Unsupported grant_type.")
        store.log("POST", "/oauth/token", 200, grant_type=grant_type, uuid=addon.get("uuid"))
        return jsonify(
            {**body, "token_type": "Bearer", "user_id": "local-user", "session_nonce": None}
        )

    # --- Platform API for Partners ------------------------------------------------------------

    def authorize(addon_uuid: str) -> tuple[dict[str, Any] | None, Response | None]:
        if request.headers.get("Accept") != VENDOR_JSON:
            return None, _logged(406, "not_acceptable", f"Send Accept: {VENDOR_JSON}.")
        header = request.headers.get("Authorization", "")
        scoped = (
            store.token_addon(header.removeprefix("Bearer "))
            if header.startswith("Bearer ")
            else None
        )
        if scoped is None:
            return None, _logged(401, "unauthorized", "Invalid or expired access token.")
        addon = store.addon(addon_uuid)
        if addon is None:
            return None, _logged(404, "not_found", "Couldn't find that add-on.")
        if scoped != addon_uuid:
            return None, _logged(403, "forbidden", "This token is for another add-on.")
        return addon, None

    @app.get("/addons/<addon_uuid>")
    def show_addon(addon_uuid: str) -> Response:
        addon, refused = authorize(addon_uuid)
        return refused or _addon_json(addon or {})

    @app.route("/addons/<addon_uuid>/config", methods=["GET", "PATCH"])
    def addon_config(addon_uuid: str) -> Response:
        addon, refused = authorize(addon_uuid)
        if refused or addon is None:
            return refused or _error(404, "not_found", "Couldn't find that add-on.")
        config = dict(addon["config"])
        if request.method == "PATCH":
            manifest = store.manifest(addon["slug"]) or {"api": {"config_vars": []}}
            declared = set(manifest["api"]["config_vars"])
            items = (request.get_json(silent=True) or {}).get("config")
            if not isinstance(items, list) or any(
                not isinstance(i, dict) or i.get("name") not in declared for i in items
            ):
                return _logged(422, "invalid_params", "config must list declared vars only.")
            for item in items:
                config[item["name"]] = item.get("value")
            store.update_addon(addon_uuid, config=config)
            store.log("PATCH", request.path, 200, names=sorted(i["name"] for i in items))
        return jsonify([{"name": k, "value": v} for k, v in sorted(config.items())])

    @app.post("/addons/<addon_uuid>/actions/<action>")
    def addon_action(addon_uuid: str, action: str) -> Response:
        addon, refused = authorize(addon_uuid)
        if refused or addon is None:
            return refused or _error(404, "not_found", "Couldn't find that add-on.")
        states = {
            "provision": ("provisioning", "provisioned"),
            "deprovision": (None, "deprovisioned"),
        }
        if action not in states:
            return _logged(404, "not_found", "Unknown action.")
        required, target = states[action]
        if required and addon["state"] != required:
            return _logged(422, "invalid_state", f"The add-on is {addon['state']}.")
        store.update_addon(addon_uuid, state=target)
        store.log("POST", request.path, 200)
        return _addon_json(store.addon(addon_uuid) or {})

    # --- the apps' log input (Logplex's HTTP input) -------------------------------------------

    @app.post("/logs/<app_name>")
    def log_input(app_name: str) -> Response:
        auth = request.authorization
        if (
            auth is None
            or auth.username != "token"
            or not store.log_input_accepts(app_name, auth.password or "")
        ):
            return _logged(401, "unauthorized", "Unknown log input credentials.")
        if request.mimetype != "application/logplex-1":
            return _logged(415, "unsupported_media_type", "Send application/logplex-1.")
        try:
            lines = [parse_syslog(m) for m in parse_frames(request.get_data())]
        except FrameError as error:
            return _logged(400, "bad_request", str(error))
        if request.headers.get("Logplex-Msg-Count") != str(len(lines)):
            return _logged(400, "bad_request", "Logplex-Msg-Count does not match the body.")
        store.add_log_lines(
            app_name,
            [
                {
                    "timestamp": line.timestamp,
                    "hostname": line.hostname,
                    "procid": line.procid,
                    "message": line.message,
                }
                for line in lines
            ],
        )
        store.log("POST", request.path, 204, lines=len(lines))
        return Response(status=204)

    @app.get("/_admin/logs/<app_name>")
    def app_logs(app_name: str) -> Response:
        return jsonify(store.log_lines(app_name))

    # --- the platform's own side --------------------------------------------------------------

    @app.post("/_admin/manifests")
    def register_manifest() -> Response:
        manifest = request.get_json(force=True)
        store.put_manifest(manifest)
        return jsonify({"id": manifest["id"]})

    @app.post("/_admin/addons")
    def create_addon() -> Response:
        body = request.get_json(force=True)
        return jsonify(
            broker.provision(
                body["service"], body["plan"], body.get("app", "my-app"), body.get("options") or {}
            )
        )

    @app.get("/_admin/addons")
    def list_addons() -> Response:
        return jsonify(store.addons())

    @app.get("/_admin/addons/<addon_uuid>")
    def get_addon(addon_uuid: str) -> Response:
        addon = store.addon(addon_uuid)
        return jsonify(addon) if addon else _error(404, "not_found", f"no add-on {addon_uuid}")

    @app.post("/_admin/addons/<addon_uuid>/plan")
    def change_plan(addon_uuid: str) -> Response:
        return jsonify(broker.change_plan(addon_uuid, request.get_json(force=True)["plan"]))

    @app.delete("/_admin/addons/<addon_uuid>")
    def destroy_addon(addon_uuid: str) -> Response:
        return jsonify(broker.destroy(addon_uuid))

    @app.get("/_admin/calls")
    def calls() -> Response:
        return jsonify(store.calls())

    @app.post("/_admin/faults")
    def add_fault() -> Response:
        fault = request.get_json(force=True)
        store.add_fault(
            fault["method"],
            fault["path_prefix"],
            int(fault.get("status", 0)),
            int(fault.get("times", 1)),
            float(fault.get("delay_seconds", 0)),
            None if fault.get("retry_after") is None else str(fault["retry_after"]),
        )
        return jsonify({"ok": True})

    @app.delete("/_admin/faults")
    def clear_faults() -> Response:
        store.clear_faults()
        return jsonify({"ok": True})

    @app.post("/_admin/expire-tokens")
    def expire_tokens() -> Response:
        store.expire_access_tokens()
        return jsonify({"ok": True})

    @app.get("/apps/<app_name>")
    def app_page(app_name: str) -> str:
        """The app's add-ons, each with its SSO link (the dashboards' way back)."""
        addons = [a for a in store.addons() if a["app"] == app_name]
        return render_template_string(APP_PAGE, app=app_name, addons=addons)

    @app.get("/addons/<addon_uuid>/sso")
    def sso(addon_uuid: str) -> Response | str:
        """The form the platform's dashboard posts to the add-on's ``sso_url``: every token
        form side by side, as Heroku sends them."""
        addon = store.addon(addon_uuid)
        manifest = store.manifest(addon["slug"]) if addon else None
        if addon is None or manifest is None:
            return _error(404, "not_found", "No such add-on.")
        return render_template_string(
            SSO_PAGE,
            action=manifest["api"]["test"]["sso_url"],
            params=sso_params(addon, manifest["api"]["sso_salt"], int(time.time())),
            name=addon["name"],
        )

    def _logged(status: int, code: str, message: str) -> Response:
        store.log(request.method, request.path, status, error=code)
        return _error(status, code, message)

    return app


#: The one user of the local platform (Heroku user ids are uuids).
LOCAL_USER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "local-platform:user:developer"))
LOCAL_USER_EMAIL = "developer@localhost"


def sso_params(addon: Mapping[str, Any], salt: str, timestamp: int) -> dict[str, str]:
    """The SSO fields of one sign-on: the v3 ``resource_token``, the user-scoped token, the
    legacy ``id`` + ``token`` (the provider id the broker answered with), and the context."""
    addon_uuid, when = str(addon["uuid"]), str(timestamp)
    provider_id = str(addon.get("provider_id") or addon_uuid)
    nav = {
        "addon": addon.get("name"),
        "appname": addon.get("app"),
        "addons": [{"slug": addon.get("slug"), "name": addon.get("name"), "current": True}],
    }
    return {
        "resource_id": addon_uuid,
        "resource_token": _sha1(f"{addon_uuid}:{salt}:{when}"),
        "user_scoped_resource_token": hashlib.sha256(
            f"{addon_uuid}:{salt}:{when}:{LOCAL_USER_ID}:{LOCAL_USER_EMAIL}".encode()
        ).hexdigest(),
        "id": provider_id,
        "token": _sha1(f"{provider_id}:{salt}:{when}"),
        "timestamp": when,
        "nav-data": base64.urlsafe_b64encode(json.dumps(nav).encode()).decode().rstrip("="),
        "email": LOCAL_USER_EMAIL,
        "user_id": LOCAL_USER_ID,
        "app": str(addon.get("app")),
        "context_app": str(addon.get("app")),
    }


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (the platform's token format)


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"id": code, "message": message})
    response.status_code = status
    return response


def app_id(app_name: str) -> str:
    """The app's id, stable per name (the stand-in keeps apps by name only)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-platform:app:{app_name}"))


def _addon_json(addon: dict[str, Any]) -> Response:
    return jsonify(
        {
            "id": addon.get("uuid"),
            "name": addon.get("name"),
            "state": addon.get("state"),
            "app": {"id": app_id(str(addon.get("app"))), "name": addon.get("app")},
            "addon_service": {"name": addon.get("slug")},
            "plan": {"name": f"{addon.get('slug')}:{addon.get('plan')}"},
            "config_vars": sorted(addon.get("config", {})),
            "provider_id": addon.get("provider_id"),
        }
    )
