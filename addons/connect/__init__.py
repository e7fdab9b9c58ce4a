"""Connect add-on: Salesforce <-> PostgreSQL sync, compatible with Heroku Connect.

Modules: ``spec`` (plans, settings), ``states``, ``schema``/``triggers`` (Heroku Connect's
database objects), ``salesforce`` (OAuth and simple-salesforce), ``mappings`` (config,
export/import), ``sf_to_pg`` and ``pg_to_sf`` (the two directions), ``engine`` (a tick),
``actions``, ``views`` (dashboard, API reads), ``adapter``.
"""

from collections.abc import Mapping
from typing import Any

from addons.connect.adapter import ConnectAdapter
from addons.connect.engine import EngineSettings
from addons.connect.salesforce import OAuthClient
from addons.connect.spec import DEFAULT_API_VERSION, DEFAULT_LOGIN_URL, SPEC
from marketplace.adapters import AdapterPlugin


def create_adapter(settings: Mapping[str, Any]) -> ConnectAdapter:
    """Build the adapter from the broker's settings (``SALESFORCE_*``, ``MARKETPLACE_URL``)."""
    oauth = OAuthClient(
        str(settings.get("SALESFORCE_CLIENT_ID") or ""),
        str(settings.get("SALESFORCE_CLIENT_SECRET") or ""),
    )
    engine = EngineSettings(
        oauth=oauth,
        api_version=str(settings.get("SALESFORCE_API_VERSION") or DEFAULT_API_VERSION),
        min_poll_override=int(settings.get("CONNECT_MIN_POLL_SECONDS") or 0),
    )
    return ConnectAdapter(
        engine,
        base_url=str(settings.get("MARKETPLACE_URL") or "http://localhost:5000"),
        login_url=str(settings.get("SALESFORCE_LOGIN_URL") or DEFAULT_LOGIN_URL),
    )


plugin = AdapterPlugin(spec=SPEC, create=create_adapter)

__all__ = ["SPEC", "ConnectAdapter", "create_adapter", "plugin"]
