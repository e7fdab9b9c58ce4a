"""A thin, typed client for Apache Kafka Connect's REST API (the distributed worker's).

Source of the formats: Kafka Connect's REST API (``GET /connectors``,
``GET /connectors/{name}/status`` answering ``{"name", "connector": {"state", "worker_id",
"trace"?}, "tasks": [{"id", "state", "worker_id", "trace"?}], "type"}``, states ``UNASSIGNED``,
``RUNNING``, ``PAUSED``, ``STOPPED``, ``FAILED``, ``RESTARTING``), as served by Kafka Connect 4.1.

Any worker of a cluster answers for the whole cluster (a write sent to a follower is forwarded
to the leader), so nothing here assumes one worker. Every call has a timeout. A worker that
cannot be reached, times out or answers 5xx raises :class:`BackendUnavailable`; a refused
request (4xx other than 404 where "missing" is an answer) raises :class:`ConnectRefused`.
Connector configs carry secrets: nothing here logs a config or puts one into an error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from marketplace.adapters import BackendUnavailable, ProvisionRejected

DEFAULT_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.1
UNREACHABLE = "Kafka Connect is not reachable right now; try again shortly."


class ConnectRefused(ProvisionRejected):
    """Kafka Connect refused a request (for example a config its validation rejects)."""


@dataclass(frozen=True)
class TaskStatus:
    """One task of a connector: ``state`` as Connect says it, ``trace`` when it failed."""

    id: int
    state: str
    trace: str | None = None


@dataclass(frozen=True)
class ConnectorStatus:
    """``GET /connectors/{name}/status``: the connector's state, its tasks' states."""

    name: str
    state: str
    trace: str | None
    tasks: tuple[TaskStatus, ...]

    @property
    def failure(self) -> str | None:
        """The first line of the first failure trace (connector's or a task's), or None."""
        traces = [self.trace] if self.state == "FAILED" else []
        traces += [task.trace for task in self.tasks if task.state == "FAILED"]
        for trace in traces:
            if trace:
                return trace.strip().splitlines()[0][:500]
        if self.state == "FAILED" or any(task.state == "FAILED" for task in self.tasks):
            return "Kafka Connect reports the connector as failed."
        return None


class KafkaConnectClient:
    """Calls to one Kafka Connect cluster at ``url`` (e.g. ``http://127.0.0.1:8083``)."""

    def __init__(self, url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._url = url.rstrip("/")
        self._timeout = timeout_seconds

    def version(self) -> str:
        """The worker's Kafka version (``GET /``)."""
        return str(self._call("GET", "/").get("version", "?"))

    def connector_names(self) -> list[str]:
        """Every connector's name (``GET /connectors``)."""
        names = self._call("GET", "/connectors")
        return sorted(str(name) for name in names)

    def create(self, name: str, config: Mapping[str, str]) -> None:
        """``PUT /connectors/{name}/config``: create the connector, or replace its config."""
        self._call("PUT", f"/connectors/{_q(name)}/config", json=dict(config))

    def status(self, name: str) -> ConnectorStatus | None:
        """The connector's status, or None when Connect has no such connector."""
        body = self._call("GET", f"/connectors/{_q(name)}/status", missing_ok=True)
        if body is None:
            return None
        connector = body.get("connector") or {}
        return ConnectorStatus(
            name=name,
            state=str(connector.get("state", "UNASSIGNED")),
            trace=connector.get("trace"),
            tasks=tuple(
                TaskStatus(int(task.get("id", 0)), str(task.get("state")), task.get("trace"))
                for task in body.get("tasks") or ()
            ),
        )

    def pause(self, name: str) -> None:
        """``PUT /connectors/{name}/pause`` (asynchronous: the tasks stop shortly after)."""
        self._call("PUT", f"/connectors/{_q(name)}/pause")

    def resume(self, name: str) -> None:
        """``PUT /connectors/{name}/resume``."""
        self._call("PUT", f"/connectors/{_q(name)}/resume")

    def stop(self, name: str) -> bool:
        """``PUT /connectors/{name}/stop``; False when there is no such connector."""
        return self._call("PUT", f"/connectors/{_q(name)}/stop", missing_ok=True) is not None

    def reset_offsets(self, name: str) -> None:
        """``DELETE /connectors/{name}/offsets`` (the connector must be STOPPED)."""
        self._call("DELETE", f"/connectors/{_q(name)}/offsets", missing_ok=True)

    def delete(self, name: str) -> None:
        """``DELETE /connectors/{name}``; a missing connector is fine."""
        self._call("DELETE", f"/connectors/{_q(name)}", missing_ok=True)

    def remove(self, name: str, stop_wait_seconds: float = 15.0) -> None:
        """Remove the connector for good: ``stop``, wait until it and its tasks are STOPPED,
        reset its offsets (a later connector of the same name must not resume at the old
        position), ``DELETE``. A missing connector is fine."""
        if not self.stop(name):
            return
        deadline = time.monotonic() + stop_wait_seconds
        while time.monotonic() < deadline:
            status = self.status(name)
            if status is None or (
                status.state == "STOPPED" and all(t.state == "STOPPED" for t in status.tasks)
            ):
                break
            time.sleep(POLL_SECONDS)
        self.reset_offsets(name)
        self.delete(name)

    def _call(self, method: str, path: str, *, json: Any = None, missing_ok: bool = False) -> Any:
        try:
            response = requests.request(method, self._url + path, json=json, timeout=self._timeout)
        except requests.RequestException as error:
            raise BackendUnavailable(UNREACHABLE) from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 500 or response.status_code == 409:
            # 409: a rebalance is in progress; retrying later works.
            raise BackendUnavailable(
                f"Kafka Connect could not do that right now ({response.status_code}); "
                "try again shortly."
            )
        if response.status_code >= 400:
            raise ConnectRefused(f"Kafka Connect refused the request: {_message(response)}")
        if not response.content:
            return {}
        return response.json()


def _q(name: str) -> str:
    return quote(name, safe="")


def _message(response: requests.Response) -> str:
    """Connect's error message (``{"error_code", "message"}``), cut short; withheld when it
    might quote a config value (a password)."""
    try:
        message = str(response.json().get("message", ""))
    except ValueError:
        message = response.text
    first = message.strip().splitlines()[0][:300] if message.strip() else str(response.status_code)
    if any(word in first.lower() for word in ("password", "jaas", "invalid value")):
        return "the connector's configuration was not accepted (details withheld: it has secrets)"
    return first
