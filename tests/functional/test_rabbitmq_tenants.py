"""Real RabbitMQ tenants through the Partner API: usable, isolated, limited, removable."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions
import pytest
import requests

from addons.rabbitmq import RabbitMQAdapter
from addons.rabbitmq.plans import DEFAULT_AMQP_URL as DEFAULT_RABBITMQ_AMQP_URL
from addons.rabbitmq.plans import DEFAULT_MANAGEMENT_URL as DEFAULT_RABBITMQ_MANAGEMENT_URL
from addons.rabbitmq.plans import SPEC
from marketplace.adapters import PlanSpec
from tests.async_support import in_process_worker
from tests.support import PartnerClient, build_app, live_server, owned_names, wait_until

pytestmark = pytest.mark.backend

TINY = PlanSpec(
    "tiny",
    "Tiny",
    "test plan with small limits",
    0,
    {
        "max_connections": 2,
        "max_channels": 3,
        "max_queues": 3,
        "max_queue_length": 5,
        "max_queue_bytes": 1024**2,
        "message_ttl_ms": 60_000,
    },
)
TEST_SPEC = dataclasses.replace(SPEC, plans=(*SPEC.plans, TINY))
DOWN_MANAGEMENT_URL = "http://marketplace_admin:x@127.0.0.1:1"


def management_url() -> str:
    return os.environ.get("RABBITMQ_MANAGEMENT_URL", DEFAULT_RABBITMQ_MANAGEMENT_URL)


def amqp_url() -> str:
    return os.environ.get("RABBITMQ_AMQP_URL", DEFAULT_RABBITMQ_AMQP_URL)


def management_get(path: str) -> requests.Response:
    """GET ``/api{path}`` as the administrator, straight from the server."""
    parts = urlsplit(management_url())
    return requests.get(
        f"{parts.scheme}://{parts.hostname}:{parts.port}/api{path}",
        auth=(unquote(parts.username or ""), unquote(parts.password or "")),
        timeout=10,
    )


def tenant_exists(name: str) -> dict[str, bool]:
    return {
        kind: management_get(f"/{kind}s/{name}").status_code == 200 for kind in ("vhost", "user")
    }


def connect(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(url))


def vhost_of(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


class Tenants:
    """Provisions through the Partner API and deprovisions everything at the end."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.partner = PartnerClient(app.test_client(), app, "rabbitmq")
        self.uuids: list[str] = []

    def provision(self, plan: str = "lemur", **fields: Any) -> tuple[str, str]:
        response = self.partner.provision(plan=plan, **fields)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        self.uuids.append(body["id"])
        return body["id"], body["config"]["RABBITMQ_URL"]

    def remove_all(self) -> None:
        for uuid_ in self.uuids:
            assert self.partner.deprovision(uuid_).status_code in (204, 410)


@pytest.fixture
def adapter() -> RabbitMQAdapter:
    return RabbitMQAdapter(management_url(), amqp_url(), spec=TEST_SPEC)


@pytest.fixture
def tenants(sqlite_url, adapter) -> Iterator[Tenants]:
    tenants = Tenants(build_app(sqlite_url, adapters=[adapter]))
    yield tenants
    tenants.remove_all()


def test_rabbitmq_url_publishes_and_consumes(tenants):
    _, url = tenants.provision()
    with connect(url) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.queue_declare("greetings")
        channel.basic_publish("", "greetings", b"hello")

        method, _, body = next(channel.consume("greetings", inactivity_timeout=10))
        assert body == b"hello"
        channel.basic_ack(method.delivery_tag)
        channel.cancel()


def test_tenant_cannot_open_another_tenants_vhost_or_the_management_api(tenants):
    _, url_a = tenants.provision()
    _, url_b = tenants.provision()
    foreign = urlsplit(url_a)._replace(path=urlsplit(url_b).path).geturl()

    with pytest.raises(pika.exceptions.ProbableAccessDeniedError, match="access to vhost"):
        connect(foreign)
    parts = urlsplit(url_a)
    response = requests.get(
        f"http://{parts.hostname}:{urlsplit(management_url()).port}/api/overview",
        auth=(parts.username, parts.password),
        timeout=10,
    )
    assert response.status_code == 401  # no management tag: no API, no policies


