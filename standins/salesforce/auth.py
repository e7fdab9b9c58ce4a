"""OAuth 2.0 state: connected apps, authorization codes, refresh and access tokens.

Token responses follow Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration" and
"OAuth 2.0 Refresh Token Flow"::

    {"access_token": "00D...!AQ...", "refresh_token": "5Aep86...", "signature": "...",
     "scope": "api refresh_token", "instance_url": "https://127.0.0.1:5200",
     "id": "https://127.0.0.1:5200/id/00D.../005...", "token_type": "Bearer",
     "issued_at": "1700000000000"}

``signature`` is the Base64 HMAC-SHA256 of ``id + issued_at`` keyed with the client secret.
A refresh grant answers the same without ``refresh_token``. Failures are
``{"error": "invalid_grant", "error_description": "expired access/refresh token"}`` and friends,
with status 400. An authorization code is single-use and lapses after 15 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from standins.salesforce.errors import OAuthError
from standins.salesforce.store import Org

DEFAULT_CLIENT_ID = "standin-connected-app"
DEFAULT_CLIENT_SECRET = "standin-connected-app-secret"  # noqa: S105 - a public test fixture
CODE_TTL_SECONDS = 15 * 60
ACCESS_TTL_SECONDS = 2 * 60 * 60
CONSENT_TTL_SECONDS = 30 * 60
DEFAULT_SCOPE = "api refresh_token"


@dataclass(frozen=True)
class ConnectedApp:
    """A registered OAuth client; ``callback_urls`` None accepts any callback (stand-in only)."""

    client_id: str
    client_secret: str
    name: str
    callback_urls: tuple[str, ...] | None

    def allows(self, redirect_uri: str) -> bool:
        """True when ``redirect_uri`` is one of the app's callback URLs."""
        return self.callback_urls is None or redirect_uri in self.callback_urls


