"""The PostgreSQL add-on's catalog entry, shaped like Heroku Postgres' Essential/Standard tiers."""

from marketplace.adapters import AddonSpec, PlanSpec, Setting

DEFAULT_ADMIN_URL = "postgresql://marketplace_admin:marketplace-admin-dev@127.0.0.1:5432/postgres"

GIB = 1024**3
#: Streaming data connectors (change data capture into Kafka) are for standard plans:
#: ``max_connectors`` per resource, ``max_connector_tables`` captured tables per connector.
NO_CONNECTORS = {"max_connectors": 0, "max_connector_tables": 0}

SPEC = AddonSpec(
    slug="postgres",
    name="PostgreSQL",
    summary="Managed PostgreSQL 15 databases, from a small shared database to production plans.",
    description=(
        "Each resource is its own PostgreSQL database with a dedicated owner role. "
        "Connection limits are enforced by the server; storage is measured against the plan."
    ),
    category="Data Stores",
    config_vars_prefix="DATABASE",
    config_vars=("DATABASE_URL",),
    regions=("us",),
    settings=(
        Setting(
            "POSTGRES_ADMIN_URL",
            DEFAULT_ADMIN_URL,
            "The admin role's URL (CREATEDB, CREATEROLE, never superuser); the local stack's "
            "by default.",
            secret=True,
        ),
        Setting(
            "POSTGRES_RESERVED_CONNECTIONS",
            10,
            "Connection slots never sold to tenants (the broker's way in, other users).",
            kind="int",
        ),
        Setting(
            "KAFKA_CONNECT_URL",
            "http://127.0.0.1:8083",
            "Kafka Connect's REST API (any worker of the cluster) that runs the data "
            "connectors (Debezium); its workers need connector.client.config.override.policy=All.",
        ),
        Setting(
            "DATA_CONNECTOR_SSLMODE",
            "",
            "libpq `sslmode` of the data connectors' replication connections (Debezium's "
            "`database.sslmode`). Empty: `disable` when the tenants' host is a loopback address "
            "(TLS there protects nothing and costs a fifth of the throughput), else `prefer`.",
        ),
        Setting(
            "POSTGRES_PUBLIC_HOST",
            "",
            "`host:port` tenants connect to, when it differs from the admin URL's.",
        ),
    ),
    features=(
        "PostgreSQL 15 with a database and owner role of your own",
        "Connection limits enforced by the server",
        "Storage and table usage on your dashboard",
        "Credential rotation without a support ticket",
        "Plan changes in place, checked against your data",
        "Streaming data connectors (standard plans): every change of chosen tables as "
        "events on your Kafka topics, on Debezium",
    ),
    plans=(
        PlanSpec(
            slug="essential-0",
            human_name="Essential 0",
            description="For development and small apps.",
            price_cents=500,
            limits={
                "storage_bytes": 1 * GIB,
                "max_connections": 20,
                "max_tables": 4000,
                **NO_CONNECTORS,
            },
            default=True,
        ),
        PlanSpec(
            slug="essential-1",
            human_name="Essential 1",
            description="More storage for growing apps.",
            price_cents=900,
            limits={
                "storage_bytes": 10 * GIB,
                "max_connections": 20,
                "max_tables": 4000,
                **NO_CONNECTORS,
            },
        ),
        PlanSpec(
            slug="essential-2",
            human_name="Essential 2",
            description="More storage and connections.",
            price_cents=2000,
            limits={
                "storage_bytes": 32 * GIB,
                "max_connections": 40,
                "max_tables": 4000,
                **NO_CONNECTORS,
            },
        ),
        PlanSpec(
            slug="standard-0",
            human_name="Standard 0",
            description="Production workloads with many connections.",
            price_cents=5000,
            limits={
                "storage_bytes": 64 * GIB,
                "max_connections": 120,
                "max_connectors": 3,
                "max_connector_tables": 20,
            },
        ),
    ),
)
