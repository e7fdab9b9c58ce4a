"""The Kafka topics of data connectors, created on the Kafka tenant's behalf.

A connector writes ``<prefix><name>.<schema>.<table>`` per captured table and its heartbeats
to ``<prefix><name>.heartbeat``. Tenants may not create topics, and Kafka Connect creating them
would bypass the Kafka plan's caps, so the broker creates them here, through the Kafka
adapter's topic methods (under the Kafka resource's lease, as its dashboard actions do), before
the connector starts. Existing topics are kept and reused (a connector re-created with the same
name continues in them); topics outlive their connector with their events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select

from marketplace.adapters import AdapterError, ConnectorSpec, KafkaLogin, ResourceRef
from marketplace.errors import NotFound, Unprocessable
from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.services.leases import request_lease
from marketplace.services.lifecycle import Lifecycle

log = logging.getLogger(__name__)

TOPIC_PARTITIONS = 1
HEARTBEAT_RETENTION_MS = 3600 * 1000


@runtime_checkable
class TopicHosting(Protocol):
    """What the core needs of the Kafka adapter: its tenant's topics, created within caps."""

    def list_topics(self, resource: ResourceRef) -> Sequence[Any]:
        """Topics with ``.name`` (without the tenant prefix)."""
        ...

    def create_topic(
        self, resource: ResourceRef, name: str, partitions: int, retention_ms: int | None = None
    ) -> Any:
        """Create a topic within the plan's caps (:raises ProvisionRejected: over a cap)."""
        ...

    def delete_topic(self, resource: ResourceRef, name: str) -> None:
        """Delete a topic."""
        ...


class ConnectorTopics:
    """Create and remove connector topics through the Kafka resource's adapter."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle

    def ensure(self, kafka_uuid: str, spec: ConnectorSpec, login: KafkaLogin) -> list[str]:
        """Create the connector's missing topics (under the Kafka resource's lease, within
        its plan's caps); return the names created (without the prefix)."""
        with request_lease(kafka_uuid):
            kafka = _resource(kafka_uuid)
            adapter = self._lifecycle.adapter(kafka)
            if not isinstance(adapter, TopicHosting):
                raise Unprocessable(f"{kafka.addon.name} resources cannot take data connectors.")
            ref = self._lifecycle.ref(kafka, links=False)
            db.session.commit()
            existing = {topic.name for topic in adapter.list_topics(ref)}
            wanted: list[tuple[str, int | None]] = [
                (spec.topic_of(login, table).removeprefix(login.prefix), None)
                for table in spec.tables
            ]
            wanted.append(
                (spec.heartbeat_topic(login).removeprefix(login.prefix), HEARTBEAT_RETENTION_MS)
            )
            made: list[str] = []
            try:
                for name, retention in wanted:
                    if name not in existing:
                        adapter.create_topic(ref, name, TOPIC_PARTITIONS, retention)
                        made.append(name)
            except AdapterError:
                self._delete_locked(adapter, ref, made)
                raise
        return made

    def delete(self, kafka_uuid: str, names: list[str]) -> None:
        if not names:
            return
        with request_lease(kafka_uuid):
            kafka = _resource(kafka_uuid)
            adapter = self._lifecycle.adapter(kafka)
            ref = self._lifecycle.ref(kafka, links=False)
            db.session.commit()
            if isinstance(adapter, TopicHosting):
                self._delete_locked(adapter, ref, names)

    @staticmethod
    def _delete_locked(adapter: TopicHosting, ref: ResourceRef, names: list[str]) -> None:
        for name in names:
            try:
                adapter.delete_topic(ref, name)
            except AdapterError:
                log.warning("a topic made for a failed connector remains", extra={"topic": name})


def _resource(uuid: str) -> Resource:
    resource = db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )
    if resource is None:
        raise NotFound("No resource with this uuid.")
    return resource
