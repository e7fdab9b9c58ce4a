"""Per-app objects the blueprints and jobs need: registry, vault, queue, async settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from marketplace.adapters import AdapterRegistry
from marketplace.services.async_provisioning import AsyncSettings
from marketplace.services.crypto import Vault

if TYPE_CHECKING:
    from marketplace.queue import JobQueue

EXTENSION_KEY = "marketplace"


@dataclass(frozen=True)
class Broker:
    """What the app factory wires up once and every request or job reads."""

    registry: AdapterRegistry
    vault: Vault
    queue: JobQueue
    async_settings: AsyncSettings


def init_broker(app: Flask, broker: Broker) -> None:
    """Attach ``broker`` to ``app``."""
    app.extensions[EXTENSION_KEY] = broker


def broker() -> Broker:
    """The current app's :class:`Broker`."""
    return current_app.extensions[EXTENSION_KEY]


def async_settings_from(config: Any) -> AsyncSettings:
    """Build :class:`AsyncSettings` from the app config."""
    return AsyncSettings(
        api_url=config["PLATFORM_API_URL"],
        id_url=config["PLATFORM_ID_URL"],
        default_client_secret=config["OAUTH_CLIENT_SECRET"],
        client_secrets=dict(config["OAUTH_CLIENT_SECRETS"]),
        deadline=timedelta(seconds=float(config["ASYNC_DEADLINE_SECONDS"])),
        lease=timedelta(seconds=float(config["JOB_LEASE_SECONDS"])),
        retry_base_seconds=float(config["RETRY_BASE_SECONDS"]),
        retry_max_seconds=float(config["RETRY_MAX_SECONDS"]),
    )
