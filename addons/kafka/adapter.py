"""Multi-tenant Kafka: one topic prefix, SCRAM user, prefixed ACL set and quota per resource.

Tenants can read, write and describe topics and use consumer groups under their prefix, and
nothing else: no CREATE, so topics are made by :meth:`KafkaAdapter.create_topic` within the
plan's caps. Names come from :mod:`addons.kafka.naming`; quotas and log-dir sizes from
:mod:`addons.kafka.quotas` (kafka-python), everything else from :mod:`addons.kafka.admin`
(confluent-kafka).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping

from addons.kafka import dashboard
from addons.kafka.admin import KafkaAdmin
from addons.kafka.cluster import (
    TENANT_SASL_MECHANISM,
    ClusterSettings,
    login_awaited,
    split_servers,
    wait_for_login,
)
from addons.kafka.naming import TenantNames, TenantNaming
from addons.kafka.plans import SPEC
from addons.kafka.quotas import QuotaAdmin
from addons.kafka.topics import (
    TopicInfo,
    TopicNotFound,
    check_new_topic,
    check_plan_fits,
    full_topic_name,
)
from marketplace.adapters import (
    DEFAULT_NAME_PREFIX,
    ActionResult,
    BackendObject,
    BackendStatus,
    BackendUnavailable,
    PlanSpec,
    ProvisionRejected,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    Usage,
    UsageMetric,
    random_password,
)

log = logging.getLogger(__name__)

QUOTA_LIMITS = ("producer_byte_rate", "consumer_byte_rate")
CHECK_TIMEOUT_SECONDS = 5.0


def plan_quotas(plan: PlanSpec) -> dict[str, float]:
    """The Kafka client quotas that enforce ``plan`` on a tenant's user."""
    return {key: float(plan.limits[key]) for key in QUOTA_LIMITS}


