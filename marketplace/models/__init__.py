"""SQLAlchemy models, one module per domain."""

from marketplace.models.catalog import Addon, CatalogVersion, Plan
from marketplace.models.data_connector import ConnectorStatus, DataConnector
from marketplace.models.odata import ODataService
from marketplace.models.platform import PlatformAuthorization
from marketplace.models.resource import Resource, ResourceLink, ResourceState
from marketplace.models.sso import UsedSsoToken
from marketplace.models.usage import UsageRecord

__all__ = [
    "Addon",
    "CatalogVersion",
    "ConnectorStatus",
    "DataConnector",
    "ODataService",
    "Plan",
    "PlatformAuthorization",
    "Resource",
    "ResourceLink",
    "ResourceState",
    "UsageRecord",
    "UsedSsoToken",
]
