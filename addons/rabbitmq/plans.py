"""The RabbitMQ add-on's catalog entry, shaped like CloudAMQP's shared (vhost) plans.

Every limit is enforced by RabbitMQ itself: ``max_connections`` and ``max_queues`` are vhost
limits; ``max_channels`` is a user limit over all of the tenant's connections (without it each
connection could open 2,047 channels on the shared node); ``max_queue_length``,
``max_queue_bytes`` and ``message_ttl_ms`` go into an operator policy on every queue, which
tenants can neither see nor override.
"""

from marketplace.adapters import AddonSpec, PlanSpec, Setting

DEFAULT_MANAGEMENT_URL = "http://marketplace_admin:marketplace-admin-dev@127.0.0.1:15672"
DEFAULT_AMQP_URL = "amqp://127.0.0.1:5672"
MIB = 1024**2
DAY_MS = 24 * 60 * 60 * 1000

SPEC = AddonSpec(
    slug="rabbitmq",
    name="RabbitMQ",
    summary="Hosted RabbitMQ message queues: a private vhost on a shared RabbitMQ 3.10 server.",
    description=(
        "Each resource is its own RabbitMQ virtual host with a dedicated user, reachable with "
        "one AMQP URL. Connections, queues, queue length, queue size and message TTL are "
        "capped by the server according to the plan."
    ),
    category="Messaging & Queueing",
    config_vars_prefix="RABBITMQ",
    config_vars=("RABBITMQ_URL",),
    regions=("us",),
    settings=(
        Setting(
            "RABBITMQ_MANAGEMENT_URL",
            DEFAULT_MANAGEMENT_URL,
            "The management API with an administrator's login.",
            secret=True,
        ),
        Setting(
            "RABBITMQ_AMQP_URL",
            DEFAULT_AMQP_URL,
            "`amqp(s)://host:port` tenants connect to (scheme, host and port are used).",
        ),
    ),
    features=(
        "A private virtual host and user, reachable with one AMQP URL",
        "Connection, channel, queue, queue length and message TTL caps enforced by RabbitMQ",
        "Live queue, message and rate figures on your dashboard",
        "Credential rotation that closes connections using the old password",
    ),
    plans=(
        PlanSpec(
            slug="lemur",
            human_name="Little Lemur",
            description="Free, for development and trying things out.",
            price_cents=0,
            limits={
                "max_connections": 20,
                "max_channels": 200,
                "max_queues": 100,
                "max_queue_length": 10_000,
                "max_queue_bytes": 64 * MIB,
                "message_ttl_ms": 7 * DAY_MS,
            },
            default=True,
        ),
        PlanSpec(
            slug="tiger",
            human_name="Tough Tiger",
            description="For production apps with moderate traffic.",
            price_cents=1900,
            limits={
                "max_connections": 100,
                "max_channels": 1_000,
                "max_queues": 1_000,
                "max_queue_length": 100_000,
                "max_queue_bytes": 512 * MIB,
                "message_ttl_ms": 14 * DAY_MS,
            },
        ),
        PlanSpec(
            slug="bunny",
            human_name="Big Bunny",
            description="For busy apps with many workers and deep queues.",
            price_cents=9900,
            limits={
                "max_connections": 500,
                "max_channels": 5_000,
                "max_queues": 5_000,
                "max_queue_length": 1_000_000,
                "max_queue_bytes": 2048 * MIB,
                "message_ttl_ms": 28 * DAY_MS,
            },
        ),
    ),
)
