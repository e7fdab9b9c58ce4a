"""Client quotas and log-dir sizes through kafka-python: the adapter's only kafka-python code.

Why a second Kafka client: confluent-kafka 2.16 (librdkafka 2.16) has no API for client
quotas (KIP-546: AlterClientQuotas, DescribeClientQuotas; librdkafka PR #5560 is still open)
nor for DescribeLogDirs. kafka-python 3.0 has ``describe_log_dirs()``, and it has the quota
*protocol classes* but no admin method for them. So :class:`QuotaAdmin` builds those requests
itself and sends them through the admin client's connection manager, exactly as kafka-python's
own admin methods do (``self._manager.run(...)`` around ``await self._manager.send(request)``).

That is private API: kafka-python is pinned to 3.0.x in pyproject.toml, and the functional
tests alter and describe quotas on the real broker (one of them cross-checks with Kafka's own
``kafka-configs`` tool). The alternative, running ``kafka.admin.ConfigCommand`` on a JVM, costs
about 2.5 s per call against about 0.1 s here. Drop this module for confluent-kafka's API once
it ships one.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from addons.kafka.cluster import FAILED, UNREACHABLE, ClusterSettings
from marketplace.adapters import BackendUnavailable

with warnings.catch_warnings():
    # kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text, which
    # Python 3.11 deprecates; the warning is the library's, not ours.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.errors as kafka_errors
    from kafka.admin import KafkaAdminClient
    from kafka.protocol.admin import AlterClientQuotasRequest, DescribeClientQuotasRequest

log = logging.getLogger(__name__)

USER_ENTITY = "user"
MATCH_EXACT, MATCH_SPECIFIED = 0, 2  # DescribeClientQuotas match types (2: any named entity)


class _ClosingAdminClient(KafkaAdminClient):  # type: ignore[misc]
    """kafka-python's admin client, minus the IO thread it leaks when bootstrapping fails.

    kafka-python 3.0.12 also leaves the socket of a refused connection to the garbage
    collector (a ResourceWarning). So the adapter opens this client only after confluent-kafka
    has reached the cluster in the same call: a Kafka that is down never gets this far.
    """

    def __init__(self, **configs: Any) -> None:
        try:
            super().__init__(**configs)
        except BaseException:
            if getattr(self, "_client", None) is not None:
                self._client.close()
            if getattr(self, "_net", None) is not None:
                self._net.stop()
            raise


_shared: dict[tuple[ClusterSettings, int], KafkaAdminClient] = {}
_shared_lock = threading.Lock()
_in_use: dict[tuple[ClusterSettings, int], threading.Lock] = {}


class QuotaAdmin:
    """kafka-python's admin connection for one adapter call (use it as a context manager).

    The connection itself is long-lived: one per process and cluster, made on first use
    (after gunicorn forks), held by one call at a time (kafka-python's client is not
    thread-safe), and replaced when a call fails on it (a broker restart)."""

    def __init__(self, settings: ClusterSettings) -> None:
        self._settings = settings
        self._key = (settings, os.getpid())
        with _shared_lock:
            self._turn = _in_use.setdefault(self._key, threading.Lock())
        self._client: KafkaAdminClient | None = None
        self._held = False

    def __enter__(self) -> QuotaAdmin:
        self._turn.acquire()
        self._held = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            broken = isinstance(error, BackendUnavailable | kafka_errors.KafkaError)
            if broken and self._client is not None:
                with _shared_lock:  # it may be broken: the next call connects afresh
                    _shared.pop(self._key, None)
                self._client.close()
        finally:
            self._client = None
            if self._held:
                self._held = False
                self._turn.release()

    def _connect(self) -> KafkaAdminClient:
        # kafka-python warns "credentials in the clear" on every SASL_PLAINTEXT login, although
        # SCRAM never sends the password; the listener's security is the operator's choice.
        logging.getLogger("kafka.net.sasl.scram").setLevel(logging.ERROR)
        timeout_ms = int(self._settings.timeout_seconds * 1000)
        try:
            return _ClosingAdminClient(
                bootstrap_servers=self._settings.servers,
                security_protocol=self._settings.security_protocol,
                sasl_mechanism=self._settings.sasl_mechanism,
                sasl_plain_username=self._settings.admin_username,
                sasl_plain_password=self._settings.admin_password,
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
                client_id="marketplace-broker",
            )
        except kafka_errors.KafkaError as error:
            raise BackendUnavailable(UNREACHABLE) from error

    # --- quotas -----------------------------------------------------------------------------

    def set_user_quotas(self, user: str, quotas: Mapping[str, float]) -> None:
        """Set (add or replace) the quotas ``quotas`` on ``user``."""
        self._alter(user, [(key, float(value), False) for key, value in quotas.items()])

    def remove_user_quotas(self, user: str) -> None:
        """Remove every quota set on ``user`` (none is fine)."""
        current = self.user_quotas(user)
        if current:
            self._alter(user, [(key, 0.0, True) for key in current])

    def user_quotas(self, user: str) -> dict[str, float]:
        """The quotas set on ``user`` itself (empty when none)."""
        return self._describe(MATCH_EXACT, user).get(user, {})

    def users_with_quotas(self) -> list[str]:
        """Every user that has quotas of its own."""
        return list(self._describe(MATCH_SPECIFIED, None))

    # --- log dirs ---------------------------------------------------------------------------

    def bytes_on_disk(self, topics: Iterable[str]) -> int:
        """The size of every partition replica of ``topics``, over all brokers' log dirs."""
        topics = list(topics)
        if not topics:
            return 0
        with _translated():
            brokers = self._admin.describe_log_dirs(topic_partitions=topics)
        return sum(
            partition["partition_size"]
            for broker in brokers
            for log_dir in broker["log_dirs"]
            for topic in log_dir["topics"]
            if topic["name"] in topics
            for partition in topic["partitions"]
        )

    # --- internals --------------------------------------------------------------------------

    @property
    def _admin(self) -> KafkaAdminClient:
        """The shared connection, opened on first use (so a call that needs none opens none)."""
        if self._client is None:
            with _shared_lock:
                client = _shared.get(self._key)
            if client is None:
                client = self._connect()
                with _shared_lock:
                    _shared[self._key] = client
            self._client = client
        return self._client

    def _send(self, request: Any) -> Any:
        admin = self._admin

        async def send() -> Any:
            return await admin._manager.send(request)

        with _translated():
            return admin._manager.run(send)

    def _alter(self, user: str, ops: list[tuple[str, float, bool]]) -> None:
        entry = AlterClientQuotasRequest.EntryData
        request = AlterClientQuotasRequest(
            entries=[
                entry(
                    entity=[entry.EntityData(entity_type=USER_ENTITY, entity_name=user)],
                    ops=[entry.OpData(key=k, value=v, remove=r) for k, v, r in ops],
                )
            ],
            validate_only=False,
        )
        for result in self._send(request).entries:
            _raise_for(result.error_code, result.error_message)

    def _describe(self, match_type: int, match: str | None) -> dict[str, dict[str, float]]:
        component = DescribeClientQuotasRequest.ComponentData(
            entity_type=USER_ENTITY, match_type=match_type, match=match
        )
        response = self._send(DescribeClientQuotasRequest(components=[component], strict=True))
        _raise_for(response.error_code, response.error_message)
        found: dict[str, dict[str, float]] = {}
        for entry in response.entries or []:
            users = [e.entity_name for e in entry.entity if e.entity_type == USER_ENTITY]
            if len(users) == 1 and users[0] is not None:
                found[users[0]] = {value.key: value.value for value in entry.values}
        return found


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except kafka_errors.KafkaError as error:
        retriable = isinstance(error, kafka_errors.RetriableError)
        raise BackendUnavailable(UNREACHABLE if retriable else FAILED) from error


def _raise_for(error_code: int, message: str | None) -> None:
    if error_code:
        error = kafka_errors.for_code(error_code)(message)
        log.warning("Kafka refused a client quota request: %r", error)
        raise BackendUnavailable(FAILED) from error
