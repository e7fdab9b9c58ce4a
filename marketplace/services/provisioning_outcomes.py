"""What the Partner API's provisioning service is asked (:class:`ProvisionCommand`) and the
domain results it answers with; the blueprint maps each result to an HTTP status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ProvisionCommand:
    """A parsed provision request."""

    uuid: str
    plan: str
    region: str | None = None
    name: str | None = None
    callback_url: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    grant_code: str | None = None
    grant_expires_at: datetime | None = None
    log_input_url: str | None = None
    log_drain_token: str | None = None


@dataclass(frozen=True)
class Provisioned:
    """The resource exists: its id, every config var and a message (the same on retries)."""

    id: str
    config: Mapping[str, str]
    message: str


@dataclass(frozen=True)
class Accepted:
    """The work goes on in the worker; the platform hears back through its API."""

    id: str
    message: str


@dataclass(frozen=True)
class PlanChanged:
    """The plan changed (or already was the one asked for); ``config`` holds changed vars."""

    message: str
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Removed:
    """Everything is gone."""


@dataclass(frozen=True)
class RemovalAccepted:
    """The removal goes on in the worker; the platform hears back through its API."""

    message: str


ProvisionOutcome = Provisioned | Accepted
RemovalOutcome = Removed | RemovalAccepted
