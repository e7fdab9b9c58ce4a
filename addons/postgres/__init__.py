"""PostgreSQL add-on: a database and an owner role per resource on a shared server."""

from collections.abc import Mapping
from typing import Any

from addons.postgres.adapter import PostgresAdapter
from addons.postgres.data_connectors import DEFAULT_KAFKA_CONNECT_URL
from addons.postgres.plans import SPEC
from marketplace.adapters import DEFAULT_NAME_PREFIX, AdapterPlugin


def create_adapter(settings: Mapping[str, Any]) -> PostgresAdapter:
    """Build the adapter from the broker's settings (``POSTGRES_ADMIN_URL`` and friends)."""
    adapter = PostgresAdapter(
        admin_url=settings["POSTGRES_ADMIN_URL"],
        public_host=settings.get("POSTGRES_PUBLIC_HOST") or None,
        name_prefix=settings.get("BACKEND_NAME_PREFIX") or DEFAULT_NAME_PREFIX,
        reserved_connections=int(settings.get("POSTGRES_RESERVED_CONNECTIONS", 10)),
    )
    adapter.configure_data_connectors(
        settings.get("KAFKA_CONNECT_URL") or DEFAULT_KAFKA_CONNECT_URL,
        sslmode=settings.get("DATA_CONNECTOR_SSLMODE") or None,
    )
    return adapter


plugin = AdapterPlugin(spec=SPEC, create=create_adapter)

__all__ = ["SPEC", "PostgresAdapter", "create_adapter", "plugin"]
