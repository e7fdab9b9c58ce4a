"""The Kafka panel of a resource's dashboard: connection facts, topics, groups, topic actions.

The actions reach :meth:`KafkaAdapter.create_topic` and :meth:`KafkaAdapter.delete_topic`, so
the dashboard and its JSON twin go through the same plan caps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from addons.kafka.topics import HOUR_MS, TopicInfo
from marketplace.adapters import (
    ActionField,
    ActionSpec,
    ProvisionRejected,
    ResourceDetails,
    Table,
)

CREATE_TOPIC = ActionSpec(
    "create_topic",
    "Create topic",
    fields=(
        ActionField("name", "Topic name (without the prefix)", placeholder="orders"),
        ActionField("partitions", "Partitions", kind="number", placeholder="3"),
        ActionField(
            "retention_hours",
            "Retention in hours (default 24)",
            kind="number",
            required=False,
            placeholder="24",
        ),
    ),
)
DELETE_TOPIC = ActionSpec(
    "delete_topic",
    "Delete",
    fields=(ActionField("name", "Topic name (without the prefix)"),),
    confirm="Delete this topic and every message in it?",
)


def panel(
    facts: Sequence[tuple[str, str]], topics: Sequence[TopicInfo], groups: Sequence[str]
) -> ResourceDetails:
    """The dashboard's view of one tenant."""
    return ResourceDetails(
        facts=tuple(facts),
        tables=(
            Table(
                "Topics",
                ("Topic", "Kafka name", "Partitions", "Retention (hours)"),
                tuple(
                    (t.name, t.full_name, str(t.partitions), f"{t.retention_ms / HOUR_MS:g}")
                    for t in topics
                ),
                row_action=DELETE_TOPIC.name,
                row_param="name",
            ),
            Table("Consumer groups", ("Group",), tuple((group,) for group in sorted(groups))),
        ),
        actions=(CREATE_TOPIC, DELETE_TOPIC),
    )


def created_message(topic: TopicInfo) -> str:
    """What the customer reads after creating ``topic``."""
    return (
        f"Topic {topic.name} created ({topic.full_name}) with {topic.partitions} "
        f"partition(s) and {topic.retention_ms / HOUR_MS:g} hours of retention."
    )


def topic_name(params: Mapping[str, str]) -> str:
    """The ``name`` parameter of a topic action.

    :raises ProvisionRejected: it is missing.
    """
    name = str(params.get("name") or "").strip()
    if not name:
        raise ProvisionRejected("Give the topic a name.")
    return name


def new_topic_values(params: Mapping[str, str]) -> tuple[int, int | None]:
    """Partitions and retention (ms, None for the default) of a ``create_topic`` action.

    :raises ProvisionRejected: a value is missing or not a whole number.
    """
    partitions = _whole_number(params.get("partitions"), "Partitions")
    if partitions is None:
        raise ProvisionRejected("Give the number of partitions.")
    hours = _whole_number(params.get("retention_hours"), "Retention")
    return partitions, None if hours is None else hours * HOUR_MS


def _whole_number(raw: str | None, label: str) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ProvisionRejected(f"{label} must be a whole number.") from None
