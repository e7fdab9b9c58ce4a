"""Per-app objects the blueprints and jobs need: registry, vault, queue, async settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

from marketplace.adapters import AdapterRegistry
from marketplace.services.async_settings import AsyncSettings
from marketplace.services.crypto import Vault
from marketplace.services.lifecycle import Lifecycle

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
    return cast(Broker, current_app.extensions[EXTENSION_KEY])


def lifecycle() -> Lifecycle:
    """A :class:`Lifecycle` on the current app's adapters and vault."""
    state = broker()
    return Lifecycle(state.registry, state.vault)