class KafkaAdapter:
    """One tenant per resource on a shared Kafka cluster.

    Capabilities: metering, dashboard with actions (topics), rotation, reconciliation.
    """

    spec = SPEC

    def __init__(
        self,
        bootstrap_servers: str,
        admin_username: str,
        admin_password: str,
        *,
        name_prefix: str = DEFAULT_NAME_PREFIX,
        security_protocol: str = "SASL_PLAINTEXT",
        admin_sasl_mechanism: str = "SCRAM-SHA-512",
        timeout_seconds: float = 10.0,
        login_deadline_seconds: float = 15.0,
        public_bootstrap_servers: str | None = None,
    ) -> None:
        self._cluster = ClusterSettings(
            bootstrap_servers,
            admin_username,
            admin_password,
            security_protocol=security_protocol,
            sasl_mechanism=admin_sasl_mechanism,
            timeout_seconds=timeout_seconds,
        )
        self._naming = TenantNaming(name_prefix)
        self._public_servers = split_servers(public_bootstrap_servers or bootstrap_servers)
        self._login_deadline = login_deadline_seconds
        # Serialises cap checks with topic creation in this process; across processes the
        # caller holds the resource's row lock.
        self._topic_changes = threading.Lock()

    # --- contract ---------------------------------------------------------------------------

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Create (or finish) the tenant's user, ACLs and quotas; return once its login works."""
        names = self._names(request.resource_id)
        password = random_password(40)
        admin = self._admin()
        admin.describe_cluster()  # Kafka down: fail before anything exists, nothing to undo
        admin.upsert_user(names.user, password)
        # The login check needs only the user: it runs while the ACLs and quotas are made.
        with login_awaited(self._cluster, names.user, password, self._login_deadline):
            admin.grant_tenant_acls(names.user, names.prefix)
            with self._quotas() as quotas:
                quotas.set_user_quotas(names.user, plan_quotas(request.plan))
        return ProvisionResult(
            config=self._config(names, password),
            message=(
                "Your Kafka tenant is ready. Prefix every topic and consumer group with "
                f"{names.prefix}; create topics from the dashboard."
            ),
        )

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        """Check the topics and data fit ``new_plan``, then apply its quotas."""
        names = self._names(resource.resource_id)
        with self._topic_changes:
            topics = self._tenant_topics(self._admin(), names)
            with self._quotas() as quotas:
                check_plan_fits(new_plan, topics, quotas.bytes_on_disk(t.full_name for t in topics))
                quotas.set_user_quotas(names.user, plan_quotas(new_plan))
        return ProvisionResult(config={}, message=f"Now on plan {new_plan.slug}.")

    def deprovision(self, resource: ResourceRef) -> None:
        """Remove ACLs, user, quotas, topics and consumer groups; missing ones are fine."""
        self._remove(self._names(resource.resource_id))

    def usage(self, resource: ResourceRef) -> Usage:
        """Topics, partitions and bytes on disk against the plan's limits."""
        names, limits = self._names(resource.resource_id), resource.plan.limits
        topics = self._admin().tenant_topics(names.prefix)
        with self._quotas() as quotas:
            stored = quotas.bytes_on_disk(topics)
        return Usage(
            metrics=(
                UsageMetric("topics", "Topics", len(topics), limits.get("max_topics")),
                UsageMetric(
                    "partitions", "Partitions", sum(topics.values()), limits.get("max_partitions")
                ),
                UsageMetric(
                    "storage_bytes", "Data on disk", stored, limits.get("storage_bytes"), "bytes"
                ),
            )
        )

    def rotate_credentials(self, resource: ResourceRef) -> ProvisionResult:
        """Give the user a new password (sessions re-authenticate within the broker's
        ``connections.max.reauth.ms``) and return it once it works."""
        names = self._names(resource.resource_id)
        password = random_password(40)
        self._admin().upsert_user(names.user, password)
        wait_for_login(self._cluster, names.user, password, self._login_deadline)
        return ProvisionResult(config={"KAFKA_PASSWORD": password}, message="Credentials rotated.")

    def details(self, resource: ResourceRef) -> ResourceDetails:
        """Connection facts, the tenant's topics and consumer groups, and the topic actions."""
        names = self._names(resource.resource_id)
        admin = self._admin()
        topics = self._tenant_topics(admin, names)
        groups = [group for group in admin.groups() if group.startswith(names.prefix)]
        facts = (
            ("Bootstrap servers", ",".join(self._public_servers)),
            ("Topic and group prefix", names.prefix),
            ("User", names.user),
            ("SASL mechanism", TENANT_SASL_MECHANISM),
            ("Security protocol", self._cluster.security_protocol),
        )
        return dashboard.panel(facts, topics, groups)

    def perform(
        self, resource: ResourceRef, action: str, params: Mapping[str, str]
    ) -> ActionResult:
        """``create_topic`` (name, partitions, retention_hours) or ``delete_topic`` (name).

        :raises ProvisionRejected: unknown action, bad values or a plan cap; nothing changed.
        """
        if action == dashboard.CREATE_TOPIC.name:
            partitions, retention_ms = dashboard.new_topic_values(params)
            topic = self.create_topic(
                resource, dashboard.topic_name(params), partitions, retention_ms
            )
            return ActionResult(dashboard.created_message(topic))
        if action == dashboard.DELETE_TOPIC.name:
            name = dashboard.topic_name(params)
            self.delete_topic(resource, name)
            return ActionResult(f"Topic {name} and its messages were deleted.")
        raise ProvisionRejected(f"Unknown action {action!r}.")

    def check(self) -> BackendStatus:
        """Describe the cluster as the admin user."""
        quick = dataclasses.replace(
            self._cluster, timeout_seconds=min(self._cluster.timeout_seconds, CHECK_TIMEOUT_SECONDS)
        )
        try:
            cluster_id, brokers = KafkaAdmin(quick).describe_cluster()
        except BackendUnavailable as error:
            return BackendStatus(ok=False, detail=error.message)
        return BackendStatus(ok=True, detail=f"Kafka cluster {cluster_id}, {brokers} broker(s)")

    def owned(self) -> list[BackendObject]:
        """A ``user`` (``<stem>``) and a ``prefix`` (``<stem>.``) object for every tenant
        object with our prefix: SCRAM users, ACL principals and patterns, quota entities,
        topics and groups."""
        admin, naming = self._admin(), self._naming
        found: set[BackendObject | None] = {naming.owned_user(user) for user in admin.users()}
        for acl in admin.acls():
            found.add(naming.owned_prefix(acl.name))
            if acl.principal.startswith("User:"):
                found.add(naming.owned_user(acl.principal.removeprefix("User:")))
        found.update(naming.owned_prefix(name) for name in [*admin.topics(), *admin.groups()])
        with self._quotas() as quotas:
            found.update(naming.owned_user(user) for user in quotas.users_with_quotas())
        return sorted(obj for obj in found if obj is not None)

    def objects_of(self, resource: ResourceRef) -> set[BackendObject]:
        """The resource's user and prefix."""
        return self._names(resource.resource_id).owned

    def remove_orphan(self, orphan: BackendObject) -> None:
        """Remove the whole tenant behind ``orphan`` (its user and its prefix go together)."""
        self._remove(self._naming.from_owned(orphan))

    # --- topics, created on the tenant's behalf ---------------------------------------------

    def list_topics(self, resource: ResourceRef) -> list[TopicInfo]:
        """The tenant's topics, sorted by name."""
        return self._tenant_topics(self._admin(), self._names(resource.resource_id))

    def create_topic(
        self, resource: ResourceRef, name: str, partitions: int, retention_ms: int | None = None
    ) -> TopicInfo:
        """Create the tenant's topic ``name`` (given without the prefix) within the plan's caps.

        Callers serialise calls per resource across processes (the broker's row lock).

        :raises ProvisionRejected: bad name or values, an existing topic, or a cap would be
            exceeded; nothing was created.
        :raises BackendUnavailable: Kafka is down.
        """
        names = self._names(resource.resource_id)
        full_name = full_topic_name(names.prefix, name)
        with self._topic_changes:
            admin = self._admin()
            existing = self._tenant_topics(admin, names)
            if any(topic.full_name == full_name for topic in existing):
                raise ProvisionRejected(f"A topic named {name!r} already exists.")
            retention = check_new_topic(resource.plan, existing, partitions, retention_ms)
            admin.create_topic(full_name, partitions, {"retention.ms": str(retention)})
        return TopicInfo(name, full_name, partitions, retention)

    def delete_topic(self, resource: ResourceRef, name: str) -> None:
        """Delete the tenant's topic ``name`` (given without the prefix) and its data.

        :raises TopicNotFound: the tenant has no such topic.
        :raises BackendUnavailable: Kafka is down.
        """
        full_name = full_topic_name(self._names(resource.resource_id).prefix, name)
        admin = self._admin()
        if full_name not in admin.topics():
            raise TopicNotFound(f"There is no topic named {name!r}.")
        admin.delete_topics([full_name])

    # --- internals --------------------------------------------------------------------------

    def _names(self, resource_id: str) -> TenantNames:
        return self._naming.for_resource(resource_id)

    def _admin(self) -> KafkaAdmin:
        return KafkaAdmin(self._cluster)

    def _quotas(self) -> QuotaAdmin:
        return QuotaAdmin(self._cluster)

    def _tenant_topics(self, admin: KafkaAdmin, names: TenantNames) -> list[TopicInfo]:
        partitions = admin.tenant_topics(names.prefix)
        retention = admin.retention_ms(partitions)
        return [
            TopicInfo(full.removeprefix(names.prefix), full, count, retention[full])
            for full, count in sorted(partitions.items())
        ]

    def _remove(self, names: TenantNames) -> None:
        admin = self._admin()
        self._revoke_access(admin, names)
        admin.delete_topics(admin.tenant_topics(names.prefix))
        busy = admin.delete_groups(g for g in admin.groups() if g.startswith(names.prefix))
        if busy:
            # Members of a group outlive their revoked access until their session times out;
            # the reconciler finds the group under an orphaned prefix and removes it then.
            log.warning("consumer groups still have members: %s", ", ".join(busy))

    def _revoke_access(self, admin: KafkaAdmin, names: TenantNames) -> None:
        # ACLs go first: Kafka checks them on every request, so even sessions that
        # authenticated earlier lose the tenant's topics at once.
        admin.revoke_tenant_acls(names.user, names.prefix)
        admin.delete_user(names.user)
        with self._quotas() as quotas:
            quotas.remove_user_quotas(names.user)

    def _config(self, names: TenantNames, password: str) -> dict[str, str]:
        return {
            "KAFKA_URL": ",".join(f"kafka://{server}" for server in self._public_servers),
            "KAFKA_PREFIX": names.prefix,
            "KAFKA_USERNAME": names.user,
            "KAFKA_PASSWORD": password,
            "KAFKA_SASL_MECHANISM": TENANT_SASL_MECHANISM,
            "KAFKA_SECURITY_PROTOCOL": self._cluster.security_protocol,
        }
