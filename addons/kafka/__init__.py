"""Apache Kafka add-on: a multi-tenant slice (prefix, SCRAM user, ACLs, quotas) per resource."""

from collections.abc import Mapping
from typing import Any

from addons.kafka.adapter import KafkaAdapter
from addons.kafka.plans import SPEC
from addons.kafka.topics import TopicInfo, TopicNotFound
from marketplace.adapters import DEFAULT_NAME_PREFIX, AdapterPlugin


def create_adapter(settings: Mapping[str, Any]) -> KafkaAdapter:
    """Build the adapter from ``KAFKA_BOOTSTRAP_SERVERS``, the admin credentials and the prefix.

    ``KAFKA_PUBLIC_BOOTSTRAP_SERVERS``, when set, is what tenants are told to connect to.
    """
    return KafkaAdapter(
        bootstrap_servers=settings["KAFKA_BOOTSTRAP_SERVERS"],
        admin_username=settings["KAFKA_ADMIN_USERNAME"],
        admin_password=settings["KAFKA_ADMIN_PASSWORD"],
        name_prefix=settings.get("BACKEND_NAME_PREFIX") or DEFAULT_NAME_PREFIX,
        public_bootstrap_servers=settings.get("KAFKA_PUBLIC_BOOTSTRAP_SERVERS") or None,
    )


plugin = AdapterPlugin(spec=SPEC, create=create_adapter)

__all__ = ["SPEC", "KafkaAdapter", "TopicInfo", "TopicNotFound", "create_adapter", "plugin"]
