"""The adapter contract: what an add-on adapter declares, what it is given, what it returns.

Adapters live under ``addons/`` and import only this package (plus their own driver
libraries). They never see Flask, the database session or the broker's models: the core
hands them plain value objects and persists what they return.

The contract is a small required core (:class:`AddonAdapter`) plus optional capabilities
(:mod:`marketplace.adapters.capabilities`), each a ``runtime_checkable`` Protocol that an
adapter implements only when it offers the feature.

Backend object names must derive deterministically from ``ResourceRef.resource_id`` (see
:func:`backend_name`) so that a retried step finds what an earlier try created and a
reconciler can tell the broker's objects from anybody else's.
"""

from marketplace.adapters.capabilities import (
    Actions,
    Background,
    Dashboard,
    DataService,
    Linking,
    Metering,
    Reconciliation,
    Rotation,
    TableCatalog,
)
from marketplace.adapters.connectors import (
    ALLOWED_SETTINGS,
    ConnectorChange,
    ConnectorHealth,
    ConnectorSpec,
    DataConnectors,
    KafkaLogin,
)
from marketplace.adapters.contract import AdapterPlugin, AddonAdapter
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
    ActionResult,
    ActionSpec,
    AddonEvent,
    AddonSpec,
    AppRef,
    BackendObject,
    BackendStatus,
    LinkedResource,
    LinkSpec,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    Setting,
    Table,
    TickResult,
    Usage,
    UsageMetric,
)

__all__ = [
    "ALLOWED_SETTINGS",
    "DEFAULT_NAME_PREFIX",
    "ENTRY_POINT_GROUP",
    "ActionField",
    "ActionResult",
    "ActionSpec",
    "Actions",
    "AdapterError",
    "AdapterPlugin",
    "AdapterRegistry",
    "AddonAdapter",
    "AddonEvent",
    "AddonSpec",
    "AppRef",
    "BackendObject",
    "BackendStatus",
    "BackendUnavailable",
    "Background",
    "ConnectorChange",
    "ConnectorHealth",
    "ConnectorSpec",
    "Dashboard",
    "DataConnectors",
    "DataService",
    "KafkaLogin",
    "LinkSpec",
    "LinkedResource",
    "Linking",
    "Metering",
    "PlanChangeRejected",
    "PlanSpec",
    "ProvisionRejected",
    "ProvisionRequest",
    "ProvisionResult",
    "Reconciliation",
    "ResourceDetails",
    "ResourceRef",
    "Rotation",
    "Setting",
    "Table",
    "TableCatalog",
    "TickResult",
    "Usage",
    "UsageMetric",
    "backend_name",
    "discover_adapter_factories",
    "random_password",
]