def test_connection_limit_holds_and_a_plan_change_raises_it(tenants):
    uuid_, url = tenants.provision(plan="tiny")
    with ExitStack() as open_connections:
        for _ in range(2):
            open_connections.enter_context(connect(url))
        with pytest.raises(pika.exceptions.ProbableAccessDeniedError, match="connection limit"):
            connect(url)

        assert tenants.partner.change_plan(uuid_, "lemur").status_code == 200

        open_connections.enter_context(connect(url))


def test_channel_limit_holds_across_connections_and_a_plan_change_raises_it(tenants):
    """Without a cap, each of a Little Lemur's 20 connections could open 2,047 channels (about
    four Erlang processes and 36 kB of the shared node's memory each)."""
    uuid_, url = tenants.provision(plan="tiny")
    with connect(url) as first, connect(url) as second:
        kept = [first.channel(), first.channel(), second.channel()]
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker, match="channel"):
            second.channel()
        assert all(channel.is_open for channel in kept[:2])

    assert tenants.partner.change_plan(uuid_, "lemur").status_code == 200
    with connect(url) as conn:
        assert len([conn.channel() for _ in range(4)]) == 4


def test_queue_limit_and_operator_policy_hold(tenants):
    _, url = tenants.provision(plan="tiny")
    with connect(url) as conn:
        channel = conn.channel()
        for number in range(3):
            channel.queue_declare(f"q{number}")
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="queue limit"):
            channel.queue_declare("q3")

        channel = conn.channel()
        channel.confirm_delivery()
        for number in range(8):
            channel.basic_publish("", "q0", str(number).encode())
        assert channel.queue_declare("q0", passive=True).method.message_count == 5

    # The management statistics show the policy a few seconds later.
    queue = wait_until(lambda: _queue_with_policy(vhost_of(url), "q0"))
    assert queue["operator_policy"] == "mkt-plan"
    assert queue["effective_policy_definition"]["message-ttl"] == 60_000


def test_quorum_queues_are_held_to_the_plan_too(tenants):
    _, url = tenants.provision(plan="tiny")
    with connect(url) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        # The tenant asks for more than the plan allows; the operator policy wins.
        channel.queue_declare(
            "votes", durable=True, arguments={"x-queue-type": "quorum", "x-max-length": 1_000_000}
        )
        for number in range(8):
            channel.basic_publish("", "votes", str(number).encode())
        assert channel.queue_declare("votes", passive=True).method.message_count == 5


