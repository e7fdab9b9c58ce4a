"""The Kafka add-on's catalog entry, shaped like Heroku's multi-tenant Basic Kafka plans."""

from marketplace.adapters import AddonSpec, PlanSpec, Setting

KIB = 1024
GIB = 1024**3
DAY_MS = 24 * 3600 * 1000

# Every plan limit is read by the adapter:
#   max_topics, max_partitions (all topics together), max_retention_ms: checked before the
#       broker creates a topic on the tenant's behalf (tenants get no CREATE ACL);
#   producer_byte_rate, consumer_byte_rate: Kafka client quotas on the tenant's user;
#   storage_bytes: measured bytes on disk, checked on plan change.
SPEC = AddonSpec(
    slug="kafka",
    name="Apache Kafka",
    summary="Multi-tenant Apache Kafka: a topic prefix, SCRAM credentials and throughput quotas.",
    description=(
        "Each resource is a tenant on a shared Apache Kafka cluster: a topic and consumer-group "
        "prefix, a SCRAM-SHA-512 user whose ACLs cover that prefix only, and producer and "
        "consumer byte-rate quotas enforced by Kafka. Topics are created through the broker, "
        "which holds them to the plan's topic, partition and retention limits."
    ),
    category="Messaging & Queueing",
    config_vars_prefix="KAFKA",
    settings=(
        Setting("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Where the broker reaches Kafka."),
        Setting("KAFKA_ADMIN_USERNAME", "marketplace_admin", "The admin SCRAM user."),
        Setting(
            "KAFKA_ADMIN_PASSWORD",
            "marketplace-admin-dev",
            "The admin SCRAM user's password.",
            secret=True,
        ),
        Setting(
            "KAFKA_PUBLIC_BOOTSTRAP_SERVERS",
            "",
            "What tenants are told to connect to, when it differs.",
        ),
    ),
    config_vars=(
        "KAFKA_URL",
        "KAFKA_PREFIX",
        "KAFKA_USERNAME",
        "KAFKA_PASSWORD",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SECURITY_PROTOCOL",
    ),
    regions=("us",),
    features=(
        "Your own topic and consumer-group prefix with a SCRAM-SHA-512 user on a shared cluster",
        "Prefixed ACLs: other tenants can neither read, write nor list your topics",
        "Producer and consumer byte-rate quotas enforced by Kafka",
        "Topics created from your dashboard within the plan's topic, partition and retention caps",
        "Credential rotation and plan changes in place",
    ),
    plans=(
        PlanSpec(
            slug="basic-0",
            human_name="Basic 0",
            description="64 kB/s in, 256 kB/s out, 4 GB, 40 topics, 240 partitions.",
            price_cents=10000,
            limits={
                "max_topics": 40,
                "max_partitions": 240,
                "max_retention_ms": 7 * DAY_MS,
                "producer_byte_rate": 64 * KIB,
                "consumer_byte_rate": 256 * KIB,
                "storage_bytes": 4 * GIB,
            },
            default=True,
            asynchronous=True,
        ),
        PlanSpec(
            slug="basic-1",
            human_name="Basic 1",
            description="512 kB/s in, 2 MB/s out, 32 GB, 80 topics, 480 partitions.",
            price_cents=17500,
            limits={
                "max_topics": 80,
                "max_partitions": 480,
                "max_retention_ms": 7 * DAY_MS,
                "producer_byte_rate": 512 * KIB,
                "consumer_byte_rate": 2048 * KIB,
                "storage_bytes": 32 * GIB,
            },
            asynchronous=True,
        ),
        PlanSpec(
            slug="basic-2",
            human_name="Basic 2",
            description="4 MB/s in, 16 MB/s out, 64 GB, 160 topics, 960 partitions.",
            price_cents=47500,
            limits={
                "max_topics": 160,
                "max_partitions": 960,
                "max_retention_ms": 14 * DAY_MS,
                "producer_byte_rate": 4096 * KIB,
                "consumer_byte_rate": 16384 * KIB,
                "storage_bytes": 64 * GIB,
            },
            asynchronous=True,
        ),
    ),
)
