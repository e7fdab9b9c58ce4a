"""The Platform API for Partners: OAuth grant exchange, token refresh, config and actions.

Transient failures (connection errors, timeouts, 429 and 5xx) raise :class:`PlatformUnavailable`
so callers retry with backoff (no sooner than the answer's ``Retry-After``); anything else the
platform refuses raises :class:`PlatformRejected`, which retrying will not fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from marketplace.models._types import utcnow

ACCEPT = "application/vnd.heroku+json; version=3"
TIMEOUT_SECONDS = 10


class PlatformError(Exception):
    """Base of the platform client's errors; the message never carries a token."""


class PlatformUnavailable(PlatformError):
    """Worth retrying later: after ``retry_after`` seconds when the platform said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PlatformRejected(PlatformError):
    """The platform refused the call for good (for example an expired grant)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Tokens:
    """An access token with its expiry, and the refresh token (kept if none came back)."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime
    user_id: str | None = None


class PlatformClient:
    """Calls the platform on behalf of one add-on (its OAuth client secret)."""

    def __init__(self, api_url: str, id_url: str, client_secret: str) -> None:
        self._api_url = api_url.rstrip("/")
        self._id_url = id_url.rstrip("/")
        self._client_secret = client_secret
        self._http = requests.Session()

    def exchange_grant(self, code: str) -> Tokens:
        """Trade the provision request's grant code for tokens (once per resource)."""
        return self._token({"grant_type": "authorization_code", "code": code})

    def refresh(self, refresh_token: str) -> Tokens:
        """Get a new access token."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def update_config(self, uuid: str, config: Mapping[str, str | None], token: str) -> None:
        """``PATCH /addons/<uuid>/config`` with every given var."""
        body = {"config": [{"name": name, "value": value} for name, value in config.items()]}
        self._call("PATCH", f"/addons/{uuid}/config", token, json=body)

    def addon_info(self, uuid: str, token: str) -> Any:
        """``GET /addons/<uuid>``: the add-on's info, with its app (``{"app": {"id", "name"}}``)."""
        return self._call("GET", f"/addons/{uuid}", token)

    def mark_provisioned(self, uuid: str, token: str) -> None:
        """``POST /addons/<uuid>/actions/provision``: the asynchronous provision is done."""
        self._call("POST", f"/addons/{uuid}/actions/provision", token)

    def mark_deprovisioned(self, uuid: str, token: str) -> None:
        """``POST /addons/<uuid>/actions/deprovision``: the asynchronous removal is done."""
        self._call("POST", f"/addons/{uuid}/actions/deprovision", token)

    def _token(self, form: dict[str, str]) -> Tokens:
        body = self._send(
            "POST",
            f"{self._id_url}/oauth/token",
            data={**form, "client_secret": self._client_secret},
            headers={"Accept": "application/json"},
        )
        try:
            return Tokens(
                access_token=str(body["access_token"]),
                refresh_token=body.get("refresh_token"),
                expires_at=utcnow() + timedelta(seconds=int(body.get("expires_in", 28800))),
                user_id=body.get("user_id"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PlatformUnavailable("the token endpoint answered without a token") from error

    def _call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        headers = {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
        return self._send(method, f"{self._api_url}{path}", headers=headers, **kwargs)

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as error:
            raise PlatformUnavailable(f"{method} {_path(url)}: {type(error).__name__}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise PlatformUnavailable(
                f"{method} {_path(url)} answered {response.status_code}",
                retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise PlatformRejected(
                f"{method} {_path(url)} answered {response.status_code}", response.status_code
            )
        try:
            return response.json() if response.content else None
        except ValueError:
            return None


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date), or None
    when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max((moment - utcnow()).total_seconds(), 0.0)


def _path(url: str) -> str:
    """The URL without scheme and host, for messages (no query strings carry secrets here)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]