class Auth:
    """Issues and checks tokens for one org."""

    def __init__(self, org: Org, access_ttl: float = ACCESS_TTL_SECONDS) -> None:
        self.org = org
        self.access_ttl = access_ttl

    def register_app(self, client_id: str, client_secret: str, name: str = "Connect",
                     callback_urls: list[str] | None = None) -> ConnectedApp:
        """Add or replace a connected app."""
        urls = json.dumps(callback_urls) if callback_urls is not None else None
        with self.org.lock:
            self.org.db.execute(
                "INSERT INTO connected_app (client_id, client_secret, name, callback_urls) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET "
                "client_secret = excluded.client_secret, name = excluded.name, "
                "callback_urls = excluded.callback_urls",
                (client_id, client_secret, name, urls),
            )
        return ConnectedApp(client_id, client_secret, name,
                            tuple(callback_urls) if callback_urls is not None else None)

    def app(self, client_id: str) -> ConnectedApp | None:
        """The connected app with this consumer key, or None."""
        with self.org.reading() as db:
            row = db.execute(
                "SELECT client_secret, name, callback_urls FROM connected_app "
                "WHERE client_id = ?", (client_id,)
            ).fetchone()
        if row is None:
            return None
        urls = tuple(json.loads(row[2])) if row[2] is not None else None
        return ConnectedApp(client_id, row[0], row[1], urls)

    def start_consent(self, client_id: str, redirect_uri: str, state: str | None,
                      scope: str | None) -> str:
        """Remember a checked authorize request; the nonce goes into the consent form."""
        nonce = secrets.token_urlsafe(24)
        with self.org.lock:
            self.org.db.execute(
                "INSERT INTO consent (nonce, client_id, redirect_uri, state, scope, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (nonce, client_id, redirect_uri, state, scope or DEFAULT_SCOPE,
                 time.time() + CONSENT_TTL_SECONDS),
            )
        return nonce

    def take_consent(self, nonce: str) -> dict[str, Any] | None:
        """The authorize request behind a consent form (single use), or None."""
        with self.org.transaction() as db:
            row = db.execute(
                "SELECT client_id, redirect_uri, state, scope, expires_at FROM consent "
                "WHERE nonce = ?", (nonce,)
            ).fetchone()
            db.execute("DELETE FROM consent WHERE nonce = ? OR expires_at < ?",
                       (nonce, time.time()))
        if row is None or row[4] < time.time():
            return None
        return {"client_id": row[0], "redirect_uri": row[1], "state": row[2], "scope": row[3]}

    def issue_code(self, client_id: str, redirect_uri: str, scope: str) -> str:
        """A new single-use authorization code."""
        code = "aPrx" + secrets.token_urlsafe(48)
        with self.org.lock:
            self.org.db.execute(
                "INSERT INTO auth_code (code, client_id, redirect_uri, scope, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (code, client_id, redirect_uri, scope, time.time() + CODE_TTL_SECONDS),
            )
        return code

    def _client(self, form: dict[str, str]) -> ConnectedApp:
        app = self.app(form.get("client_id", ""))
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(form.get("client_secret", ""), app.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        return app

    def exchange_code(self, form: dict[str, str], base_url: str) -> dict[str, Any]:
        """``grant_type=authorization_code``: trade a code for access and refresh tokens."""
        app = self._client(form)
        with self.org.transaction() as db:
            row = db.execute(
                "SELECT client_id, redirect_uri, scope, expires_at, used FROM auth_code "
                "WHERE code = ?", (form.get("code", ""),)
            ).fetchone()
            if row is not None:
                db.execute("UPDATE auth_code SET used = 1 WHERE code = ?", (form["code"],))
        if row is None or row[4] or row[0] != app.client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if row[3] < time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        if form.get("redirect_uri") != row[1]:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        scope = row[2]
        refresh = None
        if {"refresh_token", "offline_access"} & set(scope.split()):
            refresh = "5Aep861" + secrets.token_urlsafe(60)
            with self.org.lock:
                self.org.db.execute(
                    "INSERT INTO refresh_token (token, client_id, scope) VALUES (?, ?, ?)",
                    (refresh, app.client_id, scope),
                )
        return self._token_response(app, scope, refresh, base_url, include_refresh=True)

    def refresh(self, form: dict[str, str], base_url: str) -> dict[str, Any]:
        """``grant_type=refresh_token``: a new access token for a live refresh token."""
        app = self._client(form)
        with self.org.reading() as db:
            row = db.execute(
                "SELECT client_id, scope, revoked FROM refresh_token WHERE token = ?",
                (form.get("refresh_token", ""),),
            ).fetchone()
        if row is None or row[2] or row[0] != app.client_id:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        return self._token_response(app, row[1], form["refresh_token"], base_url,
                                    include_refresh=False)

    def _token_response(self, app: ConnectedApp, scope: str, refresh: str | None,
                        base_url: str, include_refresh: bool) -> dict[str, Any]:
        access = f"{self.org.org_id[:15]}!AQ" + secrets.token_urlsafe(72)
        with self.org.lock:
            self.org.db.execute(
                "INSERT INTO access_token (token, client_id, refresh_token, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (access, app.client_id, refresh, time.time() + self.access_ttl),
            )
        identity = f"{base_url}/id/{self.org.org_id}/{self.org.user_id}"
        issued_at = str(int(time.time() * 1000))
        digest = hmac.new(app.client_secret.encode(), (identity + issued_at).encode(),
                          hashlib.sha256).digest()
        body: dict[str, Any] = {"access_token": access}
        if include_refresh and refresh:
            body["refresh_token"] = refresh
        body.update({
            "signature": base64.b64encode(digest).decode(),
            "scope": scope,
            "instance_url": base_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        })
        return body

    def revoke(self, token: str) -> None:
        """Revoke an access token, or a refresh token and every access token it issued."""
        with self.org.transaction() as db:
            hit = db.execute("UPDATE refresh_token SET revoked = 1 WHERE token = ?",
                             (token,)).rowcount
            if hit:
                db.execute("UPDATE access_token SET revoked = 1 WHERE refresh_token = ?",
                           (token,))
            else:
                hit = db.execute("UPDATE access_token SET revoked = 1 WHERE token = ?",
                                 (token,)).rowcount
        if not hit:
            raise OAuthError("unsupported_token_type", "this token type is not supported")

    def session(self, token: str) -> str | None:
        """The client id behind a live access token, or None."""
        with self.org.reading() as db:
            row = db.execute(
                "SELECT client_id, expires_at, revoked FROM access_token WHERE token = ?",
                (token,),
            ).fetchone()
        if row is None or row[2] or row[1] < time.time():
            return None
        return str(row[0])

    def expire_all(self) -> int:
        """Expire every access token (refresh tokens stay valid); return how many."""
        with self.org.lock:
            return self.org.db.execute(
                "UPDATE access_token SET expires_at = 0 WHERE expires_at > ?", (time.time(),)
            ).rowcount

    def mint_session(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        """An access token without the browser dance, for tests and the CLI."""
        app = self.app(client_id)
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        return str(self._token_response(app, DEFAULT_SCOPE, None, "", False)["access_token"])
