"""In-memory adapters: the lifecycle, idempotency and race tests run in milliseconds, with no
backend service. Each keeps its "backend" in a :class:`MemoryBackend` the test can inspect."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from marketplace.adapters import (
    ActionField,
    ActionResult,
    ActionSpec,
    AddonSpec,
    BackendObject,
    BackendStatus,
    BackendUnavailable,
    LinkedResource,
    LinkSpec,
    PlanChangeRejected,
    PlanSpec,
    ProvisionRejected,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    TickResult,
    Usage,
    UsageMetric,
)

PLANS = (
    PlanSpec("small", "Small", "A small plan.", 0, {"items": 2}, default=True),
    PlanSpec("big", "Big", "A big plan.", 1000, {"items": 100}),
    PlanSpec(
        "later", "Later", "Provisioned asynchronously.", 500, {"items": 10}, asynchronous=True
    ),
)

MEMORY_SPEC = AddonSpec(
    slug="memory",
    name="Memory",
    summary="An in-memory add-on for tests.",
    description="Keeps its objects in a dict.",
    category="Testing",
    config_vars_prefix="MEMORY",
    config_vars=("MEMORY_URL",),
    plans=PLANS,
)


@dataclass
class MemoryBackend:
    """What the adapter made: objects by resource id, and every call it got."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False
    fail_after_create: bool = False
    crash_after_create: bool = False  # an adapter bug: a raw exception, no AdapterError
    #: When set, ``provision`` blocks until the event is set (a frozen backend).
    gate: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: str, resource_id: str) -> None:
        with self.lock:
            self.calls.append((call, resource_id))

    def count(self, call: str) -> int:
        with self.lock:
            return sum(1 for name, _ in self.calls if name == call)


class MemoryAdapter:
    """Core plus metering, dashboard, actions, rotation and reconciliation, in memory.

    ``provision`` returns adapter state ``{"secret": "state-<id>"}`` so tests can follow it.
    """

    def __init__(self, backend: MemoryBackend | None = None, spec: AddonSpec = MEMORY_SPEC) -> None:
        self.spec = spec
        self.backend = backend or MemoryBackend()

    def _check_up(self) -> None:
        if self.backend.down:
            raise BackendUnavailable("The memory backend is down.")

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        self._check_up()
        self.backend.record("provision", request.resource_id)
        if self.backend.gate is not None and request.plan.slug == "big":
            self.backend.entered.set()
            assert self.backend.gate.wait(timeout=60), "the test never opened the gate"
        with self.backend.lock:
            self.backend.objects.setdefault(
                request.resource_id, {"plan": request.plan.slug, "items": 0, "password": 1}
            )
        if self.backend.fail_after_create:
            raise ProvisionRejected("The memory backend refused the request half-way.")
        if self.backend.crash_after_create:
            raise KeyError("max_items")
        return ProvisionResult(
            config={"MEMORY_URL": f"memory://{request.resource_id}/1"},
            message="Memory ready.",
            state={"secret": f"state-{request.resource_id}"},
        )

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        self._check_up()
        self.backend.record("change_plan", resource.resource_id)
        obj = self.backend.objects[resource.resource_id]
        if obj["items"] > new_plan.limits["items"]:
            raise PlanChangeRejected(f"{obj['items']} items do not fit plan {new_plan.slug}.")
        obj["plan"] = new_plan.slug
        return ProvisionResult(config={}, state={**resource.state, "plan": new_plan.slug})

    def deprovision(self, resource: ResourceRef) -> None:
        self._check_up()
        self.backend.record("deprovision", resource.resource_id)
        with self.backend.lock:
            self.backend.objects.pop(resource.resource_id, None)

    def check(self) -> BackendStatus:
        return BackendStatus(not self.backend.down, "memory")

    # metering
    def usage(self, resource: ResourceRef) -> Usage:
        self._check_up()
        items = self.backend.objects.get(resource.resource_id, {}).get("items", 0)
        return Usage((UsageMetric("items", "Items", items, resource.plan.limits["items"]),))

    # dashboard and actions
    def details(self, resource: ResourceRef) -> ResourceDetails:
        return ResourceDetails(
            facts=(("Resource", resource.resource_id),),
            actions=(
                ActionSpec("add_item", "Add an item", (ActionField("count", "Count", "number"),)),
                ActionSpec("login", "Sign in elsewhere"),
            ),
        )

    def perform(
        self, resource: ResourceRef, action: str, params: Mapping[str, str]
    ) -> ActionResult:
        if action == "add_item":
            count = int(params.get("count", "1"))
            obj = self.backend.objects[resource.resource_id]
            if obj["items"] + count > resource.plan.limits["items"]:
                raise ProvisionRejected("The plan's item limit would be exceeded.")
            obj["items"] += count
            return ActionResult(
                f"{obj['items']} items.", state={**resource.state, "items": obj["items"]}
            )
        if action == "login":
            return ActionResult("Signing in.", redirect="https://login.example.com/authorize?x=1")
        raise ProvisionRejected(f"Unknown action {action!r}.")

    # rotation
    def rotate_credentials(self, resource: ResourceRef) -> ProvisionResult:
        obj = self.backend.objects[resource.resource_id]
        obj["password"] += 1
        return ProvisionResult(
            config={"MEMORY_URL": f"memory://{resource.resource_id}/{obj['password']}"}
        )

    # reconciliation
    def owned(self) -> list[BackendObject]:
        return sorted(BackendObject("object", key) for key in self.backend.objects)

    def objects_of(self, resource: ResourceRef) -> set[BackendObject]:
        return {BackendObject("object", resource.resource_id)}

    def remove_orphan(self, orphan: BackendObject) -> None:
        self.backend.objects.pop(orphan.name, None)


