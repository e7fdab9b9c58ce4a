"""The admin calls the Kafka adapter makes, through confluent-kafka, in the adapter's errors.

Every call waits at most ``ClusterSettings.timeout_seconds`` and fails as
:class:`BackendUnavailable` (see :mod:`addons.kafka.cluster`). "Already gone" answers to
deletions count as success, so removal is repeatable.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from addons.kafka.cluster import (
    FAILED,
    UNREACHABLE,
    ClusterSettings,
    kafka_code,
    unavailable,
)
from marketplace.adapters import BackendUnavailable, ProvisionRejected

log = logging.getLogger(__name__)

SCRAM_ITERATIONS = 8192  # Kafka accepts 4096..16384

# What a tenant may do under its prefix. No CREATE, DELETE or ALTER_CONFIGS on topics: the
# broker creates topics on the tenant's behalf, so the plan's caps hold.
TENANT_ACLS: tuple[tuple[ResourceType, tuple[AclOperation, ...]], ...] = (
    (
        ResourceType.TOPIC,
        (
            AclOperation.READ,
            AclOperation.WRITE,
            AclOperation.DESCRIBE,
            AclOperation.DESCRIBE_CONFIGS,
        ),
    ),
    (ResourceType.GROUP, (AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE)),
    # Transactional producers (Kafka Streams exactly-once) need their transactional.id under
    # the tenant's prefix; idempotent producers need nothing more than WRITE on the topic.
    (ResourceType.TRANSACTIONAL_ID, (AclOperation.WRITE, AclOperation.DESCRIBE)),
)

_TOPIC_REJECTIONS = {
    KafkaError.TOPIC_ALREADY_EXISTS: "A topic with this name already exists.",
    KafkaError.TOPIC_EXCEPTION: "Kafka does not accept this topic name.",
    KafkaError.INVALID_PARTITIONS: "Kafka does not accept this number of partitions.",
    KafkaError.INVALID_CONFIG: "Kafka does not accept this topic configuration.",
    KafkaError.POLICY_VIOLATION: "The cluster's topic policy refuses this topic.",
}


def principal(user: str) -> str:
    """The ACL principal of a SCRAM user."""
    return f"User:{user}"


_clients: dict[tuple[ClusterSettings, int], AdminClient] = {}
_clients_lock = threading.Lock()


def shared_admin_client(settings: ClusterSettings) -> AdminClient:
    """This process's admin client for ``settings``: long-lived and shared by every adapter
    call (librdkafka's clients are thread-safe and reconnect on their own after a broker
    restart), made after gunicorn forks, never inherited through ``fork()``."""
    key = (settings, os.getpid())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = AdminClient(
                settings.client_config(settings.admin_username, settings.admin_password)
                | {"logger": log}
            )
            _clients[key] = client
        return client


class KafkaAdmin:
    """The broker's super user's admin operations, on the process's shared client."""

    def __init__(self, settings: ClusterSettings) -> None:
        self._timeout = settings.timeout_seconds
        self._client = shared_admin_client(settings)

    # --- cluster ----------------------------------------------------------------------------

    def describe_cluster(self) -> tuple[str, int]:
        """The cluster id and its number of brokers."""
        cluster = self._wait(self._client.describe_cluster(request_timeout=self._timeout))
        return cluster.cluster_id or "?", len(cluster.nodes)

    # --- SCRAM users ------------------------------------------------------------------------

    def upsert_user(self, user: str, password: str) -> None:
        """Create ``user`` with ``password``, or replace its password."""
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upsert = UserScramCredentialUpsertion(user, info, password.encode())
        self._wait_all(self._client.alter_user_scram_credentials([upsert]))

    def delete_user(self, user: str) -> None:
        """Delete ``user``'s SCRAM credential (a missing one is fine)."""
        deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
        self._wait_all(
            self._client.alter_user_scram_credentials([deletion]),
            ignore=(KafkaError.RESOURCE_NOT_FOUND,),
        )

    def users(self) -> list[str]:
        """Every user with a SCRAM credential."""
        return list(self._wait(self._client.describe_user_scram_credentials()))

    # --- ACLs -------------------------------------------------------------------------------

    def grant_tenant_acls(self, user: str, prefix: str) -> None:
        """Allow ``user`` :data:`TENANT_ACLS` on topics and groups under ``prefix``."""
        bindings = [
            AclBinding(
                kind,
                prefix,
                ResourcePatternType.PREFIXED,
                principal(user),
                "*",
                operation,
                AclPermissionType.ALLOW,
            )
            for kind, operations in TENANT_ACLS
            for operation in operations
        ]
        self._wait_all(self._client.create_acls(bindings, request_timeout=self._timeout))

    def revoke_tenant_acls(self, user: str, prefix: str) -> None:
        """Delete every ACL of ``user`` and every ACL on the pattern ``prefix``."""
        any_ = (AclOperation.ANY, AclPermissionType.ANY)
        filters = [
            AclBindingFilter(
                ResourceType.ANY, None, ResourcePatternType.ANY, principal(user), None, *any_
            ),
            *(
                AclBindingFilter(kind, prefix, ResourcePatternType.PREFIXED, None, None, *any_)
                for kind, _ in TENANT_ACLS
            ),
        ]
        self._wait_all(self._client.delete_acls(filters, request_timeout=self._timeout))

    def acls(self) -> list[AclBinding]:
        """Every ACL binding on the cluster."""
        everything = AclBindingFilter(
            ResourceType.ANY,
            None,
            ResourcePatternType.ANY,
            None,
            None,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        future = self._client.describe_acls(everything, request_timeout=self._timeout)
        return list(self._wait(future))

    # --- topics -----------------------------------------------------------------------------

    def topics(self) -> dict[str, int]:
        """Every topic the cluster's metadata lists, with its partition count."""
        with _translated():
            metadata = self._client.list_topics(timeout=self._timeout)
        return {name: len(topic.partitions) for name, topic in metadata.topics.items()}

    def tenant_topics(self, prefix: str) -> dict[str, int]:
        """The topics whose names start with ``prefix``, with their partition counts."""
        return {name: count for name, count in self.topics().items() if name.startswith(prefix)}

    def create_topic(self, name: str, partitions: int, config: Mapping[str, str]) -> None:
        """Create a topic and wait until the metadata shows it.

        :raises ProvisionRejected: Kafka refuses the name, partitions or configuration.
        """
        topic = NewTopic(name, num_partitions=partitions, config=dict(config))
        futures = self._client.create_topics(
            [topic], request_timeout=self._timeout, operation_timeout=self._timeout
        )
        for future in futures.values():
            self._wait(future, rejections=_TOPIC_REJECTIONS)
        self._await_metadata(lambda topics: topics.get(name) == partitions)

    def delete_topics(self, names: Iterable[str]) -> None:
        """Delete topics (missing ones are fine) and wait until the metadata drops them."""
        names = list(names)
        if not names:
            return
        futures = self._client.delete_topics(
            names, request_timeout=self._timeout, operation_timeout=self._timeout
        )
        self._wait_all(futures, ignore=(KafkaError.UNKNOWN_TOPIC_OR_PART,))
        self._await_metadata(lambda topics: not set(names) & set(topics))

    def retention_ms(self, names: Iterable[str]) -> dict[str, int]:
        """Each topic's ``retention.ms`` (-1 means unlimited)."""
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        if not resources:
            return {}
        futures = self._client.describe_configs(resources, request_timeout=self._timeout)
        return {
            resource.name: int(self._wait(future)["retention.ms"].value)
            for resource, future in futures.items()
        }

    # --- consumer groups --------------------------------------------------------------------

    def groups(self) -> list[str]:
        """Every consumer group id."""
        listing = self._wait(self._client.list_consumer_groups(request_timeout=self._timeout))
        return [group.group_id for group in listing.valid]

    def delete_groups(self, group_ids: Iterable[str]) -> list[str]:
        """Delete consumer groups; return those that still have members (and so remain)."""
        group_ids = list(group_ids)
        if not group_ids:
            return []
        futures = self._client.delete_consumer_groups(group_ids, request_timeout=self._timeout)
        busy = []
        for group_id, future in futures.items():
            self._wait(future, ignore=(KafkaError.GROUP_ID_NOT_FOUND, KafkaError.NON_EMPTY_GROUP))
            if kafka_code(future.exception()) == KafkaError.NON_EMPTY_GROUP:
                busy.append(group_id)
        return busy

    # --- internals --------------------------------------------------------------------------

    def _wait(
        self,
        future: Future[Any],
        ignore: tuple[int, ...] = (),
        rejections: Mapping[int, str] | None = None,
    ) -> Any:
        """The future's result; None for an error code in ``ignore``.

        :raises ProvisionRejected: the error code is a key of ``rejections``.
        :raises BackendUnavailable: any other failure.
        """
        try:
            return future.result(timeout=self._timeout + 5)
        except FutureTimeout as error:
            raise BackendUnavailable(UNREACHABLE) from error
        except KafkaException as error:
            code = kafka_code(error)
            if code in ignore:
                return None
            if rejections and code is not None and code in rejections:
                raise ProvisionRejected(rejections[code]) from error
            raise unavailable(error) from error

    def _wait_all(self, futures: Mapping[Any, Future[Any]], ignore: tuple[int, ...] = ()) -> None:
        for future in futures.values():
            self._wait(future, ignore)

    def _await_metadata(self, done: Callable[[dict[str, int]], bool]) -> None:
        """Poll the metadata until ``done(topics)``: topic changes reach it asynchronously."""
        deadline = time.monotonic() + self._timeout
        while not done(self.topics()):
            if time.monotonic() > deadline:
                raise BackendUnavailable(FAILED)
            time.sleep(0.05)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except KafkaException as error:
        raise unavailable(error) from error
