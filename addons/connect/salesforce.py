"""Salesforce calls: the OAuth 2.0 web-server flow, and a session on one org.

OAuth (Salesforce Help, "OAuth 2.0 Web Server Flow"): ``GET <login>/services/oauth2/authorize``
(browser), ``POST <login>/services/oauth2/token`` (``authorization_code`` and
``refresh_token`` grants; answers ``{access_token, refresh_token?, instance_url, id,
issued_at, signature}``; failures ``400 {"error": "invalid_grant", ...}``) and ``POST
<login>/services/oauth2/revoke``. simple-salesforce has no web-server flow, so these three use
``requests``; every data call goes through simple-salesforce (REST API Developer Guide):
describe, query/queryAll with ``nextRecordsUrl`` paging, sObject Collections, Bulk API 2.0.

:class:`OrgSession` keeps the tokens in the mutable ``tokens`` mapping it is given (the
adapter's state), refreshes an expired access token once on ``INVALID_SESSION_ID`` (401),
counts calls, reads ``Sforce-Limit-Info`` and turns Salesforce's failures into
:class:`NeedAuthentication`, :class:`LimitExceeded` or :class:`SalesforceFailure`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
)

T = TypeVar("T")
TIMEOUT = 60.0
MAX_COLLECTION = 200
#: simple-salesforce waits this long before its first look at a Bulk API job, then backs off
#: (e^n ms more each time): a small job is read as soon as it is done.
BULK_FIRST_POLL_SECONDS = 0.05


class SalesforceFailure(Exception):
    """A call Salesforce refused or could not serve; ``code`` is its ``errorCode``."""

    def __init__(self, message: str, code: str = "UNKNOWN_EXCEPTION", status: int = 0) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


class NeedAuthentication(SalesforceFailure):
    """The refresh token no longer works (revoked or expired): a new login is needed."""


class LimitExceeded(SalesforceFailure):
    """``REQUEST_LIMIT_EXCEEDED``: the org's API limit (or the plan's budget) is used up."""


def _first_error(content: Any) -> tuple[str, str]:
    """``(errorCode, message)`` of a Salesforce error body (a list of errors, or an object)."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode", "UNKNOWN")), str(content[0].get("message", ""))
    if isinstance(content, Mapping):
        return str(content.get("error", "UNKNOWN")), str(content.get("error_description", ""))
    return "UNKNOWN", str(content)[:200]


class OAuthClient:
    """The connected app's side of the web-server flow against any login host."""

    def __init__(self, client_id: str, client_secret: str, timeout: float = TIMEOUT) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = timeout

    @property
    def configured(self) -> bool:
        """Whether a consumer key and secret are set."""
        return bool(self.client_id and self._secret)

    def authorize_url(self, login_url: str, redirect_uri: str, state: str) -> str:
        """Where the browser goes to log in and allow access."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": "api refresh_token",
                "prompt": "login consent",
            }
        )
        return f"{login_url.rstrip('/')}/services/oauth2/authorize?{query}"

    def exchange(self, login_url: str, code: str, redirect_uri: str) -> dict[str, Any]:
        """Trade an authorization code for tokens.

        :raises NeedAuthentication: the code is invalid, used or expired.
        :raises SalesforceFailure: the login host cannot be reached.
        """
        return self._token(
            login_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            },
        )

    def refresh(self, login_url: str, refresh_token: str) -> dict[str, Any]:
        """A new access token from the refresh token.

        :raises NeedAuthentication: the refresh token was revoked or has expired.
        """
        return self._token(
            login_url,
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            },
        )

    def revoke(self, login_url: str, token: str) -> None:
        """Revoke a token (a refresh token revokes its access tokens too); never raises."""
        try:
            requests.post(
                f"{login_url.rstrip('/')}/services/oauth2/revoke",
                data={"token": token},
                timeout=self._timeout,
            )
        except requests.RequestException:
            return

    def _token(self, login_url: str, form: dict[str, str]) -> dict[str, Any]:
        data = {"client_id": self.client_id, "client_secret": self._secret, **form}
        try:
            response = requests.post(
                f"{login_url.rstrip('/')}/services/oauth2/token", data=data, timeout=self._timeout
            )
        except requests.RequestException as error:
            raise SalesforceFailure(
                f"Salesforce's login host cannot be reached ({type(error).__name__})."
            ) from error
        if response.status_code in (400, 401):
            code, message = _first_error(response.json() if response.content else {})
            raise NeedAuthentication(message or code, code, response.status_code)
        if response.status_code != 200:
            raise SalesforceFailure(f"Salesforce's login host answered {response.status_code}.")
        tokens: dict[str, Any] = response.json()
        return tokens


def org_and_user(identity_url: str) -> tuple[str, str]:
    """The org and user ids from a token response's ``id`` URL (``.../id/<org>/<user>``)."""
    parts = urlsplit(identity_url).path.rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")


