"""The data connector service for the current app."""

from __future__ import annotations

from flask import current_app

from marketplace.context import lifecycle
from marketplace.services.data_connectors import DataConnectorService


def service() -> DataConnectorService:
    """A :class:`DataConnectorService` on the current app's adapters and settings."""
    return DataConnectorService(lifecycle(), int(current_app.config["CDC_MAX_PAUSED_LAG_BYTES"]))