def test_streams_the_plan_cannot_cap_are_removed_with_their_messages(sqlite_url, adapter, tmp_path):
    """A stream ignores the plan's operator policy, so the broker refuses the type: the
    RabbitMQ adapter's background tick removes it, and the dashboard says why."""
    app = build_app(sqlite_url, adapters=[adapter], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    tenants = Tenants(app)
    try:
        uuid_, url = tenants.provision(plan="lemur")
        with connect(url) as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            channel.queue_declare("log", durable=True, arguments={"x-queue-type": "stream"})
            channel.queue_declare("jobs", durable=True)
            for _ in range(500):
                channel.basic_publish("", "log", b"x" * 6000)
        # The worker starts once the stream holds its messages: a tick that deleted the stream
        # while its declare was still in flight made RabbitMQ fail the tenant's connection
        # (541 INTERNAL_ERROR) instead of testing the removal.
        with in_process_worker(app):
            wait_until(
                lambda: management_get(f"/queues/{vhost_of(url)}/log").status_code == 404,
                what="the stream is removed",
            )
            assert management_get(f"/queues/{vhost_of(url)}/jobs").status_code == 200
        tenants.partner.client.post("/sso/login", data=tenants.partner.sso_form(uuid_))
        view = tenants.partner.client.get(f"/resources/{uuid_}").get_json()
        removed = next(t for t in view["tables"] if t["title"].startswith("Removed queues"))
        assert [row[:2] for row in removed["rows"]] == [["log", "stream"]]
    finally:
        tenants.remove_all()


def test_names_the_management_api_cannot_address_are_refused(tenants):
    """RabbitMQ's HTTP router resolves "." and ".." path segments (also as %2E), so the
    broker could never delete a stream of that name, and the first such stream used to stop
    the removal of every other one. The tenant may not declare those names at all."""
    _, url = tenants.provision()
    with connect(url) as conn:
        for name in (".", ".."):
            channel = conn.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
                channel.queue_declare(name, durable=True, arguments={"x-queue-type": "stream"})
            channel = conn.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
                channel.exchange_declare(name)
        channel = conn.channel()
        for name in ("..a", "a.", "%2E", "a/b"):
            channel.queue_declare(name)
    assert sorted(q["name"] for q in management_get(f"/queues/{vhost_of(url)}").json()) == [
        "%2E",
        "..a",
        "a.",
        "a/b",
    ]


def test_messages_over_16_mib_are_refused_on_the_shared_node(tenants):
    """A few of RabbitMQ's default 128 MiB messages at once could raise the node's memory
    alarm, which blocks every tenant's publishers (scripts/services/rabbitmq.sh sets the cap)."""
    _, url = tenants.provision()
    with connect(url) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish("", "nowhere", b"x" * (16 * 1024 * 1024 - 1024))  # unroutable
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED"):
            channel.basic_publish("", "nowhere", b"x" * (16 * 1024 * 1024 + 1))


def _queue_with_policy(vhost: str, queue: str) -> dict[str, Any] | None:
    details = management_get(f"/queues/{vhost}/{queue}").json()
    return details if details.get("operator_policy") else None


def test_plan_change_is_refused_when_the_queues_do_not_fit(tenants):
    uuid_, url = tenants.provision()
    with connect(url) as conn:
        channel = conn.channel()
        for number in range(4):
            channel.queue_declare(f"q{number}")

    response = tenants.partner.change_plan(uuid_, "tiny")

    assert response.status_code == 422
    assert response.get_json()["message"] == (
        "The vhost has 4 queues, above the 3-queue limit of plan tiny; delete some queues first."
    )
    assert tenants.partner.change_plan(uuid_, "tiger").status_code == 200


def test_deprovision_with_a_live_consumer_closes_it_and_removes_vhost_and_user(tenants):
    uuid_, url = tenants.provision()
    consumer = connect(url)
    try:
        channel = consumer.channel()
        channel.queue_declare("jobs")
        channel.basic_consume("jobs", on_message_callback=lambda *_: None)

        assert tenants.partner.deprovision(uuid_).status_code == 204

        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as closed:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                consumer.process_data_events(time_limit=0.2)
        assert closed.value.reply_code == 320
    finally:
        if consumer.is_open:
            consumer.close()
    assert tenant_exists(vhost_of(url)) == {"vhost": False, "user": False}
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        connect(url)


def test_twenty_concurrent_duplicate_provisions_make_one_vhost_and_user(tenants, adapter):
    body = tenants.partner.provision_body(plan="lemur")
    tenants.uuids.append(body["uuid"])
    name = adapter.tenant_name(body["uuid"])
    before = owned_names(adapter)

    with live_server(tenants.app) as base, ThreadPoolExecutor(max_workers=20) as pool:

        def call(_: int) -> tuple[int, dict]:
            response = requests.post(
                f"{base}/heroku/resources", json=body, headers=tenants.partner.headers, timeout=60
            )
            return response.status_code, response.json()

        results = list(pool.map(call, range(20)))

    assert {status for status, _ in results} == {200}
    urls = {payload["config"]["RABBITMQ_URL"] for _, payload in results}
    assert len(urls) == 1
    assert {f"vhost:{name}", f"user:{name}"} <= owned_names(adapter) - before
    with connect(urls.pop()) as conn:  # the password handed out is the one RabbitMQ holds
        assert conn.is_open


def test_rabbitmq_down_gives_503_and_leaves_nothing(sqlite_url, adapter):
    down = RabbitMQAdapter(DOWN_MANAGEMENT_URL, amqp_url())
    app = build_app(sqlite_url, adapters=[down])
    partner = PartnerClient(app.test_client(), app, "rabbitmq")
    body = partner.provision_body(plan="lemur")

    response = partner.client.post("/heroku/resources", json=body, headers=partner.headers)

    assert response.status_code == 503
    assert response.get_json() == {
        "id": "service_unavailable",
        "message": "RabbitMQ is not reachable right now; try again shortly.",
    }
    assert tenant_exists(adapter.tenant_name(body["uuid"])) == {"vhost": False, "user": False}
    readiness = app.test_client().get("/readyz")
    assert readiness.status_code == 503
    assert readiness.get_json()["checks"]["rabbitmq"]["ok"] is False


def test_deprovision_during_an_outage_is_finished_by_the_retry(tenants, sqlite_url):
    uuid_, url = tenants.provision()
    down = build_app(sqlite_url, adapters=[RabbitMQAdapter(DOWN_MANAGEMENT_URL, amqp_url())])

    assert PartnerClient(down.test_client(), down, "rabbitmq").deprovision(uuid_).status_code == 503
    assert tenant_exists(vhost_of(url)) == {"vhost": True, "user": True}
    assert tenants.partner.provision(uuid=uuid_, plan="lemur").status_code == 410

    assert tenants.partner.deprovision(uuid_).status_code == 204
    assert tenant_exists(vhost_of(url)) == {"vhost": False, "user": False}


def test_failure_half_way_removes_vhost_and_user(sqlite_url):
    # RabbitMQ itself rejects this policy after the vhost and its limits exist.
    broken = dataclasses.replace(TINY, slug="broken", limits={**TINY.limits, "message_ttl_ms": -1})
    adapter = RabbitMQAdapter(
        management_url(), amqp_url(), spec=dataclasses.replace(SPEC, plans=(*SPEC.plans, broken))
    )
    app = build_app(sqlite_url, adapters=[adapter])
    partner = PartnerClient(app.test_client(), app, "rabbitmq")
    body = partner.provision_body(plan="broken")

    response = partner.client.post("/heroku/resources", json=body, headers=partner.headers)

    assert response.status_code == 503
    assert "not a valid message TTL" in response.get_json()["message"]
    assert tenant_exists(adapter.tenant_name(body["uuid"])) == {"vhost": False, "user": False}


def test_partner_api_provision_plan_change_and_deprovision(sqlite_url):
    app = build_app(sqlite_url)  # the installed entry point, as production loads it
    partner = PartnerClient(app.test_client(), app, "rabbitmq")
    body = partner.provision_body(plan="rabbitmq:lemur")
    response = partner.client.post("/heroku/resources", json=body, headers=partner.headers)
    try:
        assert response.status_code == 200
        payload = response.get_json()
        assert payload["id"] == body["uuid"] and payload["message"]
        assert set(payload["config"]) == {"RABBITMQ_URL"}
        assert payload["config"]["RABBITMQ_URL"].startswith("amqp://mkt_")

        assert partner.change_plan(body["uuid"], "tiger").status_code == 200
        unknown = partner.change_plan(body["uuid"], "elephant")
        assert unknown.status_code == 422
        assert "Unknown plan" in unknown.get_json()["message"]
    finally:
        assert partner.deprovision(body["uuid"]).status_code == 204
    assert partner.deprovision(body["uuid"]).status_code == 410
    again = partner.client.post("/heroku/resources", json=body, headers=partner.headers)
    assert again.status_code == 410
