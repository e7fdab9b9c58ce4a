"""Provision RabbitMQ vhosts on a shared server through the management HTTP API.

One resource is one vhost plus one user of the same name (as CloudAMQP's shared plans do),
with permissions on that vhost only (every name but the two the management API cannot address)
and no management tags. The plan's caps are vhost limits and an operator policy, so RabbitMQ
enforces them and tenants cannot lift them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from addons.rabbitmq.management import ManagementClient, ManagementError
from addons.rabbitmq.plans import MIB, SPEC
from addons.rabbitmq.queue_types import (
    ENFORCE_INTERVAL_SECONDS,
    REMEMBERED,
    remove_unheld_queues,
)
from marketplace.adapters import (
    DEFAULT_NAME_PREFIX,
    AddonSpec,
    BackendObject,
    BackendStatus,
    BackendUnavailable,
    PlanChangeRejected,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    Table,
    TickResult,
    Usage,
    UsageMetric,
    backend_name,
    random_password,
)

PLAN_POLICY = "mkt-plan"
# What a tenant may declare: any queue or exchange name except "." and "..". The management
# API's router resolves those as dot segments of the URL path (also when sent as %2E), so the
# broker could never delete such a queue (a stream the plan cannot cap, say) through it.
TENANT_CONFIGURE = r"^(?!\.\.?$)"
#: The version of a tenant's access rules: 2 added the channel limit and TENANT_CONFIGURE.
#: A tenant made under an older version (no ``access_version`` in its state: 1) is brought
#: up to date by its next background tick.
ACCESS_VERSION = 2
# A vhost and its user share one name; the kind tells them apart (BackendObject.kind).
OWNED_KINDS = {"vhost": "vhosts", "user": "users"}


def vhost_limits(plan: PlanSpec) -> dict[str, int]:
    """The vhost limits that enforce ``plan``."""
    return {
        "max-connections": int(plan.limits["max_connections"]),
        "max-queues": int(plan.limits["max_queues"]),
    }


def user_limits(plan: PlanSpec) -> dict[str, int]:
    """The user limits that enforce ``plan``."""
    return {"max-channels": int(plan.limits["max_channels"])}


def plan_policy(plan: PlanSpec) -> dict[str, int]:
    """The operator policy definition that caps every queue of a vhost on ``plan``."""
    definition = {
        "max-length": int(plan.limits["max_queue_length"]),
        "message-ttl": int(plan.limits["message_ttl_ms"]),
    }
    if "max_queue_bytes" in plan.limits:
        definition["max-length-bytes"] = int(plan.limits["max_queue_bytes"])
    return definition


def check_queues_fit(queues: Sequence[Mapping[str, Any]], plan: PlanSpec) -> None:
    """Check that ``queues`` (as the management API lists them) fit ``plan`` as they are.

    :raises PlanChangeRejected: too many queues, or a queue whose messages the plan's lower
        max-length or max-length-bytes would silently drop (the oldest first).
    """
    max_queues = int(plan.limits["max_queues"])
    if len(queues) > max_queues:
        raise PlanChangeRejected(
            f"The vhost has {len(queues)} queues, above the {max_queues}-queue limit of "
            f"plan {plan.slug}; delete some queues first."
        )
    max_length = int(plan.limits["max_queue_length"])
    deepest = max(queues, key=lambda queue: queue.get("messages") or 0, default=None)
    if deepest is not None and (deepest.get("messages") or 0) > max_length:
        raise PlanChangeRejected(
            f"Queue {deepest['name']!r} holds {deepest['messages']} messages, above the "
            f"{max_length}-message queue length of plan {plan.slug}; consume them first."
        )
    if "max_queue_bytes" not in plan.limits:
        return
    max_bytes = int(plan.limits["max_queue_bytes"])
    largest = max(queues, key=lambda queue: queue.get("message_bytes") or 0, default=None)
    if largest is not None and (largest.get("message_bytes") or 0) > max_bytes:
        raise PlanChangeRejected(
            f"Queue {largest['name']!r} holds {largest['message_bytes'] / MIB:,.1f} MB, above "
            f"the {max_bytes / MIB:,.0f} MB queue size of plan {plan.slug}; consume them first."
        )


class RabbitMQAdapter:
    """One vhost and one same-named user per resource.

    Capabilities: metering, dashboard (details), rotation, reconciliation, background (removes
    queues of types the plan cannot hold; see :mod:`addons.rabbitmq.queue_types`).

    :param management_url: ``http://admin:password@host:15672``, an administrator's login.
    :param amqp_url: ``amqp(s)://host:port`` that tenants connect to; only scheme, host and
        port are used to build ``RABBITMQ_URL``.
    :param name_prefix: starts every vhost and user name, so the broker's objects are told
        apart from anybody else's.
    """

    def __init__(
        self,
        management_url: str,
        amqp_url: str,
        name_prefix: str = DEFAULT_NAME_PREFIX,
        spec: AddonSpec = SPEC,
    ) -> None:
        self.spec = spec
        self._prefix = name_prefix
        self._api = ManagementClient(management_url)
        parts = urlsplit(amqp_url)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ValueError("the AMQP URL must look like amqp://host:5672 or amqps://host:5671")
        self._amqp_scheme = parts.scheme
        self._amqp_netloc = parts.netloc.rpartition("@")[2]
        self._amqp_host = parts.hostname
        self._amqp_port = parts.port or (5671 if parts.scheme == "amqps" else 5672)

    # --- contract ---------------------------------------------------------------------------

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Create (or converge) vhost, caps, user and permissions; return RABBITMQ_URL."""
        name = self.tenant_name(request.resource_id)
        password = random_password(40)
        self._api.put_vhost(name, "Marketplace add-on resource")
        # Caps go on before the user can log in, so the vhost is never open unlimited.
        self._apply_plan(name, request.plan)
        self._api.put_user(name, password)
        self._apply_access(name, request.plan)
        return ProvisionResult(
            config={"RABBITMQ_URL": self._url(name, password)},
            message="Your RabbitMQ vhost is ready.",
            state={"access_version": ACCESS_VERSION},
        )

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        """Check the queues fit ``new_plan``, then re-apply its vhost limits and policy.

        Connections above a lower ``max-connections`` stay open; RabbitMQ refuses new ones
        until the count is under the limit, so open connections never block a downgrade.

        :raises PlanChangeRejected: more queues than ``new_plan`` allows, or a queue deeper
            than its queue length or larger than its queue size (the policy would drop
            messages); nothing changed.
        """
        name = self.tenant_name(resource.resource_id)
        check_queues_fit(self._api.list_queues(name), new_plan)
        self._apply_plan(name, new_plan)
        self._apply_user_limits(name, new_plan)
        return ProvisionResult(config={}, message=f"Now on plan {new_plan.slug}.")

    def deprovision(self, resource: ResourceRef) -> None:
        """Delete the vhost (closing its connections) and the user; missing ones are fine."""
        name = self.tenant_name(resource.resource_id)
        self._api.delete_vhost(name)
        self._api.delete_user(name)

    def usage(self, resource: ResourceRef) -> Usage:
        """Connections, queues, queued messages and message rates against the plan.

        Connection and queue counts are current; message counts and rates come from the
        management statistics, which refresh every few seconds.
        """
        name = self.tenant_name(resource.resource_id)
        details = self._api.get_vhost(name)
        if details is None:
            raise ManagementError(f"The vhost {name} of this resource does not exist.", 404)
        limits = resource.plan.limits
        connections = len(self._api.list_user_connections(name))
        queues = len(self._api.list_queues(name))
        stats: Mapping[str, Any] = details.get("message_stats") or {}
        return Usage(
            metrics=(
                UsageMetric(
                    "connections", "Connections", connections, limits.get("max_connections")
                ),
                UsageMetric("queues", "Queues", queues, limits.get("max_queues")),
                UsageMetric("messages_ready", "Messages ready", details.get("messages_ready") or 0),
                UsageMetric(
                    "messages_unacknowledged",
                    "Messages unacknowledged",
                    details.get("messages_unacknowledged") or 0,
                ),
                UsageMetric("publish_rate", "Publish rate", _rate(stats, "publish"), unit="msg/s"),
                UsageMetric(
                    "deliver_rate", "Deliver rate", _rate(stats, "deliver_get"), unit="msg/s"
                ),
            )
        )

    def rotate_credentials(self, resource: ResourceRef) -> ProvisionResult:
        """Set a new password and close connections opened with the old one."""
        name = self.tenant_name(resource.resource_id)
        password = random_password(40)
        self._api.put_user(name, password)
        # RabbitMQ keeps connections authenticated with the old password open; end them now.
        self._api.close_user_connections(name, "Credentials rotated")
        return ProvisionResult(
            config={"RABBITMQ_URL": self._url(name, password)},
            message="Credentials rotated.",
        )

    def details(self, resource: ResourceRef) -> ResourceDetails:
        """Connection facts and the vhost's queues."""
        name = self.tenant_name(resource.resource_id)
        queues = self._api.list_queues(name)
        refused = resource.state.get("refused_queues") or []
        return ResourceDetails(
            facts=(
                ("Host", self._amqp_host),
                ("Port", str(self._amqp_port)),
                ("Virtual host", name),
                ("User", name),
                (
                    "Queue types",
                    "classic and quorum (streams are removed: the plan cannot cap them)",
                ),
            ),
            tables=(
                *(
                    (
                        Table(
                            "Removed queues (type not available on this plan)",
                            ("Queue", "Type", "Removed at"),
                            tuple((q["name"], q["type"], q["at"]) for q in refused),
                        ),
                    )
                    if refused
                    else ()
                ),
                Table(
                    "Queues",
                    ("Queue", "Ready", "Unacknowledged", "Consumers"),
                    tuple(
                        (
                            str(queue.get("name")),
                            str(queue.get("messages_ready") or 0),
                            str(queue.get("messages_unacknowledged") or 0),
                            str(queue.get("consumers") or 0),
                        )
                        for queue in sorted(queues, key=lambda q: str(q.get("name")))
                    ),
                ),
            ),
        )

    def tick(self, resource: ResourceRef) -> TickResult:
        """Bring a tenant made under older access rules up to :data:`ACCESS_VERSION` (once),
        remove queues of types the plan cannot hold (streams), and remember them."""
        name = self.tenant_name(resource.resource_id)
        state = dict(resource.state)
        if state.get("access_version", 1) < ACCESS_VERSION:
            self._apply_access(name, resource.plan)
            state["access_version"] = ACCESS_VERSION
        refused = remove_unheld_queues(self._api, name)
        if refused:
            at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            state["refused_queues"] = [
                *({"name": q.name, "type": q.type, "at": at} for q in refused),
                *(resource.state.get("refused_queues") or []),
            ][:REMEMBERED]
        return TickResult(
            ENFORCE_INTERVAL_SECONDS, state=state if state != resource.state else None
        )

    def check(self) -> BackendStatus:
        """Ask the management API for the node's overview."""
        try:
            overview = self._api.overview()
        except (BackendUnavailable, ManagementError) as error:
            return BackendStatus(ok=False, detail=error.message)
        return BackendStatus(ok=True, detail=f"RabbitMQ {overview.get('rabbitmq_version', '?')}")

    def owned(self) -> list[BackendObject]:
        """Vhosts and users carrying the broker's prefix.

        A vhost and its user share one name; each is its own object, so an orphaned user (or
        vhost) shows up on its own.
        """
        return sorted(
            BackendObject(kind, name)
            for kind, collection in OWNED_KINDS.items()
            for name in self._api.list_names(collection)
            if name.startswith(self._prefix)
        )

    def objects_of(self, resource: ResourceRef) -> set[BackendObject]:
        """The resource's vhost and user."""
        name = self.tenant_name(resource.resource_id)
        return {BackendObject(kind, name) for kind in OWNED_KINDS}

    def remove_orphan(self, orphan: BackendObject) -> None:
        """Delete one vhost or user that no resource owns."""
        if orphan.kind not in OWNED_KINDS or not orphan.name.startswith(self._prefix):
            raise ValueError(f"{orphan} is not a vhost or user with this broker's prefix")
        if orphan.kind == "vhost":
            self._api.delete_vhost(orphan.name)
        else:
            self._api.delete_user(orphan.name)

    def tenant_name(self, resource_id: str) -> str:
        """The resource's vhost, which is also its user's name."""
        return backend_name(self._prefix, resource_id)

    # --- internals --------------------------------------------------------------------------

    def _apply_plan(self, name: str, plan: PlanSpec) -> None:
        for limit, value in vhost_limits(plan).items():
            self._api.put_vhost_limit(name, limit, value)
        self._api.put_operator_policy(name, PLAN_POLICY, plan_policy(plan))

    def _apply_user_limits(self, user: str, plan: PlanSpec) -> None:
        for limit, value in user_limits(plan).items():
            self._api.put_user_limit(user, limit, value)

    def _apply_access(self, name: str, plan: PlanSpec) -> None:
        """The user's limits, then (once they hold) its permissions on its vhost."""
        self._apply_user_limits(name, plan)
        self._api.put_permissions(name, name, configure=TENANT_CONFIGURE)

    def _url(self, user: str, password: str) -> str:
        return (
            f"{self._amqp_scheme}://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self._amqp_netloc}/{quote(user, safe='')}"
        )


def _rate(stats: Mapping[str, Any], name: str) -> float:
    return float((stats.get(f"{name}_details") or {}).get("rate") or 0.0)
