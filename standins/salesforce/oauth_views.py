"""The OAuth 2.0 web-server flow endpoints (Salesforce Help, "OAuth 2.0 Web Server Flow").

- ``GET /services/oauth2/authorize?response_type=code&client_id=&redirect_uri=&state=[&scope=]
  [&prompt=]``: a login/consent page whose Allow/Deny buttons POST back here; Allow redirects to
  ``redirect_uri?code=...&state=...``, Deny to ``redirect_uri?error=access_denied&
  error_description=end-user+denied+authorization&state=...``. An unknown client or a callback
  the app does not list gets an error page instead (nothing is sent to an untrusted URL).
- ``POST /services/oauth2/token``: ``grant_type=authorization_code`` or ``refresh_token``.
- ``POST|GET /services/oauth2/revoke?token=``: 200 with an empty body; an unknown token gets 400
  ``error=unsupported_token_type&error_description=this%20token%20type%20is%20not%20supported``
  (form-encoded, as Salesforce sends it).
- ``GET /id/<orgId>/<userId>``: the identity URL named in the token response.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import Blueprint, Response, render_template_string, request

from standins.salesforce import web
from standins.salesforce.errors import OAuthError

bp = Blueprint("sfdc_oauth", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} | Salesforce stand-in</title>
<style>
 body{font-family:system-ui,sans-serif;background:#f3f3f3;margin:0}
 main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:.5rem;padding:2rem;
      box-shadow:0 1px 4px rgba(0,0,0,.15)}
 h1{font-size:1.3rem;margin-top:0} .muted{color:#555;font-size:.9rem}
 label{display:block;margin:.8rem 0 .2rem}
 input[type=text]{width:100%;padding:.4rem;box-sizing:border-box}
 .actions{display:flex;gap:.6rem;margin-top:1.2rem}
 button{padding:.5rem 1.2rem;border-radius:.3rem;border:1px solid #0b5cab;cursor:pointer}
 button[value=allow]{background:#0b5cab;color:#fff}
 button[value=deny]{background:#fff;color:#0b5cab}
</style></head><body><main>
{% if error %}
 <h1>{{ title }}</h1><p>{{ error }}</p><p class="muted">error={{ code }}</p>
{% else %}
 <h1>Allow access?</h1>
 <p><strong>{{ app_name }}</strong> is asking to access the Salesforce stand-in org
 <code>{{ org_id }}</code> as <strong>{{ username }}</strong>.</p>
 <p class="muted">It will be able to: {{ scope }}.</p>
 <form method="post" action="{{ action }}">
  <input type="hidden" name="consent" value="{{ nonce }}">
  <label for="username">Username</label>
  <input id="username" type="text" name="username" value="{{ username }}" readonly>
  <div class="actions">
   <button type="submit" name="decision" value="allow">Allow</button>
   <button type="submit" name="decision" value="deny">Deny</button>
  </div>
 </form>
{% endif %}
</main></body></html>"""

USERNAME = "admin@standin.example.com"


def _error_page(code: str, message: str) -> Response:
    html = render_template_string(_PAGE, title="Cannot authorize", error=message, code=code)
    return Response(html, status=400, mimetype="text/html")


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response(status=302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{query}"})


@bp.get("/services/oauth2/authorize")
def authorize() -> Response:
    """Check the request, then show the login/consent page."""
    args = request.args
    app = web.state().auth.app(args.get("client_id", ""))
    if app is None:
        return _error_page("invalid_client_id", "The client identifier is not registered.")
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri or not app.allows(redirect_uri):
        return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
    state = args.get("state")
    if args.get("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type",
                                        "error_description": "response type not supported",
                                        "state": state})
    if args.get("prompt") == "none":
        return _redirect(redirect_uri, {"error": "login_required",
                                        "error_description": "user is not logged in",
                                        "state": state})
    nonce = web.state().auth.start_consent(app.client_id, redirect_uri, state,
                                           args.get("scope"))
    html = render_template_string(
        _PAGE, title="Allow access", error=None, app_name=app.name, org_id=web.org().org_id,
        username=USERNAME, scope=(args.get("scope") or "api refresh_token"), nonce=nonce,
        action="/services/oauth2/authorize",
    )
    return Response(html, mimetype="text/html")


@bp.post("/services/oauth2/authorize")
def decide() -> Response:
    """The consent form: Allow issues a code, Deny reports ``access_denied``."""
    consent = web.state().auth.take_consent(request.form.get("consent", ""))
    if consent is None:
        return _error_page("invalid_request", "This approval page has expired; start again.")
    uri, state = consent["redirect_uri"], consent["state"]
    if request.form.get("decision") != "allow":
        return _redirect(uri, {"error": "access_denied",
                               "error_description": "end-user denied authorization",
                               "state": state})
    code = web.state().auth.issue_code(consent["client_id"], uri, consent["scope"])
    return _redirect(uri, {"code": code, "state": state})


@bp.post("/services/oauth2/token")
def token() -> Response:
    """Trade an authorization code or a refresh token for an access token."""
    form = {k: v for k, v in request.form.items()}
    grant = form.get("grant_type")
    auth = web.state().auth
    if grant == "authorization_code":
        return web.json_response(auth.exchange_code(form, web.base_url()))
    if grant == "refresh_token":
        return web.json_response(auth.refresh(form, web.base_url()))
    raise OAuthError("unsupported_grant_type", "grant type not supported")


@bp.route("/services/oauth2/revoke", methods=["GET", "POST"])
def revoke() -> Response:
    """Revoke an access or refresh token."""
    token_value = request.values.get("token", "")
    try:
        web.state().auth.revoke(token_value)
    except OAuthError as exc:
        body = f"error={exc.error}&error_description={quote(exc.description)}"
        return Response(body, status=400, mimetype="application/x-www-form-urlencoded")
    return Response(status=200)


@bp.get("/id/<org_id>/<user_id>")
def identity(org_id: str, user_id: str) -> Response:
    """The identity service's answer for the org's one user."""
    org = web.org()
    header = request.headers.get("Authorization", "")
    token_value = header.partition(" ")[2].strip() or request.args.get("oauth_token", "")
    if web.state().auth.session(token_value) is None:
        return Response("Bad_OAuth_Token", status=403, mimetype="text/plain")
    if (org_id, user_id) != (org.org_id, org.user_id):
        return Response("Bad_Id", status=404, mimetype="text/plain")
    base = web.base_url()
    version = "{version}"
    return web.json_response({
        "id": f"{base}/id/{org.org_id}/{org.user_id}",
        "asserted_user": True,
        "user_id": org.user_id,
        "organization_id": org.org_id,
        "username": USERNAME,
        "nick_name": "admin",
        "display_name": "Stand-in Admin",
        "email": USERNAME,
        "active": True,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "urls": {
            "rest": f"{base}/services/data/v{version}/",
            "sobjects": f"{base}/services/data/v{version}/sobjects/",
            "query": f"{base}/services/data/v{version}/query/",
            "profile": f"{base}/{org.user_id}",
        },
    })
