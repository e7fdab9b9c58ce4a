"""How the adapter reaches the cluster, what Kafka's failures mean, and whether a login works.

Every failure to reach Kafka, or a request Kafka fails, becomes :class:`BackendUnavailable`
with a message safe to show users; the details go to the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from marketplace.adapters import BackendUnavailable

log = logging.getLogger(__name__)

UNREACHABLE = "Kafka is not reachable right now; try again shortly."
FAILED = "Kafka failed while serving the request; try again shortly."
TENANT_SASL_MECHANISM = "SCRAM-SHA-512"  # the mechanism of every tenant credential


def split_servers(servers: str) -> list[str]:
    """``"a:9092, b:9092"`` as ``["a:9092", "b:9092"]``."""
    return [server.strip() for server in servers.split(",") if server.strip()]


@dataclass(frozen=True)
class ClusterSettings:
    """Where the cluster is and how the broker's admin user logs in."""

    bootstrap_servers: str
    admin_username: str
    admin_password: str = field(repr=False)
    security_protocol: str = "SASL_PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    timeout_seconds: float = 10.0

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as ``host:port`` strings."""
        return split_servers(self.bootstrap_servers)

    def client_config(self, username: str, password: str) -> dict[str, Any]:
        """confluent-kafka settings for a client logging in as ``username``."""
        return {
            "bootstrap.servers": ",".join(self.servers),
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": username,
            "sasl.password": password,
            "socket.connection.setup.timeout.ms": max(1000, int(self.timeout_seconds * 1000)),
        }


def login_works(settings: ClusterSettings, username: str, password: str) -> bool:
    """Log in as ``username`` once: True if Kafka accepts the credentials, False if it refuses.

    :raises BackendUnavailable: neither answer came within the timeout.
    """
    refused = threading.Event()

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            refused.set()

    # log_level 0: a refused login is an answer here, not something to log. Sparse
    # connections off: librdkafka drops the bootstrap connection once it knows the brokers,
    # and with sparse connections it waits 50 ms before connecting to one again, so a metadata
    # answer lost with the bootstrap connection cost a working login 63 ms instead of 11-22.
    client = AdminClient(
        settings.client_config(username, password)
        | {
            "sasl.mechanism": TENANT_SASL_MECHANISM,
            "error_cb": on_error,
            "log_level": 0,
            "enable.sparse.connections": False,
        }
    )
    deadline = time.monotonic() + settings.timeout_seconds
    while time.monotonic() < deadline:
        try:
            client.list_topics(timeout=0.25)
            return True
        except KafkaException:
            client.poll(0)  # serves error_cb
            if refused.is_set():
                return False
    raise BackendUnavailable(UNREACHABLE)


def wait_for_login(
    settings: ClusterSettings,
    username: str,
    password: str,
    deadline_seconds: float,
    stop: threading.Event | None = None,
) -> None:
    """Poll a real login until it works: SCRAM credentials reach the brokers some time after
    the controller acknowledged them. Returns early, without an answer, once ``stop`` is set.

    :raises BackendUnavailable: the login still fails at the deadline, or Kafka is down.
    """
    deadline = time.monotonic() + deadline_seconds
    pause = 0.05
    stop = stop or threading.Event()
    while not login_works(settings, username, password):
        if time.monotonic() > deadline:
            raise BackendUnavailable(
                "Kafka has not accepted the new credentials yet; try again shortly."
            )
        if stop.wait(pause):
            return
        pause = min(pause * 2, 1.0)


@contextmanager
def login_awaited(
    settings: ClusterSettings, username: str, password: str, deadline_seconds: float
) -> Iterator[None]:
    """Wait for ``username``'s login (:func:`wait_for_login`) in a thread while the body
    makes the tenant's other objects, and once more at its end. A body that raises stops the
    polling and raises on.

    :raises BackendUnavailable: as :func:`wait_for_login`, once the body is done.
    """
    stop = threading.Event()
    failure: list[BaseException] = []

    def poll() -> None:
        try:
            wait_for_login(settings, username, password, deadline_seconds, stop)
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)

    thread = threading.Thread(target=poll, name="kafka-login-check", daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        stop.set()
        raise
    thread.join()
    if failure:
        raise failure[0]


def unavailable(error: KafkaException) -> BackendUnavailable:
    """The :class:`BackendUnavailable` that stands for a confluent-kafka failure."""
    code = kafka_code(error)
    if code is not None and code < 0:  # librdkafka's own codes: transport, timeouts
        return BackendUnavailable(UNREACHABLE)
    log.warning("Kafka refused an admin request: %s", error)
    return BackendUnavailable(FAILED)


def kafka_code(error: BaseException | None) -> int | None:
    """The Kafka error code carried by a :class:`KafkaException`, else None."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        return int(error.args[0].code())
    return None
