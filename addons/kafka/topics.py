"""Plan caps on a tenant's topics: what may be created, and what fits another plan.

Tenants hold no CREATE or ALTER_CONFIGS ACL, so every topic is created by the broker after
:func:`check_new_topic` has passed: that is what makes the caps hold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from marketplace.adapters import PlanChangeRejected, PlanSpec, ProvisionRejected

LEGAL_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME_LENGTH = 249  # Kafka's own limit, prefix included
DEFAULT_RETENTION_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000


class TopicNotFound(ProvisionRejected):
    """The tenant has no topic of that name (an API maps it to 404 rather than 422)."""


@dataclass(frozen=True)
class TopicInfo:
    """One of a tenant's topics. ``name`` is without the tenant prefix."""

    name: str
    full_name: str
    partitions: int
    retention_ms: int


def full_topic_name(prefix: str, name: object) -> str:
    """The Kafka name of the tenant's topic ``name`` (given without the prefix).

    :raises ProvisionRejected: the name is empty, has characters Kafka refuses, or is too long.
    """
    if not isinstance(name, str) or not LEGAL_NAME.match(name):
        raise ProvisionRejected(
            "A topic name must be one or more letters, digits, '.', '_' or '-'."
        )
    if len(prefix) + len(name) > MAX_TOPIC_NAME_LENGTH:
        raise ProvisionRejected(
            f"A topic name can be at most {MAX_TOPIC_NAME_LENGTH - len(prefix)} characters long."
        )
    return f"{prefix}{name}"


def check_new_topic(
    plan: PlanSpec,
    existing: Sequence[TopicInfo],
    partitions: object,
    retention_ms: object = None,
) -> int:
    """Check that one more topic fits ``plan``; return the retention to create it with.

    :raises ProvisionRejected: a cap would be exceeded or a value is out of range.
    """
    limits = plan.limits
    if not _is_int(partitions) or partitions < 1:
        raise ProvisionRejected("The number of partitions must be a whole number of at least 1.")
    if len(existing) >= limits["max_topics"]:
        raise ProvisionRejected(
            f"Plan {plan.slug} allows {limits['max_topics']} topics and this resource has "
            f"{len(existing)}; delete a topic or upgrade the plan."
        )
    used = sum(topic.partitions for topic in existing)
    if used + partitions > limits["max_partitions"]:
        raise ProvisionRejected(
            f"Plan {plan.slug} allows {limits['max_partitions']} partitions in all and this "
            f"resource uses {used}, so a topic with {partitions} partitions does not fit."
        )
    max_retention = limits["max_retention_ms"]
    if retention_ms is None:
        return min(DEFAULT_RETENTION_MS, max_retention)
    if not _is_int(retention_ms) or not 0 < retention_ms <= max_retention:
        raise ProvisionRejected(
            f"Retention must be a whole number of milliseconds between 1 and {max_retention} "
            f"({_hours(max_retention)} hours) on plan {plan.slug}."
        )
    return retention_ms


def check_plan_fits(plan: PlanSpec, topics: Sequence[TopicInfo], bytes_on_disk: int) -> None:
    """Check that the tenant's topics and data fit ``plan`` as they are.

    :raises PlanChangeRejected: what is above the plan's limits, in words.
    """
    limits = plan.limits
    problems = []
    if len(topics) > limits["max_topics"]:
        problems.append(f"{len(topics)} topics (the plan allows {limits['max_topics']})")
    partitions = sum(topic.partitions for topic in topics)
    if partitions > limits["max_partitions"]:
        problems.append(f"{partitions} partitions (the plan allows {limits['max_partitions']})")
    too_long = [t.name for t in topics if not 0 < t.retention_ms <= limits["max_retention_ms"]]
    if too_long:
        problems.append(
            f"retention above {_hours(limits['max_retention_ms'])} hours on "
            + ", ".join(sorted(too_long))
        )
    if bytes_on_disk > limits["storage_bytes"]:
        problems.append(
            f"{bytes_on_disk / 1024**2:,.1f} MB on disk "
            f"(the plan allows {limits['storage_bytes'] / 1024**2:,.0f} MB)"
        )
    if problems:
        raise PlanChangeRejected(
            f"This resource does not fit plan {plan.slug}: it has {'; '.join(problems)}. "
            "Delete topics first, or choose a larger plan."
        )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _hours(milliseconds: int) -> str:
    return f"{milliseconds / HOUR_MS:g}"
