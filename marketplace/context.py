"""Per-app objects the blueprints need: the adapter registry and the vault."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from marketplace.adapters import AdapterRegistry
from marketplace.services.crypto import Vault

EXTENSION_KEY = "marketplace"


@dataclass(frozen=True)
class Broker:
    """What the app factory wires up once and every request reads."""

    registry: AdapterRegistry
    vault: Vault


def init_broker(app: Flask, broker: Broker) -> None:
    """Attach ``broker`` to ``app``."""
    app.extensions[EXTENSION_KEY] = broker


def broker() -> Broker:
    """The current app's :class:`Broker`."""
    return current_app.extensions[EXTENSION_KEY]
