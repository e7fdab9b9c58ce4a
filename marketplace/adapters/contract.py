"""The protocol every add-on adapter implements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from marketplace.adapters.values import (
    AddonSpec,
    BackendStatus,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    Usage,
)


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

    def details(self, resource: ResourceRef) -> ResourceDetails:
        """What the dashboard shows beyond usage: connection facts, object lists, actions.

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def perform(self, resource: ResourceRef, action: str, params: Mapping[str, str]) -> str:
        """Run one of :meth:`details`' actions; return a message for the customer.

        :raises ProvisionRejected: bad parameters or a plan cap (nothing changed).
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
