"""The adapter contract: what an add-on adapter declares, what it is given, what it returns.

Adapters live under ``addons/`` and import only this module (plus their own driver libraries).
They never see Flask, the database session or the broker's models: the core hands them plain
value objects and persists what they return.

Backend object names must derive deterministically from ``ResourceRef.resource_id`` (see
:func:`backend_name`) so that a retried step finds what an earlier try created and a
reconciler can tell the broker's objects from anybody else's.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_NAME_PREFIX",
    "AdapterError",
    "AdapterRegistry",
    "AddonAdapter",
    "AddonSpec",
    "BackendStatus",
    "BackendUnavailable",
    "PlanChangeRejected",
    "PlanSpec",
    "ProvisionRejected",
    "ProvisionRequest",
    "ProvisionResult",
    "ResourceRef",
    "Usage",
    "UsageMetric",
    "backend_name",
    "random_password",
]


# --- declarations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSpec:
    """One plan of an add-on, as the catalog shows it and the adapter enforces it.

    ``limits`` is free-form per add-on (for example ``{"max_connections": 20,
    "storage_bytes": 1073741824}``); the catalog publishes it as is and the adapter reads it.
    """

    slug: str
    human_name: str
    description: str
    price_cents: int
    limits: Mapping[str, int]
    default: bool = False
    asynchronous: bool = False


@dataclass(frozen=True)
class AddonSpec:
    """What an adapter declares about its add-on: catalog entry, manifest and plans."""

    slug: str
    name: str
    summary: str
    description: str
    category: str
    config_vars_prefix: str
    config_vars: tuple[str, ...]
    plans: tuple[PlanSpec, ...]
    regions: tuple[str, ...] = ("us",)
    requires: tuple[str, ...] = ()
    asynchronous_deprovision: bool = False

    def plan(self, slug: str) -> PlanSpec | None:
        """Return the plan called ``slug``, or None."""
        return next((p for p in self.plans if p.slug == slug), None)

    @property
    def default_plan(self) -> PlanSpec:
        """The plan marked default, else the first one."""
        return next((p for p in self.plans if p.default), self.plans[0])


# --- calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionRequest:
    """A request to create the backend objects for one resource."""

    resource_id: str
    plan: PlanSpec
    region: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceRef:
    """An existing resource, as the adapter needs it for later calls."""

    resource_id: str
    plan: PlanSpec
    region: str
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProvisionResult:
    """What a provision, plan change or credential rotation hands back.

    ``config`` holds every declared config var whose value is new (all values strings);
    it may be empty for a plan change that changes no config.
    """

    config: Mapping[str, str]
    message: str = ""


@dataclass(frozen=True)
class UsageMetric:
    """One measured quantity against its plan limit (``limit`` None means unlimited)."""

    name: str
    label: str
    value: float
    limit: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Usage:
    """What a dashboard shows about a resource."""

    metrics: tuple[UsageMetric, ...]

    def metric(self, name: str) -> UsageMetric | None:
        """Return the metric called ``name``, or None."""
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True)
class BackendStatus:
    """Result of :meth:`AddonAdapter.check`."""

    ok: bool
    detail: str = ""


# --- errors ---------------------------------------------------------------------------------


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


# --- the protocol ---------------------------------------------------------------------------


@runtime_checkable
class AddonAdapter(Protocol):
    """The contract every add-on adapter implements.

    Every method is idempotent: calling it again after a crash or a timeout converges on the
    same backend state. On failure an adapter removes what the failed call created before it
    raises.
    """

    spec: AddonSpec

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Create the backend objects and return every declared config var.

        :raises BackendUnavailable: the backend is down; nothing is left behind.
        :raises ProvisionRejected: the request cannot be served as asked.
        """
        ...

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        """Apply ``new_plan``'s limits; return config vars that changed (often none).

        :raises PlanChangeRejected: the data does not fit ``new_plan``; nothing changed.
        :raises BackendUnavailable: the backend is down.
        """
        ...

    def deprovision(self, resource: ResourceRef) -> None:
        """Remove everything provision created. Safe to call again, and on a partial resource.

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def usage(self, resource: ResourceRef) -> Usage:
        """Measure the resource against its plan's limits.

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def rotate_credentials(self, resource: ResourceRef) -> ProvisionResult:
        """Replace the resource's credentials and return the config vars that changed.

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def check(self) -> BackendStatus:
        """Tell whether the backend answers. Never raises."""
        ...

    def owned_names(self) -> Iterable[str]:
        """List the backend objects that carry this broker's naming prefix (for reconcilers).

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def backend_names(self, resource_id: str) -> set[str]:
        """The names :meth:`owned_names` reports for this resource's objects."""
        ...

    def remove_orphan(self, name: str) -> None:
        """Remove one object listed by :meth:`owned_names` that no resource owns.

        :raises BackendUnavailable: the backend is down.
        """
        ...


# --- helpers for adapters -------------------------------------------------------------------

_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 40) -> str:
    """Return a random alphanumeric password (safe in URLs without escaping)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


DEFAULT_NAME_PREFIX = "mkt_"


def backend_name(prefix: str, resource_id: str, length: int = 16) -> str:
    """Derive a stable, opaque backend object name from a resource id.

    The same ``resource_id`` always gives the same name, so retries find earlier work;
    the hash keeps the platform's ids out of names other tenants can list.
    """
    digest = hashlib.sha256(resource_id.encode()).hexdigest()[:length]
    return f"{prefix}{digest}"


# --- registry -------------------------------------------------------------------------------

ENTRY_POINT_GROUP = "marketplace.adapters"


class AdapterRegistry:
    """The adapters this broker serves, keyed by add-on slug."""

    def __init__(self, adapters: Iterable[AddonAdapter] = ()) -> None:
        self._adapters: dict[str, AddonAdapter] = {}
        for adapter in adapters:
            self.add(adapter)

    def add(self, adapter: AddonAdapter) -> None:
        """Register ``adapter``; a second adapter for the same slug is a programming error."""
        slug = adapter.spec.slug
        if slug in self._adapters:
            raise ValueError(f"two adapters declare the add-on {slug!r}")
        self._adapters[slug] = adapter

    def get(self, slug: str) -> AddonAdapter | None:
        """Return the adapter for ``slug``, or None."""
        return self._adapters.get(slug)

    def __iter__(self) -> Iterator[AddonAdapter]:
        return iter(self._adapters.values())

    def __len__(self) -> int:
        return len(self._adapters)

    @property
    def slugs(self) -> list[str]:
        """Registered slugs, sorted."""
        return sorted(self._adapters)


def discover_adapter_factories(enabled: Iterable[str] | None = None) -> dict[str, Any]:
    """Load the adapter classes published under the ``marketplace.adapters`` entry point group.

    :param enabled: entry point names to keep; None keeps all.
    """
    wanted = set(enabled) if enabled is not None else None
    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if wanted is None or ep.name in wanted:
            found[ep.name] = ep.load()
    return found
