"""Real Kafka tenants through the Partner API: usable, isolated, capped, throttled, removable."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
)
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from addons.kafka import SPEC, KafkaAdapter, TopicNotFound, create_adapter
from addons.kafka.cluster import ClusterSettings
from addons.kafka.quotas import QuotaAdmin
from marketplace.adapters import (
    PlanChangeRejected,
    PlanSpec,
    ProvisionRejected,
    ProvisionRequest,
    ResourceRef,
)
from marketplace.errors import from_adapter_error
from tests.support import (
    PartnerClient,
    as_object,
    build_app,
    csrf_token,
    live_server,
    names_of,
    owned_names,
)

pytestmark = pytest.mark.backend

KAFKA_HOME = Path(__file__).resolve().parents[2] / ".services" / "kafka"
TINY = PlanSpec(
    "tiny",
    "Tiny",
    "test plan",
    0,
    {
        "max_topics": 2,
        "max_partitions": 3,
        "max_retention_ms": 3_600_000,
        "producer_byte_rate": 1024,
        "consumer_byte_rate": 2048,
        "storage_bytes": 10**9,
    },
)


@dataclasses.dataclass(frozen=True)
class Tenant:
    uuid: str
    config: Mapping[str, str]
    plan: PlanSpec

    @property
    def prefix(self) -> str:
        return self.config["KAFKA_PREFIX"]

    @property
    def user(self) -> str:
        return self.config["KAFKA_USERNAME"]

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.uuid, self.plan, "us", self.config)

    def client_config(self, **extra: Any) -> dict[str, Any]:
        """confluent-kafka settings built from the config vars alone, as an app would."""
        servers = [url.removeprefix("kafka://") for url in self.config["KAFKA_URL"].split(",")]
        return {
            "bootstrap.servers": ",".join(servers),
            "security.protocol": self.config["KAFKA_SECURITY_PROTOCOL"],
            "sasl.mechanism": self.config["KAFKA_SASL_MECHANISM"],
            "sasl.username": self.config["KAFKA_USERNAME"],
            "sasl.password": self.config["KAFKA_PASSWORD"],
            **extra,
        }


class KafkaWorld:
    """An app serving the Kafka add-on (optionally with extra plans), its partner and adapter."""

    def __init__(self, store_url: str, extra_plans: tuple[PlanSpec, ...] = ()) -> None:
        self.settings = kafka_settings()
        adapter = create_adapter(self.settings)
        adapter.spec = dataclasses.replace(SPEC, plans=(*SPEC.plans, *extra_plans))
        self.adapter = adapter
        self.app = build_app(store_url, adapters=[adapter])
        self.partner = PartnerClient(self.app.test_client(), self.app, "kafka")
        self._created: list[str] = []

    def track(self, uuid_: str) -> None:
        """Deprovision ``uuid_`` when the test ends."""
        self._created.append(uuid_)

    def provision(self, plan: str = "basic-0") -> Tenant:
        response = self.partner.provision(plan=plan)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        self.track(body["id"])
        return Tenant(body["id"], body["config"], self.adapter.spec.plan(plan))

    @functools.cached_property
    def _admin(self) -> AdminClient:
        return AdminClient(
            {
                "bootstrap.servers": self.settings["KAFKA_BOOTSTRAP_SERVERS"],
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": self.settings["KAFKA_ADMIN_USERNAME"],
                "sasl.password": self.settings["KAFKA_ADMIN_PASSWORD"],
            }
        )

    def admin(self) -> AdminClient:
        """The admin's own client (kept: a dropped client cancels its pending futures)."""
        return self._admin

    def topics(self, prefix: str) -> set[str]:
        return {t for t in self.admin().list_topics(timeout=10).topics if t.startswith(prefix)}

    def acls_of(self, user: str) -> list[Any]:
        everything = AclBindingFilter(
            ResourceType.ANY,
            None,
            ResourcePatternType.ANY,
            f"User:{user}",
            None,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        return self.admin().describe_acls(everything).result(timeout=10)

    def scram_users(self) -> set[str]:
        return set(self.admin().describe_user_scram_credentials().result(timeout=10))

    def quotas_of(self, user: str) -> dict[str, float]:
        cluster = ClusterSettings(
            self.settings["KAFKA_BOOTSTRAP_SERVERS"],
            self.settings["KAFKA_ADMIN_USERNAME"],
            self.settings["KAFKA_ADMIN_PASSWORD"],
        )
        with QuotaAdmin(cluster) as quotas:
            return quotas.user_quotas(user)

    def deprovision_all(self) -> None:
        for uuid_ in self._created:
            self.partner.deprovision(uuid_)


def kafka_settings() -> dict[str, Any]:
    """The broker's settings (the local stack unless the environment says otherwise)."""
    return dict(build_app("sqlite://", adapters=[]).config)


@pytest.fixture
def world(sqlite_url) -> Iterator[KafkaWorld]:
    world = KafkaWorld(sqlite_url, extra_plans=(TINY,))
    try:
        yield world
    finally:
        world.deprovision_all()


def consume(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Any]:
    """Poll until ``count`` messages (an error message fails the test) or the deadline."""
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        assert message.error() is None, message.error()
        messages.append(message)
    return messages


def first_error(consumer: Consumer, timeout: float = 20.0) -> KafkaError:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is not None:
            return message.error()
    raise AssertionError("the consumer got no error")


def future_error(future: Any) -> int:
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=10)
    return raised.value.args[0].code()


