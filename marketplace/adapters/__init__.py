"""The adapter contract: what an add-on adapter declares, what it is given, what it returns.

Adapters live under ``addons/`` and import only this module (plus their own driver libraries).
They never see Flask, the database session or the broker's models: the core hands them plain
value objects and persists what they return.

Backend object names must derive deterministically from ``ResourceRef.resource_id`` (see
:func:`backend_name`) so that a retried step finds what an earlier try created and a
reconciler can tell the broker's objects from anybody else's.
"""

from marketplace.adapters.contract import AddonAdapter
from marketplace.adapters.errors import (
    AdapterError,
    BackendUnavailable,
    PlanChangeRejected,
    ProvisionRejected,
)
from marketplace.adapters.naming import DEFAULT_NAME_PREFIX, backend_name, random_password
from marketplace.adapters.registry import (
    ENTRY_POINT_GROUP,
    AdapterRegistry,
    discover_adapter_factories,
)
from marketplace.adapters.values import (
    ActionField,
    ActionSpec,
    AddonSpec,
    BackendStatus,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    Table,
    Usage,
    UsageMetric,
)

__all__ = [
    "DEFAULT_NAME_PREFIX",
    "ENTRY_POINT_GROUP",
    "ActionField",
    "ActionSpec",
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
    "ResourceDetails",
    "ResourceRef",
    "Table",
    "Usage",
    "UsageMetric",
    "backend_name",
    "discover_adapter_factories",
    "random_password",
]
