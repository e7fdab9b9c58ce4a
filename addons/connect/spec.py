"""The Connect add-on's catalog entry: plans modelled on Heroku Connect's, and its settings.

Plan limits (all integers, read by the engine and shown in the catalog):

- ``max_rows``: rows synced across all mappings (Postgres side); a load or poll that would
  pass it stops the mapping with an error, and a plan change below the current count is 422;
- ``min_poll_seconds``: the fastest ``sf_polling_seconds`` a mapping may use (Salesforce side);
- ``db_poll_seconds``: how often the trigger log is read for writes to Salesforce;
- ``daily_api_calls``: the Salesforce API calls the engine may make per UTC day;
- ``external_objects``: 1 when the plan includes External Objects (OData), else 0.
"""

from __future__ import annotations

from marketplace.adapters import AddonSpec, LinkSpec, PlanSpec, Setting

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_API_VERSION = "59.0"

SPEC = AddonSpec(
    slug="connect",
    name="Connect",
    summary="Bidirectional sync between Salesforce and your PostgreSQL database.",
    description=(
        "Connect keeps Salesforce objects and tables in one of your app's PostgreSQL "
        "databases in sync, laid out exactly as Heroku Connect lays them out: apps written for "
        "Heroku Connect work unchanged. Read-only mappings copy Salesforce into Postgres; "
        "read-write mappings also send your app's inserts, updates and deletes to Salesforce."
    ),
    category="Data Stores",
    config_vars_prefix="CONNECT",
    config_vars=("CONNECT_API_URL",),
    regions=("us",),
    links=(
        LinkSpec(
            "database",
            "postgres",
            "The PostgreSQL database the connection syncs into (schema `salesforce` by default).",
        ),
    ),
    settings=(
        Setting(
            "SALESFORCE_LOGIN_URL",
            DEFAULT_LOGIN_URL,
            "Default Salesforce login host for the OAuth flow (sandboxes use "
            "https://test.salesforce.com).",
        ),
        Setting("SALESFORCE_CLIENT_ID", "", "The connected app's consumer key."),
        Setting(
            "SALESFORCE_CLIENT_SECRET", "", "The connected app's consumer secret.", secret=True
        ),
        Setting("SALESFORCE_API_VERSION", DEFAULT_API_VERSION, "Salesforce REST API version."),
        Setting(
            "CONNECT_MIN_POLL_SECONDS",
            0,
            "Development override of the plans' polling floor (0: the plan decides).",
            kind="int",
        ),
    ),
    features=(
        "Heroku Connect's tables, trigger log and `_hc_lastop` semantics",
        "Read-only and read-write mappings of standard and custom objects",
        "Import and export of Heroku Connect mapping documents",
        "Write errors, row counts and API usage on your dashboard",
        "The Heroku Connect API v3 shape and CLI commands",
    ),
    plans=(
        PlanSpec(
            slug="demo",
            human_name="Demo",
            description="Up to 10,000 rows, polling every 10 minutes at most.",
            price_cents=0,
            limits={
                "max_rows": 10_000,
                "min_poll_seconds": 600,
                "db_poll_seconds": 30,
                "daily_api_calls": 15_000,
                "external_objects": 0,
            },
            default=True,
        ),
        PlanSpec(
            slug="enterprise",
            human_name="Enterprise",
            description="A million rows, polling every minute, External Objects.",
            price_cents=100_000,
            limits={
                "max_rows": 1_000_000,
                "min_poll_seconds": 60,
                "db_poll_seconds": 10,
                "daily_api_calls": 100_000,
                "external_objects": 1,
            },
        ),
        PlanSpec(
            slug="shield",
            human_name="Shield",
            description="Ten million rows, polling every 10 seconds, External Objects.",
            price_cents=300_000,
            limits={
                "max_rows": 10_000_000,
                "min_poll_seconds": 10,
                "db_poll_seconds": 2,
                "daily_api_calls": 500_000,
                "external_objects": 1,
            },
        ),
    ),
)