def login_refused(config: Mapping[str, Any], timeout: float = 20.0) -> bool:
    """Whether Kafka refuses these credentials (polled: credential changes propagate)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        refused: list[KafkaError] = []

        def on_error(error: KafkaError, refused: list[KafkaError] = refused) -> None:
            if error.code() == KafkaError._AUTHENTICATION:
                refused.append(error)

        client = AdminClient({**config, "error_cb": on_error, "log_level": 0})
        try:
            client.list_topics(timeout=1)
        except KafkaException:
            client.poll(0)
            if refused:
                return True
    return False


# --- using a tenant ---------------------------------------------------------------------------


def test_tenant_produces_and_consumes_on_a_topic_the_broker_created(world):
    tenant = world.provision()
    assert set(tenant.config) == set(SPEC.config_vars)
    assert tenant.config["KAFKA_URL"].startswith("kafka://")
    assert tenant.prefix.endswith(".") and tenant.user in tenant.prefix
    assert len(tenant.config["KAFKA_PASSWORD"]) >= 32

    topic = world.adapter.create_topic(tenant.ref, "orders", 2)
    assert topic.full_name == f"{tenant.prefix}orders"
    assert world.adapter.list_topics(tenant.ref) == [topic]

    producer = Producer(tenant.client_config())
    for n in range(3):
        producer.produce(topic.full_name, f"order-{n}".encode(), key=b"k")
    assert producer.flush(20) == 0
    consumer = Consumer(
        tenant.client_config(
            **{"group.id": f"{tenant.prefix}billing", "auto.offset.reset": "earliest"}
        )
    )
    try:
        consumer.subscribe([topic.full_name])
        messages = consume(consumer, 3)
    finally:
        consumer.close()
    assert sorted(m.value() for m in messages) == [b"order-0", b"order-1", b"order-2"]

    usage = world.adapter.usage(tenant.ref)
    assert (usage.metric("topics").value, usage.metric("topics").limit) == (1, 40)
    assert (usage.metric("partitions").value, usage.metric("partitions").limit) == (2, 240)
    assert usage.metric("storage_bytes").value > 0


def test_transactions_work_under_the_tenants_prefix_only(world):
    tenant, other = world.provision(), world.provision()
    topic = world.adapter.create_topic(tenant.ref, "ledger", 1)
    producer = Producer(tenant.client_config(**{"transactional.id": f"{tenant.prefix}tx-1"}))
    producer.init_transactions(20)
    producer.begin_transaction()
    producer.produce(topic.full_name, b"committed")
    producer.commit_transaction(20)
    aborted = Producer(tenant.client_config(**{"transactional.id": f"{tenant.prefix}tx-2"}))
    aborted.init_transactions(20)
    aborted.begin_transaction()
    aborted.produce(topic.full_name, b"aborted")
    aborted.abort_transaction(20)

    consumer = Consumer(
        tenant.client_config(
            **{
                "group.id": f"{tenant.prefix}reader",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
    )
    try:
        consumer.subscribe([topic.full_name])
        assert [m.value() for m in consume(consumer, 1)] == [b"committed"]
    finally:
        consumer.close()

    foreign = Producer(tenant.client_config(**{"transactional.id": f"{other.prefix}tx-1"}))
    with pytest.raises(KafkaException, match="TRANSACTIONAL_ID_AUTHORIZATION_FAILED"):
        foreign.init_transactions(20)


def test_tenant_cannot_read_write_describe_or_create_outside_its_prefix(world):
    a, b = world.provision(), world.provision()
    secret = world.adapter.create_topic(b.ref, "secret", 1).full_name
    own = world.adapter.create_topic(a.ref, "own", 1).full_name

    delivered: list[KafkaError] = []
    producer = Producer(a.client_config(**{"message.timeout.ms": 10000}))
    producer.produce(secret, b"intrusion", on_delivery=lambda error, _msg: delivered.append(error))
    producer.flush(15)
    assert delivered[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    reader = Consumer(a.client_config(**{"group.id": f"{a.prefix}snoop"}))
    try:
        reader.subscribe([secret])
        assert first_error(reader).code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        reader.close()

    joiner = Consumer(a.client_config(**{"group.id": f"{b.prefix}workers"}))
    try:
        joiner.subscribe([own])
        assert first_error(joiner).code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        joiner.close()

    admin_a = AdminClient(a.client_config())
    assert set(admin_a.list_topics(timeout=10).topics) == {own}
    described = admin_a.describe_topics(TopicCollection([secret]))
    assert future_error(described[secret]) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    configs = admin_a.describe_configs([ConfigResource(ResourceType.TOPIC, secret)])
    assert future_error(next(iter(configs.values()))) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    attempts = [NewTopic(f"{a.prefix}direct", 1), NewTopic("outside-any-prefix", 1)]
    for future in admin_a.create_topics(attempts).values():
        assert future_error(future) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert world.topics(a.prefix) == {own}
    assert "outside-any-prefix" not in world.topics("outside")


# --- plan caps --------------------------------------------------------------------------------


def test_topics_beyond_the_plan_are_refused_and_nothing_is_created(world):
    tenant = world.provision(plan="tiny")  # 2 topics, 3 partitions, 1 h retention
    adapter = world.adapter
    adapter.create_topic(tenant.ref, "a", 2)

    refusals = {
        "partitions": lambda: adapter.create_topic(tenant.ref, "b", 2),
        "retention": lambda: adapter.create_topic(tenant.ref, "b", 1, retention_ms=7_200_000),
        "bad name": lambda: adapter.create_topic(tenant.ref, "no/slashes", 1),
        "empty name": lambda: adapter.create_topic(tenant.ref, "", 1),
        "long name": lambda: adapter.create_topic(tenant.ref, "x" * 249, 1),
        "zero partitions": lambda: adapter.create_topic(tenant.ref, "b", 0),
        "duplicate": lambda: adapter.create_topic(tenant.ref, "a", 1),
    }
    for label, attempt in refusals.items():
        with pytest.raises(ProvisionRejected) as refused:
            attempt()
        assert from_adapter_error(refused.value).status == 422, label
    with pytest.raises(ProvisionRejected, match="allows 3 partitions in all"):
        adapter.create_topic(tenant.ref, "b", 2)
    assert world.topics(tenant.prefix) == {f"{tenant.prefix}a"}

    adapter.create_topic(tenant.ref, "b", 1)
    with pytest.raises(ProvisionRejected, match="allows 2 topics"):
        adapter.create_topic(tenant.ref, "c", 1)
    assert world.topics(tenant.prefix) == {f"{tenant.prefix}a", f"{tenant.prefix}b"}

    adapter.delete_topic(tenant.ref, "b")
    assert world.topics(tenant.prefix) == {f"{tenant.prefix}a"}
    with pytest.raises(TopicNotFound):
        adapter.delete_topic(tenant.ref, "b")
    adapter.create_topic(tenant.ref, "c", 1)


def test_concurrent_topic_creations_cannot_overshoot_the_cap(world):
    tenant = world.provision(plan="tiny")  # 2 topics

    def create(n: int) -> str:
        try:
            world.adapter.create_topic(tenant.ref, f"t{n}", 1)
        except ProvisionRejected:
            return "refused"
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(8)))

    assert sorted(outcomes) == ["created"] * 2 + ["refused"] * 6
    assert len(world.topics(tenant.prefix)) == 2


def test_dashboard_actions_manage_topics_within_the_caps(world):
    tenant = world.provision(plan="tiny")
    adapter = world.adapter
    message = adapter.perform(
        tenant.ref, "create_topic", {"name": "a", "partitions": "2", "retention_hours": "1"}
    ).message
    assert "Topic a created" in message
    topics = next(t for t in adapter.details(tenant.ref).tables if t.title == "Topics")
    assert topics.rows == (("a", f"{tenant.prefix}a", "2", "1"),)
    assert topics.row_action == "delete_topic"

    for params in ({"name": "b", "partitions": "two"}, {"name": "b"}, {"partitions": "1"}):
        with pytest.raises(ProvisionRejected):
            adapter.perform(tenant.ref, "create_topic", params)
    with pytest.raises(ProvisionRejected, match="Unknown action"):
        adapter.perform(tenant.ref, "alter_topic", {"name": "a"})

    # The same through the dashboard's JSON twin, as the holder of the SSO session.
    client = world.partner.client
    assert client.post("/sso/login", data=world.partner.sso_form(tenant.uuid)).status_code == 302
    page = client.get(f"/dashboard/{tenant.uuid}").get_data(as_text=True)
    csrf = {"X-CSRFToken": csrf_token(page)}
    actions = f"/resources/{tenant.uuid}/actions"
    refused = client.post(
        f"{actions}/create_topic", json={"name": "b", "partitions": 2}, headers=csrf
    )
    assert refused.status_code == 422
    assert "allows 3 partitions in all" in refused.get_json()["message"]
    assert world.topics(tenant.prefix) == {f"{tenant.prefix}a"}
    deleted = client.post(f"{actions}/delete_topic", json={"name": "a"}, headers=csrf)
    assert deleted.status_code == 200, deleted.get_json()
    assert world.topics(tenant.prefix) == set()


def test_quotas_are_set_on_provision_and_follow_plan_changes(world):
    tenant = world.provision(plan="basic-0")
    assert world.quotas_of(tenant.user) == {
        "producer_byte_rate": 65536.0,
        "consumer_byte_rate": 262144.0,
    }
    assert_kafka_configs_tool_sees(tenant.user, "producer_byte_rate=65536.0")

    assert world.partner.change_plan(tenant.uuid, "basic-1").status_code == 200
    assert world.quotas_of(tenant.user) == {
        "producer_byte_rate": 524288.0,
        "consumer_byte_rate": 2097152.0,
    }


def assert_kafka_configs_tool_sees(user: str, expected: str) -> None:
    """Cross-check the quota protocol route against Kafka's own kafka-configs tool."""
    java, libs = shutil.which("java"), KAFKA_HOME / "libs"
    assert java is not None and libs.is_dir(), "Kafka's tool jars are missing: run make services"
    completed = subprocess.run(
        [
            java,
            f"-Dlog4j2.configurationFile={KAFKA_HOME / 'config' / 'tools-log4j2.xml'}",
            "-cp",
            f"{libs}/*",
            "kafka.admin.ConfigCommand",
            "--bootstrap-server",
            "127.0.0.1:9092",
            "--command-config",
            str(KAFKA_HOME / "config" / "admin-client.properties"),
            "--describe",
            "--entity-type",
            "users",
            "--entity-name",
            user,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert expected in completed.stdout, completed.stdout


def test_plan_change_is_refused_while_topics_do_not_fit(world):
    tenant = world.provision(plan="basic-2")  # 14-day retention allowed
    for name in ("a", "b", "c"):
        world.adapter.create_topic(tenant.ref, name, 1)

    response = world.partner.change_plan(tenant.uuid, "tiny")
    assert response.status_code == 422
    assert "3 topics (the plan allows 2)" in response.get_json()["message"]

    world.adapter.create_topic(tenant.ref, "long", 1, retention_ms=10 * 24 * 3_600_000)
    response = world.partner.change_plan(tenant.uuid, "basic-0")
    assert response.status_code == 422
    assert "retention above 168 hours on long" in response.get_json()["message"]
    assert world.quotas_of(tenant.user)["producer_byte_rate"] == 4 * 1024 * 1024

    world.adapter.delete_topic(tenant.ref, "long")
    assert world.partner.change_plan(tenant.uuid, "basic-0").status_code == 200
    with pytest.raises(PlanChangeRejected):
        world.adapter.change_plan(dataclasses.replace(tenant.ref, plan=SPEC.plan("basic-0")), TINY)


# --- credentials and removal ------------------------------------------------------------------


def test_rotated_password_works_and_the_old_one_is_refused(world):
    tenant = world.provision()
    rotated = world.adapter.rotate_credentials(tenant.ref).config
    assert set(rotated) == {"KAFKA_PASSWORD"}
    assert login_refused(tenant.client_config())
    new = tenant.client_config(**{"sasl.password": rotated["KAFKA_PASSWORD"]})
    assert AdminClient(new).list_topics(timeout=10) is not None


def test_deprovision_removes_topics_groups_acls_quotas_and_user(world):
    tenant = world.provision()
    topic = world.adapter.create_topic(tenant.ref, "events", 1).full_name
    group = f"{tenant.prefix}readers"
    producer = Producer(tenant.client_config())
    producer.produce(topic, b"hello")
    assert producer.flush(20) == 0
    consumer = Consumer(
        tenant.client_config(**{"group.id": group, "auto.offset.reset": "earliest"})
    )
    try:
        consumer.subscribe([topic])
        assert len(consume(consumer, 1)) == 1
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    assert world.acls_of(tenant.user) and tenant.user in world.scram_users()

    assert world.partner.deprovision(tenant.uuid).status_code == 204

    assert world.topics(tenant.prefix) == set()
    groups = world.admin().list_consumer_groups().result(timeout=10).valid
    assert group not in {g.group_id for g in groups}
    assert world.acls_of(tenant.user) == []
    assert tenant.user not in world.scram_users()
    assert world.quotas_of(tenant.user) == {}
    assert login_refused(tenant.client_config())
    assert not names_of(world.adapter, tenant.uuid) & owned_names(world.adapter)
    world.adapter.deprovision(tenant.ref)  # again: nothing left to remove is fine


def test_orphans_are_listed_and_removed_but_foreign_names_are_refused(world):
    orphan = ResourceRef(str(uuid.uuid4()), SPEC.default_plan, "us")
    names = names_of(world.adapter, orphan.resource_id)
    try:
        world.adapter.provision(ProvisionRequest(orphan.resource_id, orphan.plan, "us"))
        assert names <= owned_names(world.adapter)

        world.adapter.remove_orphan(as_object(min(names)))  # "prefix:..." takes the user along
        assert not names & owned_names(world.adapter)
    finally:
        world.adapter.deprovision(orphan)
    for foreign in ("user:kafka-internal-scram-anchor-aaxkudyg", "user:marketplace_admin", "x"):
        with pytest.raises(ValueError):
            world.adapter.remove_orphan(as_object(foreign))


# --- concurrency and outages ------------------------------------------------------------------


def test_twenty_concurrent_duplicate_provisions_make_one_tenant(world):
    body = world.partner.provision_body(plan="basic-0")
    world.track(body["uuid"])
    users_before = world.scram_users()

    with live_server(world.app) as base, ThreadPoolExecutor(max_workers=20) as pool:

        def call(_: int) -> tuple[int, dict]:
            response = requests.post(
                f"{base}/heroku/resources", json=body, headers=world.partner.headers, timeout=120
            )
            return response.status_code, response.json()

        results = list(pool.map(call, range(20)))

    assert {status for status, _ in results} == {200}
    assert len({payload["config"]["KAFKA_PASSWORD"] for _, payload in results}) == 1
    new_users = world.scram_users() - users_before
    user = results[0][1]["config"]["KAFKA_USERNAME"]
    assert new_users == {user}
    assert len(world.acls_of(user)) == 9  # topic R/W/D/DC, group R/D/DEL, txn id W/D, once each


def test_failure_midway_removes_what_the_provision_created(sqlite_url):
    broken = dataclasses.replace(
        TINY, slug="broken", limits={**TINY.limits, "producer_byte_rate": -1}
    )
    world = KafkaWorld(sqlite_url, extra_plans=(broken,))
    before_names, before_users = owned_names(world.adapter), world.scram_users()

    # Kafka refuses the quota, by which time the user and its ACLs exist.
    response = world.partner.provision(plan="broken")

    assert response.status_code == 503
    assert (
        response.get_json()["message"]
        == "Kafka failed while serving the request; try again shortly."
    )
    assert owned_names(world.adapter) == before_names
    assert world.scram_users() == before_users


def test_kafka_down_gives_503_and_leaves_nothing(sqlite_url):
    up = create_adapter(kafka_settings())
    down = KafkaAdapter("127.0.0.1:1", "marketplace_admin", "x", timeout_seconds=1)
    app = build_app(sqlite_url, adapters=[down])
    partner = PartnerClient(app.test_client(), app, "kafka")
    before = owned_names(up)

    response = partner.provision(plan="basic-0")

    assert response.status_code == 503
    assert response.get_json() == {
        "id": "service_unavailable",
        "message": "Kafka is not reachable right now; try again shortly.",
    }
    assert owned_names(up) == before
    readiness = app.test_client().get("/readyz")
    assert readiness.status_code == 503
    assert readiness.get_json()["checks"]["kafka"]["ok"] is False
