"""A thin client for the RabbitMQ management HTTP API (the calls the adapter needs, no more).

Every name that goes into a URL path is percent-encoded with ``quote(name, safe="")``: vhost
names may contain ``/``, which requests would otherwise leave as a path separator.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import queue
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests

from marketplace.adapters import AdapterError, BackendUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 3.05
# Deleting a vhost with many queues takes a while; the server answers only when it is done.
READ_TIMEOUT_SECONDS = 10.0
HASHING_ALGORITHM = "rabbit_password_hashing_sha256"
UNREACHABLE = "RabbitMQ is not reachable right now; try again shortly."
FAILING = "RabbitMQ failed while serving the request; try again shortly."


class ManagementError(AdapterError):
    """The management API refused a request the adapter expected to succeed."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def password_hash(password: str, salt: bytes | None = None) -> str:
    """Hash ``password`` the way ``rabbit_password_hashing_sha256`` stores it.

    The result is base64(salt + sha256(salt + password)) with a 4-byte salt, so a user can be
    created with ``password_hash`` and the plaintext never travels in a request body.
    """
    salt = os.urandom(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


class ManagementClient:
    """Calls ``/api`` of one RabbitMQ node (or cluster front) as an administrator.

    :param url: ``http(s)://user:password@host:port[/prefix]``; the credentials are the
        administrator's and are sent as HTTP basic auth.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if not parts.hostname or parts.username is None:
            raise ValueError("the management URL needs a host and the administrator's user name")
        netloc = parts.netloc.rpartition("@")[2]
        prefix = parts.path.rstrip("/").removesuffix("/api")
        self.base_url = f"{parts.scheme}://{netloc}{prefix}/api"
        self._auth = (unquote(parts.username), unquote(parts.password or ""))
        # requests.Session is not documented as thread-safe and the broker serves requests
        # from many short-lived threads: each call borrows an idle session, so keep-alive
        # connections outlive the threads and no two threads share a session at once.
        self._idle_sessions: queue.SimpleQueue[requests.Session] = queue.SimpleQueue()
        self._proxies = requests.utils.get_environ_proxies(self.base_url)
        self._verify: str | bool = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )

    # --- vhosts, users, permissions ---------------------------------------------------------

    def put_vhost(self, vhost: str, description: str) -> None:
        """Create ``vhost``; on an existing one only the description is updated."""
        self._call("PUT", f"/vhosts/{_q(vhost)}", {"description": description})

    def delete_vhost(self, vhost: str) -> None:
        """Delete ``vhost`` with its queues and exchanges, closing its connections."""
        self._call("DELETE", f"/vhosts/{_q(vhost)}", missing_ok=True)

    def get_vhost(self, vhost: str) -> dict[str, Any] | None:
        """The vhost's details and message statistics, or None when it does not exist."""
        found: dict[str, Any] | None = self._call("GET", f"/vhosts/{_q(vhost)}", missing_ok=True)
        return found

    def put_user(self, user: str, password: str) -> None:
        """Create or update ``user`` with no tags (so no management UI access)."""
        body = {
            "password_hash": password_hash(password),
            "hashing_algorithm": HASHING_ALGORITHM,
            "tags": "",
        }
        self._call("PUT", f"/users/{_q(user)}", body)

    def delete_user(self, user: str) -> None:
        """Delete ``user``; a missing user is fine."""
        self._call("DELETE", f"/users/{_q(user)}", missing_ok=True)

    def put_permissions(self, vhost: str, user: str, configure: str = ".*") -> None:
        """Let ``user`` write and read everything in ``vhost`` (and nowhere else), and
        declare or delete the queues and exchanges whose names match ``configure``."""
        body = {"configure": configure, "write": ".*", "read": ".*"}
        self._call("PUT", f"/permissions/{_q(vhost)}/{_q(user)}", body)

    def list_names(self, kind: str) -> list[str]:
        """Names of every object of ``kind`` (``vhosts`` or ``users``)."""
        return [item["name"] for item in self._call("GET", f"/{kind}?columns=name") or []]

    # --- limits and policies ----------------------------------------------------------------

    def put_vhost_limit(self, vhost: str, limit: str, value: int) -> None:
        """Set a vhost limit such as ``max-connections`` or ``max-queues`` (-1: unlimited)."""
        self._call("PUT", f"/vhost-limits/{_q(vhost)}/{_q(limit)}", {"value": value})

    def put_user_limit(self, user: str, limit: str, value: int) -> None:
        """Set a user limit such as ``max-channels`` (over all of ``user``'s connections)."""
        self._call("PUT", f"/user-limits/{_q(user)}/{_q(limit)}", {"value": value})

    def put_operator_policy(
        self, vhost: str, name: str, definition: Mapping[str, int], apply_to: str = "queues"
    ) -> None:
        """Create or replace an operator policy matching every queue in ``vhost``."""
        body = {"pattern": ".*", "apply-to": apply_to, "priority": 0, "definition": definition}
        self._call("PUT", f"/operator-policies/{_q(vhost)}/{_q(name)}", body)

    # --- connections and queues -------------------------------------------------------------

    def list_user_connections(self, user: str) -> list[dict[str, Any]]:
        """The open client connections of ``user``.

        This listing comes from connection tracking and is current, unlike
        ``/vhosts/{vhost}/connections``, which waits for the next statistics sample.
        """
        return self._call("GET", f"/connections/username/{_q(user)}?columns=name") or []

    def close_user_connections(self, user: str, reason: str) -> None:
        """Close every client connection opened by ``user``."""
        self._call("DELETE", f"/connections/username/{_q(user)}", headers={"X-Reason": reason})

    def list_queues(self, vhost: str) -> list[dict[str, Any]]:
        """Name, type, message counts and body bytes, and consumers of every queue in
        ``vhost`` (counts lag a few seconds)."""
        columns = (
            "name,type,messages,message_bytes,messages_ready,messages_unacknowledged,consumers"
        )
        return self._call("GET", f"/queues/{_q(vhost)}?columns={columns}") or []

    def delete_queue(self, vhost: str, queue: str) -> None:
        """Delete ``queue`` of ``vhost`` (with its messages); a missing one is fine."""
        self._call("DELETE", f"/queues/{_q(vhost)}/{_q(queue)}", missing_ok=True)

    def overview(self) -> dict[str, Any]:
        """The node's overview (versions, totals)."""
        return self._call("GET", "/overview") or {}

    # --- transport --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the idle HTTP sessions (sessions in use are closed when returned)."""
        while True:
            try:
                self._idle_sessions.get_nowait().close()
            except queue.Empty:
                return

    @contextmanager
    def _session(self) -> Iterator[requests.Session]:
        try:
            session = self._idle_sessions.get_nowait()
        except queue.Empty:
            session = requests.Session()
            session.auth = self._auth
            # The environment (proxies, CA bundle) is read once here, not on every request.
            session.trust_env = False
            session.proxies = self._proxies
            session.verify = self._verify
        try:
            yield session
        finally:
            self._idle_sessions.put(session)

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        missing_ok: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body (None when empty or missing)."""
        try:
            with self._session() as session:
                response = session.request(
                    method,
                    self.base_url + path,
                    json=body,
                    headers=dict(headers or {}),
                    timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                )
        except requests.RequestException as error:
            log.warning("RabbitMQ management API unreachable: %s %s: %s", method, path, error)
            raise BackendUnavailable(UNREACHABLE) from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 500 or response.status_code in (401, 403):
            # 401/403 mean the operator's administrator credentials are wrong: the platform
            # can only wait, so it gets a 503 and the operator gets the log line.
            log.error(
                "RabbitMQ management API %s %s answered %s: %s",
                method,
                path,
                response.status_code,
                response.text[:200],
            )
            raise BackendUnavailable(FAILING)
        if response.status_code >= 400:
            reason = _reason(response)
            raise ManagementError(
                f"RabbitMQ refused {method} {path.split('?')[0]} "
                f"(HTTP {response.status_code}: {reason}).",
                response.status_code,
            )
        return response.json() if response.content else None


def _q(name: str) -> str:
    return quote(name, safe="")


def _reason(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    return str(payload.get("reason") or payload.get("error") or payload)[:200]
