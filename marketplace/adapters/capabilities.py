"""Optional capabilities: each a Protocol of its own, implemented only by adapters that
offer it. The core asks ``isinstance(adapter, Capability)`` and shows or hides features.

| capability            | adds                                                        |
| --------------------- | ----------------------------------------------------------- |
| :class:`Metering`     | usage against the plan's limits                             |
| :class:`Dashboard`    | details for the resource's dashboard                        |
| :class:`Actions`      | actions on the dashboard and the JSON API (may redirect)    |
| :class:`Rotation`     | credential rotation                                         |
| :class:`Reconciliation` | the backend objects the broker owns, and orphan removal   |
| :class:`Background`   | periodic ticks in the worker, under the resource's lease    |
| :class:`DataService`  | tables served as entity sets (External Objects' OData)      |
| :class:`TableCatalog` | the tables a data service could share, and why not          |
| :class:`Linking`      | reactions to links the core made to other resources         |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from marketplace.adapters.data import EntitySet, Query, QueryResult, TableCandidate, Write
from marketplace.adapters.values import (
    ActionResult,
    BackendObject,
    LinkedResource,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    TickResult,
    Usage,
)


@runtime_checkable
class Metering(Protocol):
    """Measures a resource against its plan."""

    def usage(self, resource: ResourceRef) -> Usage:
        """Measure the resource against its plan's limits. Figures that decide plan changes
        must come from where the tenant cannot forge them.

        :raises BackendUnavailable: the backend is down.
        """
        ...


@runtime_checkable
class Dashboard(Protocol):
    """Add-on specific facts on the resource's dashboard and its JSON twin."""

    def details(self, resource: ResourceRef) -> ResourceDetails:
        """Connection facts, object lists and the actions on offer (see :class:`Actions`).

        :raises BackendUnavailable: the backend is down.
        """
        ...


@runtime_checkable
class Actions(Protocol):
    """Things a customer can do to the resource from its dashboard or the JSON API.

    An adapter may also name, in a ``core_actions`` attribute (a set of action names),
    actions that only the core calls on the customer's behalf (an OAuth callback after the
    core checked its signed state): the dashboard and the JSON API refuse those.
    """

    def perform(
        self, resource: ResourceRef, action: str, params: Mapping[str, str]
    ) -> ActionResult:
        """Run one of :meth:`details`' actions.

        :raises ProvisionRejected: unknown action, bad parameters or a plan cap (nothing
            changed).
        :raises BackendUnavailable: the backend is down.
        """
        ...


@runtime_checkable
class Rotation(Protocol):
    """Credentials the customer can replace."""

    def rotate_credentials(self, resource: ResourceRef) -> ProvisionResult:
        """Replace the resource's credentials; return the config vars that changed.

        :raises BackendUnavailable: the backend is down (nothing changed).
        """
        ...


@runtime_checkable
class Reconciliation(Protocol):
    """Backend objects the broker owns, for the reconciler's orphan search."""

    def owned(self) -> Iterable[BackendObject]:
        """Every backend object that carries this broker's naming prefix.

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def objects_of(self, resource: ResourceRef) -> set[BackendObject]:
        """The objects :meth:`owned` reports for this resource (``resource.state`` may name
        objects made elsewhere)."""
        ...

    def remove_orphan(self, orphan: BackendObject) -> None:
        """Remove one object listed by :meth:`owned` that no resource owns.

        :raises ValueError: the object does not carry this broker's prefix.
        :raises BackendUnavailable: the backend is down.
        """
        ...


@runtime_checkable
class Background(Protocol):
    """Work that goes on after provisioning (a sync loop), in short resumable ticks."""

    def tick(self, resource: ResourceRef) -> TickResult:
        """Do one short step of work and say when to come back. The worker holds the
        resource's lease meanwhile; a killed worker's tick runs again later, so a tick must
        be safe to repeat from the state it was given.

        :raises BackendUnavailable: try again later (the worker backs off).
        """
        ...


@runtime_checkable
class DataService(Protocol):
    """Tables of a resource served as entity sets (External Objects).

    Which tables are shared is the customer's choice, kept by the core: on every call of
    this protocol the core passes it in ``resource.state["external_objects"]["tables"]``, a
    list of ``"schema.table"`` names (unquoted), whatever the adapter's own stored state
    says (the core also stores it there when the customer changes it, so the adapter sees
    it on its other calls). An adapter serves those tables only. Entity set names are
    ``<schema>$<table>``, as Heroku External Objects names them.
    """

    def entity_sets(self, resource: ResourceRef) -> Sequence[EntitySet]:
        """The shared tables and views, with columns and keys. A shared table that is gone
        or no longer shareable is left out.

        :raises BackendUnavailable: the backend is down.
        """
        ...

    def query(self, resource: ResourceRef, entity_set: EntitySet, query: Query) -> QueryResult:
        """Run a structured read whose column names the core has checked.

        :raises ProvisionRejected: a value the column's type cannot take (HTTP 400).
        :raises BackendUnavailable: the backend is down.
        """
        ...

    def write(
        self, resource: ResourceRef, entity_set: EntitySet, write: Write
    ) -> Mapping[str, object] | None:
        """Insert, update or delete one row; return the row as it now is (insert, update) or
        as it was (delete), in :class:`QueryResult`'s value types, or None when no row has
        the key (update, delete).

        :raises ProvisionRejected: a constraint or type refused the write (nothing changed).
        :raises BackendUnavailable: the backend is down.
        """
        ...


@runtime_checkable
class TableCatalog(Protocol):
    """The tables a :class:`DataService` could share: the core's table picker and its check
    of a customer's choice."""

    def table_candidates(self, resource: ResourceRef) -> Sequence[TableCandidate]:
        """Every table and view the resource's database has outside the system schemas,
        each with why it cannot be shared (None when it can).

        :raises BackendUnavailable: the backend is down (or the database is not attached).
        """
        ...


@runtime_checkable
class Linking(Protocol):
    """Reactions to the links the core makes and breaks (see ``AddonSpec.links``)."""

    def link_attached(self, resource: ResourceRef, target: LinkedResource) -> ActionResult:
        """A link now points at ``target`` (already checked: same app, right add-on).

        :raises ProvisionRejected: the adapter refuses this target (the link is not made).
        :raises BackendUnavailable: the backend is down (the link is not made).
        """
        ...

    def link_removed(self, resource: ResourceRef, link: str) -> ActionResult:
        """The link's target is being deprovisioned (or detached): stop using it and release
        what was made on it. Never raises for a target that is already gone; the message
        explains the new situation on the dashboard."""
        ...


__all__ = [
    "Actions",
    "Background",
    "Dashboard",
    "DataService",
    "Linking",
    "Metering",
    "Reconciliation",
    "Rotation",
    "TableCatalog",
]