class OrgSession:
    """simple-salesforce on one org, with one refresh on an expired session.

    :param tokens: ``{access_token, refresh_token, instance_url, login_url}``; updated in place
        when the access token is refreshed (the caller stores it).
    """

    def __init__(
        self, tokens: MutableMapping[str, Any], oauth: OAuthClient, api_version: str
    ) -> None:
        self.tokens = tokens
        self._oauth = oauth
        self._version = api_version
        self._http = requests.Session()
        self._client: Salesforce | None = None
        self.calls = 0
        self.refreshed = False
        self.usage: tuple[int, int] | None = None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    @property
    def client(self) -> Salesforce:
        """simple-salesforce on the current access token."""
        if self._client is None:
            self._client = Salesforce(
                instance_url=str(self.tokens["instance_url"]),
                session_id=str(self.tokens["access_token"]),
                version=self._version,
                session=self._http,
            )
        return self._client

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run ``operation``; refresh the access token once on INVALID_SESSION_ID.

        :raises NeedAuthentication: the refresh token no longer works.
        :raises LimitExceeded: REQUEST_LIMIT_EXCEEDED.
        :raises SalesforceFailure: any other refusal or an unreachable org.
        """
        for attempt in (1, 2):
            self.calls += 1
            try:
                result = operation(self.client)
            except SalesforceExpiredSession:
                if attempt == 2:
                    raise NeedAuthentication("The Salesforce session expired again.") from None
                self._refresh()
                continue
            except SalesforceError as error:
                code, message = _first_error(error.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise LimitExceeded(message, code, error.status) from None
                raise SalesforceFailure(message or code, code, error.status) from None
            except requests.RequestException as error:
                raise SalesforceFailure(
                    f"Salesforce cannot be reached ({type(error).__name__})."
                ) from None
            self._read_usage()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _refresh(self) -> None:
        refresh_token = str(self.tokens.get("refresh_token") or "")
        if not refresh_token:
            raise NeedAuthentication("No refresh token: log in to Salesforce again.")
        fresh = self._oauth.refresh(str(self.tokens["login_url"]), refresh_token)
        self.tokens["access_token"] = fresh["access_token"]
        self.tokens["instance_url"] = fresh.get("instance_url", self.tokens["instance_url"])
        self.tokens["issued_at"] = fresh.get("issued_at", str(int(time.time() * 1000)))
        self._client = None
        self.refreshed = True

    def _read_usage(self) -> None:
        usage = (self._client.api_usage if self._client else {}).get("api-usage")
        if usage is not None:
            self.usage = (int(usage.used), int(usage.total))

    # --- the calls the engine makes ---------------------------------------------------------

    def describe_global(self) -> list[dict[str, Any]]:
        """``GET /sobjects``: every object (``name``, ``label``, ``queryable``, ...)."""
        body = self.call(lambda sf: sf.describe())
        return list((body or {}).get("sobjects", []))

    def describe(self, object_name: str) -> dict[str, Any]:
        """``GET /sobjects/<Obj>/describe``."""
        body = self.call(lambda sf: sf.restful(f"sobjects/{object_name}/describe"))
        return dict(body or {})

    def query(self, soql: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """The first page of a query (``queryAll`` with ``include_deleted``)."""
        body = self.call(lambda sf: sf.query(soql, include_deleted=include_deleted))
        return dict(body)

    def query_more(self, next_url: str) -> dict[str, Any]:
        """The page at a ``nextRecordsUrl``."""
        body = self.call(lambda sf: sf.query_more(next_url, identifier_is_url=True))
        return dict(body)

    def count(self, object_name: str) -> int:
        """``SELECT COUNT() FROM <Obj>``: live records."""
        return int(self.query(f"SELECT COUNT() FROM {object_name}").get("totalSize", 0))

    def bulk_query(self, object_name: str, soql: str, page_size: int) -> Iterator[str]:
        """Bulk API 2.0 query: CSV pages (header line first in each) until the last."""
        bulk = self.call(lambda sf: getattr(sf.bulk2, object_name))
        pages = bulk.query(soql, max_records=page_size, wait=BULK_FIRST_POLL_SECONDS)
        while True:
            self.calls += 1
            try:
                page = next(pages)
            except StopIteration:
                return
            except SalesforceExpiredSession:
                raise NeedAuthentication("The Salesforce session expired.") from None
            except SalesforceError as error:
                code, message = _first_error(error.content)
                raise SalesforceFailure(message or code, code, error.status) from None
            yield str(page)

    def create(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``POST /composite/sobjects`` (``allOrNone: false``): results in order."""
        return self._collection("POST", "composite/sobjects", records)

    def update(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``PATCH /composite/sobjects`` (each record has ``id``)."""
        return self._collection("PATCH", "composite/sobjects", records)

    def upsert(
        self, object_name: str, field: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``PATCH /composite/sobjects/<Obj>/<ExtIdField>``: upsert by external id."""
        return self._collection("PATCH", f"composite/sobjects/{object_name}/{field}", records)

    def delete(self, ids: list[str]) -> list[dict[str, Any]]:
        """``DELETE /composite/sobjects?ids=...&allOrNone=false``."""
        body = self.call(
            lambda sf: sf.restful(
                "composite/sobjects",
                method="DELETE",
                params={"ids": ",".join(ids), "allOrNone": "false"},
            )
        )
        return list(body or [])

    def _collection(
        self, method: str, path: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if len(records) > MAX_COLLECTION:
            raise ValueError("at most 200 records per sObject Collections call")
        body = self.call(
            lambda sf: sf.restful(
                path,
                method=method,
                json={"allOrNone": False, "records": records},
            )
        )
        return list(body or [])
