"""RabbitMQ add-on (CloudAMQP-like): a vhost and a user per resource on a shared server."""

from collections.abc import Mapping
from typing import Any

from addons.rabbitmq.adapter import RabbitMQAdapter
from addons.rabbitmq.plans import SPEC
from marketplace.adapters import DEFAULT_NAME_PREFIX, AdapterPlugin


def create_adapter(settings: Mapping[str, Any]) -> RabbitMQAdapter:
    """Build the adapter from ``RABBITMQ_MANAGEMENT_URL``, ``RABBITMQ_AMQP_URL`` and the prefix."""
    return RabbitMQAdapter(
        management_url=settings["RABBITMQ_MANAGEMENT_URL"],
        amqp_url=settings["RABBITMQ_AMQP_URL"],
        name_prefix=settings.get("BACKEND_NAME_PREFIX") or DEFAULT_NAME_PREFIX,
    )


plugin = AdapterPlugin(spec=SPEC, create=create_adapter)

__all__ = ["SPEC", "RabbitMQAdapter", "create_adapter", "plugin"]
