"""A world for data connector tests: an app serving the real Postgres and Kafka adapters,
resources of one app provisioned through the Partner API, API tokens, and consumers that
read as the Kafka tenant (confluent-kafka)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import requests
from confluent_kafka import Consumer
from sqlalchemy import update

from addons.kafka import create_adapter as create_kafka_adapter
from addons.postgres import SPEC as POSTGRES_SPEC
from addons.postgres import create_adapter as create_postgres_adapter
from marketplace.adapters import PlanSpec
from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.services import api_tokens
from tests.support import PartnerClient, build_app, name_prefix, wait_until

KAFKA_CONNECT_URL = "http://127.0.0.1:8083"
WORKER_TAG = b"-Dmarketplace.kafka-connect.state="
#: A small plan with data connectors (standard-0 sells 120 connections: too many for tests).
CDC_PLAN = PlanSpec(
    "cdc-test",
    "CDC test",
    "test plan",
    0,
    {
        "storage_bytes": 1024**3,
        "max_connections": 5,
        "max_tables": 100,
        "max_connectors": 2,
        "max_connector_tables": 3,
    },
)

#: The same with one table per connector (a plan change the connectors may not fit).
CDC_ONE_TABLE_PLAN = PlanSpec(
    "cdc-one-table",
    "CDC test, one table",
    "test plan",
    0,
    {**CDC_PLAN.limits, "max_connector_tables": 1},
)


@dataclasses.dataclass(frozen=True)
class Database:
    uuid: str
    url: str
    token: str

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclasses.dataclass(frozen=True)
class KafkaTenant:
    uuid: str
    name: str
    config: Mapping[str, str]

    @property
    def prefix(self) -> str:
        return self.config["KAFKA_PREFIX"]

    def client_config(self, **extra: Any) -> dict[str, Any]:
        servers = [u.removeprefix("kafka://") for u in self.config["KAFKA_URL"].split(",")]
        return {
            "bootstrap.servers": ",".join(servers),
            "security.protocol": self.config["KAFKA_SECURITY_PROTOCOL"],
            "sasl.mechanism": self.config["KAFKA_SASL_MECHANISM"],
            "sasl.username": self.config["KAFKA_USERNAME"],
            "sasl.password": self.config["KAFKA_PASSWORD"],
            **extra,
        }

    def consumer(self, topic: str) -> Consumer:
        """A consumer of ``topic`` as the tenant, from the beginning."""
        consumer = Consumer(
            self.client_config(
                **{
                    "group.id": f"{self.prefix}test-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                }
            )
        )
        consumer.subscribe([topic])
        return consumer


class CdcWorld:
    """Postgres and Kafka resources of apps, and the broker's data connectors API."""

    def __init__(self, store_url: str, **overrides: Any) -> None:
        settings = dict(build_app("sqlite://", adapters=[]).config)
        settings["BACKEND_NAME_PREFIX"] = name_prefix()
        settings["KAFKA_CONNECT_URL"] = KAFKA_CONNECT_URL
        settings.update(overrides)  # the adapters read the same settings as the app
        self.postgres_adapter = create_postgres_adapter(settings)
        self.postgres_adapter.spec = dataclasses.replace(
            POSTGRES_SPEC, plans=(*POSTGRES_SPEC.plans, CDC_PLAN, CDC_ONE_TABLE_PLAN)
        )
        self.kafka_adapter = create_kafka_adapter(settings)
        self.app = build_app(
            store_url, adapters=[self.postgres_adapter, self.kafka_adapter], **overrides
        )
        self.client = self.app.test_client()
        self.postgres = PartnerClient(self.client, self.app, "postgres")
        self.kafka = PartnerClient(self.client, self.app, "kafka")
        self._created: list[tuple[PartnerClient, str]] = []

    def database(self, app_id: str, plan: str = "cdc-test") -> Database:
        body = self._provision(self.postgres, app_id, plan, "db")
        with self.app.app_context():
            token = api_tokens.issue(body["id"])
        return Database(body["id"], body["config"]["DATABASE_URL"], token)

    def kafka_tenant(self, app_id: str) -> KafkaTenant:
        name = f"kafka-{uuid.uuid4().hex[:8]}"
        body = self._provision(self.kafka, app_id, "basic-0", name)
        return KafkaTenant(body["id"], name, body["config"])

    def _provision(self, partner: PartnerClient, app_id: str, plan: str, name: str) -> Any:
        response = partner.provision(plan=plan, name=name)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        self._created.append((partner, body["id"]))
        with self.app.app_context():  # what the worker learns from the platform
            db.session.execute(
                update(Resource)
                .where(Resource.uuid == body["id"])
                .values(app_id=app_id, app_name="demo")
            )
            db.session.commit()
        return body

    def create(self, database: Database, **body: Any) -> Any:
        return self.client.post(
            f"/data/cdc/v0/databases/{database.uuid}/connectors", json=body, headers=database.auth
        )

    def connector(self, database: Database, connector_id: str) -> dict[str, Any]:
        response = self.client.get(f"/data/cdc/v0/connectors/{connector_id}", headers=database.auth)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def wait_streaming(self, database: Database, connector_id: str, timeout: float = 60) -> Any:
        return wait_until(
            lambda: (
                (c := self.connector(database, connector_id))["status"] == "available"
                and c["streaming"]
                and c
            ),
            timeout,
            "the connector streams",
        )

    def deprovision_all(self) -> None:
        for partner, uuid_ in reversed(self._created):
            partner.deprovision(uuid_)


def read_events(consumer: Consumer, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll ``count`` change events (tombstones skipped); fail on a consumer error."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        assert message.error() is None, message.error()
        if message.value() is not None:
            events.append(json.loads(message.value()))
    return events


def nothing_more(consumer: Consumer, seconds: float = 3.0) -> list[Any]:
    """Whatever (non-tombstone) arrives within ``seconds``: expected to be nothing."""
    return read_events(consumer, 1, timeout=seconds)


def connect_names() -> list[str]:
    """Every connector Kafka Connect has."""
    return list(requests.get(f"{KAFKA_CONNECT_URL}/connectors", timeout=10).json())


def _worker() -> tuple[int, Path] | None:
    """The running Kafka Connect worker's pid and its repository (from the state tag that
    kafka-connect.sh puts on the JVM's command line), or None."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            if arg.startswith(WORKER_TAG):
                state = Path(arg[len(WORKER_TAG) :].decode())
                return int(cmdline.parent.name), state.parents[1]
    return None


@contextmanager
def killed_kafka_connect() -> Iterator[None]:
    """SIGKILL the Kafka Connect worker, run the block, then start the worker again with the
    stack's own script (also when the block fails) and wait until it serves."""
    found = _worker()
    assert found is not None, "no Kafka Connect worker runs (make services)"
    pid, repository = found
    os.kill(pid, signal.SIGKILL)
    try:
        wait_until(lambda: not Path(f"/proc/{pid}").exists(), 30, "the worker is gone")
        yield
    finally:
        subprocess.run(
            [str(repository / "scripts/services/kafka-connect.sh"), "start"],
            check=True,
            capture_output=True,
            timeout=300,
        )
