"""Value objects of the adapter contract: declarations, requests and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    features: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class ActionField:
    """One input of a dashboard action (``kind`` is ``text`` or ``number``)."""

    name: str
    label: str
    kind: str = "text"
    required: bool = True
    placeholder: str = ""


@dataclass(frozen=True)
class ActionSpec:
    """Something a customer can do to their resource from the dashboard or the JSON API.

    ``confirm`` (when set) is the question asked before a destructive action runs.
    """

    name: str
    label: str
    fields: tuple[ActionField, ...] = ()
    confirm: str = ""


@dataclass(frozen=True)
class Table:
    """Rows the dashboard lists. With ``row_action``, each row gets a button that runs that
    action with ``row_param`` set to the row's first cell."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_action: str | None = None
    row_param: str = "name"


@dataclass(frozen=True)
class ResourceDetails:
    """Add-on specific facts, tables and actions for a resource's dashboard."""

    facts: tuple[tuple[str, str], ...] = ()
    tables: tuple[Table, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