class TickingAdapter(MemoryAdapter):
    """A memory adapter with background work: each tick counts itself in the state and takes
    ``tick_seconds`` (standing in for a sync engine's short step)."""

    def __init__(
        self,
        backend: MemoryBackend | None = None,
        *,
        tick_seconds: float = 0.0,
        interval: float = 0.0,
    ) -> None:
        super().__init__(backend, replace(MEMORY_SPEC, slug="ticking", name="Ticking"))
        self.tick_seconds = tick_seconds
        self.interval = interval
        self.ticked: list[str] = []
        self._lock = threading.Lock()

    def tick(self, resource: ResourceRef) -> TickResult:
        time.sleep(self.tick_seconds)  # the work of one short step
        with self._lock:
            self.ticked.append(resource.resource_id)
        return TickResult(
            self.interval, state={**resource.state, "ticks": resource.state.get("ticks", 0) + 1}
        )


class LinkingAdapter(MemoryAdapter):
    """A memory adapter whose resources attach to one ``memory`` resource (link ``database``)."""

    def __init__(self, backend: MemoryBackend | None = None) -> None:
        spec = replace(
            MEMORY_SPEC,
            slug="linking",
            name="Linking",
            links=(LinkSpec("database", "memory", "The memory resource this one syncs into."),),
        )
        super().__init__(backend, spec)
        self.removed: list[tuple[str, str]] = []

    def link_attached(self, resource: ResourceRef, target: LinkedResource) -> ActionResult:
        if target.resource.config.get("MEMORY_URL", "").endswith("/refuse"):
            raise ProvisionRejected("That resource cannot be linked.")
        return ActionResult(
            f"Linked to {target.resource.name}.",
            state={**resource.state, "target_url": target.resource.config["MEMORY_URL"]},
        )

    def link_removed(self, resource: ResourceRef, link: str) -> ActionResult:
        self.removed.append((resource.resource_id, link))
        state = {k: v for k, v in resource.state.items() if k != "target_url"}
        return ActionResult(
            "The memory resource this one synced into was removed; sync has stopped.", state=state
        )
