"""The required core every add-on adapter implements, and how an adapter is published."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from marketplace.adapters.values import (
    AddonSpec,
    BackendStatus,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceRef,
)


@runtime_checkable
class AddonAdapter(Protocol):
    """The contract every add-on adapter implements; optional capabilities live in
    :mod:`marketplace.adapters.capabilities`.

    Every method is idempotent: calling it again after a crash or a timeout converges on the
    same backend state. When :meth:`provision` fails, the core calls :meth:`deprovision` to
    remove whatever the failed call created, so adapters need no cleanup blocks of their own.
    """

    spec: AddonSpec

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Create the backend objects and return every declared config var.

        :raises BackendUnavailable: the backend is down.
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
        """Remove everything provision created. Safe to call again, and on a partial
        resource (``resource.config`` and ``resource.state`` may be empty).

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def check(self) -> BackendStatus:
        """Tell whether the backend answers. Never raises."""
        ...


@dataclass(frozen=True)
class AdapterPlugin:
    """What an add-on package publishes under the ``marketplace.adapters`` entry point group:
    its spec (readable without building anything, so the core can read its settings) and a
    factory that builds the adapter from the broker's settings."""

    spec: AddonSpec
    create: Callable[[Mapping[str, Any]], AddonAdapter]

    def __call__(self, settings: Mapping[str, Any]) -> AddonAdapter:
        return self.create(settings)
