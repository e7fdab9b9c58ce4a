"""Value objects of the adapter contract: declarations, requests and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marketplace.adapters.spec_checks import spec_problems

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
class Setting:
    """One environment variable an adapter (or the core) reads, declared once.

    ``kind`` is how the value is parsed: ``str``, ``int``, ``float``, ``bool``, ``list``
    (comma-separated) or ``dict`` (``k=v,k2=v2``). ``secret`` settings are never logged or shown.
    The README's configuration table lists every declared setting (a test checks it).
    """

    env: str
    default: Any
    help: str
    kind: str = "str"
    secret: bool = False


@dataclass(frozen=True)
class LinkSpec:
    """A link this add-on's resources make to a resource of another add-on of the same app.

    For example Connect declares ``LinkSpec("database", "postgres", ...)``: a connection
    attaches to one Postgres resource. The core resolves targets (by uuid or resource name,
    same app only) and tells the adapter when a target goes away.
    """

    name: str
    addon: str
    description: str


@dataclass(frozen=True)
class AddonSpec:
    """What an adapter declares about its add-on: catalog entry, manifest, plans, settings.

    Checked when built (see :mod:`marketplace.adapters.spec_checks`): lowercase slugs for the
    add-on and its plans (letters, digits, dashes), one plan per slug, at least one plan and
    region, exactly one default plan, config vars in uppercase under
    ``<config_vars_prefix>_``, integer limits, non-negative prices, known setting kinds.

    :raises ValueError: the declaration breaks one of those rules (all are named).
    """

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
    settings: tuple[Setting, ...] = ()
    links: tuple[LinkSpec, ...] = ()

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise ValueError(f"add-on spec {self.slug!r} is invalid: {'; '.join(problems)}.")

    def plan(self, slug: str) -> PlanSpec | None:
        """Return the plan called ``slug``, or None."""
        return next((p for p in self.plans if p.slug == slug), None)

    def link(self, name: str) -> LinkSpec | None:
        """Return the link called ``name``, or None."""
        return next((link for link in self.links if link.name == name), None)

    @property
    def default_plan(self) -> PlanSpec:
        """The plan marked default (a valid spec has exactly one)."""
        return next((p for p in self.plans if p.default), self.plans[0])


# --- calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionRequest:
    """A request to create the backend objects for one resource."""

    resource_id: str
    plan: PlanSpec
    region: str
    options: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class AppRef:
    """The platform app a resource is attached to (from the Platform API's add-on info)."""

    id: str
    name: str


@dataclass(frozen=True)
class ResourceRef:
    """An existing resource, as the adapter needs it for later calls.

    ``config`` holds the current config vars (credentials included). ``state`` is the
    adapter's private JSON document (tokens, cursors, names of objects made elsewhere): the
    core keeps it encrypted, hands it back on every call and stores what a result returns;
    it never leaves the broker. ``links`` maps a declared link name to its target.
    """

    resource_id: str
    plan: PlanSpec
    region: str
    config: Mapping[str, str] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    app: AppRef | None = None
    links: Mapping[str, LinkedResource] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkedResource:
    """The target of a link: which add-on, and the target resource with its current config."""

    link: str
    addon: str
    resource: ResourceRef


@dataclass(frozen=True)
class ProvisionResult:
    """What a provision, plan change or credential rotation hands back.

    ``config`` holds every declared config var whose value is new (all values strings);
    it may be empty for a plan change that changes no config. ``state``, when not None,
    replaces the adapter's private state.
    """

    config: Mapping[str, str]
    message: str = ""
    state: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AddonEvent:
    """A line for the customer's app log stream, which the core posts after the work it
    reports was stored: ``event=<name> addon_id=… addon=… plan=… state=… <fields>``
    (Heroku Connect's style, e.g. ``AddonEvent("sync_completed", {"objects": "3"})``).
    ``fields`` must never hold a secret (the core also withholds a line that contains a
    config value)."""

    name: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    """What a dashboard action (or a link change) hands back.

    ``message`` is shown to the customer; ``redirect`` (an absolute URL), when set, is where
    the browser goes next (for example an OAuth login); ``state``, when not None, replaces
    the adapter's private state; ``config`` holds config vars that changed; ``wake`` asks for
    a background tick now (for adapters with the background capability, e.g. after resume);
    ``events`` go to the app's log stream (a data connector's state change).
    """

    message: str
    redirect: str | None = None
    state: Mapping[str, Any] | None = None
    config: Mapping[str, str] = field(default_factory=dict)
    wake: bool = False
    events: tuple[AddonEvent, ...] = ()


@dataclass(frozen=True)
class TickResult:
    """What one background tick hands back.

    ``next_in_seconds`` is when to tick again (None: stop ticking until something restarts
    it); ``state``, when not None, replaces the adapter's private state; ``events`` go to the
    app's log stream once the state is stored (a sync's progress).
    """

    next_in_seconds: float | None
    state: Mapping[str, Any] | None = None
    events: tuple[AddonEvent, ...] = ()


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


@dataclass(frozen=True, order=True)
class BackendObject:
    """One object an adapter created on its backend, for reconcilers.

    ``kind`` is the adapter's own word (``database``, ``role``, ``vhost``, ``user``,
    ``tenant``, ...); ``name`` is the object's name on the backend.
    """

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class ActionField:
    """One input of a dashboard action (``kind`` is ``text``, ``number`` or ``select``)."""

    name: str
    label: str
    kind: str = "text"
    required: bool = True
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()


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
