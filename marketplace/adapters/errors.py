"""The errors adapters raise on purpose; the core maps each to an HTTP status once."""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error an adapter raises on purpose. ``message`` is safe to show users."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BackendUnavailable(AdapterError):
    """The backend cannot be reached or answered with a server-side failure (HTTP 503)."""


class ProvisionRejected(AdapterError):
    """The request cannot be served as asked, for example a bad option value (HTTP 422)."""


class PlanChangeRejected(AdapterError):
    """The resource does not fit the target plan, for example storage above its limit (422)."""
