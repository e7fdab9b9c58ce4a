"""Streaming data connectors end to end: real PostgreSQL, Kafka and Kafka Connect + Debezium;
events read with confluent-kafka as the Kafka tenant."""

from __future__ import annotations

import dataclasses
import uuid

import psycopg
import pytest
import requests
from sqlalchemy import select

from addons.kafka import SPEC as KAFKA_SPEC
from marketplace.adapters import ResourceRef
from marketplace.context import lifecycle
from marketplace.extensions import db
from marketplace.models import Resource
from tests.functional.cdc_support import (
    KAFKA_CONNECT_URL,
    CdcWorld,
    connect_names,
    killed_kafka_connect,
    read_events,
)
from tests.support import admin_url, csrf_token, rotate_on_dashboard, wait_until

pytestmark = pytest.mark.backend


@pytest.fixture
def world(cdc_world: CdcWorld) -> CdcWorld:
    return cdc_world


def _slots_and_roles(name: str) -> tuple[set[str], set[str], set[str]]:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        slots = {r[0] for r in conn.execute("SELECT slot_name FROM pg_replication_slots")}
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
    return {s for s in slots if s == name}, {r for r in roles if r == name}, set()


def test_changes_arrive_as_debezium_events_on_the_tenants_topic(world):
    app_id = str(uuid.uuid4())
    database, kafka = world.database(app_id), world.kafka_tenant(app_id)
    database.execute(
        "CREATE TABLE items (id serial PRIMARY KEY, name text, secret text)",
        "CREATE TABLE other (id int PRIMARY KEY)",
    )
    response = world.create(
        database,
        kafka=kafka.name,
        tables=["public.items"],
        excluded_columns=["public.items.secret"],
        name="orders",
    )
    assert response.status_code == 201, response.get_json()
    connector = response.get_json()
    assert connector["status"] == "creating"
    assert connector["topics"] == [
        {"table_name": "public.items", "topic_name": f"{kafka.prefix}orders.public.items"}
    ]
    assert connector["kafka_addon"] == {"name": kafka.name, "uuid": kafka.uuid}
    assert connector["postgres_addon"]["uuid"] == database.uuid
    world.wait_streaming(database, connector["uuid"])

    consumer = kafka.consumer(f"{kafka.prefix}orders.public.items")
    try:
        database.execute(
            "INSERT INTO items (name, secret) VALUES ('a', 'hunter2')",
            "INSERT INTO other VALUES (1)",
            "UPDATE items SET name = 'b', secret = 'x'",
            "DELETE FROM items",
        )
        events = read_events(consumer, 3)
    finally:
        consumer.close()
    assert [e["op"] for e in events] == ["c", "u", "d"]
    assert events[0]["before"] is None and events[0]["after"] == {"id": 1, "name": "a"}
    assert events[1]["after"] == {"id": 1, "name": "b"}
    assert events[2]["after"] is None and events[2]["before"]["id"] == 1
    for event in events:
        assert event["source"]["table"] == "items" and event["source"]["schema"] == "public"
        assert "secret" not in (event["after"] or {}) and "secret" not in (event["before"] or {})
    # The uncaptured table has no topic, so nothing of it can have been published.
    assert not [t for t in world.kafka_adapter.list_topics(_ref(kafka)) if "other" in t.name]

    name = _backend_name(world, database.uuid, connector["uuid"])
    response = world.client.delete(
        f"/data/cdc/v0/connectors/{connector['uuid']}", headers=database.auth
    )
    assert response.status_code == 200 and response.get_json()["status"] == "deprovisioned"
    assert name not in connect_names()
    slots, roles, _ = _slots_and_roles(name)
    assert not slots and not roles
    with psycopg.connect(database.url, autocommit=True) as conn:
        assert not conn.execute("SELECT 1 FROM pg_publication").fetchall()


def _ref(kafka):
    return ResourceRef(kafka.uuid, KAFKA_SPEC.default_plan, "us", kafka.config)


def _backend_name(world: CdcWorld, database_uuid: str, connector_id: str) -> str:
    return world.postgres_adapter._connector_name(database_uuid, connector_id)


def _streaming_connector(world: CdcWorld, **extra):
    app_id = str(uuid.uuid4())
    database, kafka = world.database(app_id), world.kafka_tenant(app_id)
    database.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    response = world.create(database, kafka=kafka.uuid, tables=["public.items"], **extra)
    assert response.status_code == 201, response.get_json()
    connector = world.wait_streaming(database, response.get_json()["uuid"])
    return database, kafka, connector


def _ids(events) -> list[int]:
    return [(e["after"] or e["before"])["id"] for e in events]


def test_pause_then_changes_then_resume_delivers_every_change_once(world):
    database, kafka, connector = _streaming_connector(world)
    consumer = kafka.consumer(connector["topics"][0]["topic_name"])
    base = f"/data/cdc/v0/connectors/{connector['uuid']}"
    try:
        database.execute("INSERT INTO items VALUES (1, 'before pause')")
        assert _ids(read_events(consumer, 1)) == [1]
        paused = world.client.put(f"{base}/pause", headers=database.auth).get_json()
        assert paused["status"] == "paused"
        wait_until(lambda: not world.connector(database, connector["uuid"])["streaming"])
        database.execute(*(f"INSERT INTO items VALUES ({i}, 'while paused')" for i in range(2, 7)))
        with psycopg.connect(admin_url(), autocommit=True) as conn:  # WAL kept for it
            lag = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)"
                " FROM pg_replication_slots WHERE slot_name = %s",
                (_backend_name(world, database.uuid, connector["uuid"]),),
            ).fetchone()[0]
        assert lag > 0
        resumed = world.client.put(f"{base}/resume", headers=database.auth)
        assert resumed.status_code == 200
        database.execute("INSERT INTO items VALUES (7, 'after resume')")
        events = read_events(consumer, 6)
        events += read_events(consumer, 1, timeout=2)  # a duplicate would show up here
    finally:
        consumer.close()
    assert _ids(events) == [2, 3, 4, 5, 6, 7]
    world.wait_streaming(database, connector["uuid"])


def test_a_killed_kafka_connect_worker_recovers_and_loses_no_committed_change(world):
    database, kafka, connector = _streaming_connector(world)
    consumer = kafka.consumer(connector["topics"][0]["topic_name"])
    try:
        database.execute("INSERT INTO items VALUES (1, 'before the crash')")
        assert _ids(read_events(consumer, 1)) == [1]
        with killed_kafka_connect():
            # Committed while no worker runs: must arrive once the worker is back.
            database.execute(*(f"INSERT INTO items VALUES ({i}, 'during')" for i in (2, 3)))
        database.execute("INSERT INTO items VALUES (4, 'after the restart')")
        ids: list[int] = []
        wait_until(
            lambda: ids.extend(_ids(read_events(consumer, 1, timeout=1))) or 4 in ids,
            120,
            "the change made after the restart arrives",
        )
    finally:
        consumer.close()
    # At least once: what was not yet committed when the worker died may come again (here
    # row 1), but every committed change arrives, in order.
    assert [i for i in dict.fromkeys(ids) if i != 1] == [2, 3, 4], ids
    world.wait_streaming(database, connector["uuid"], timeout=120)


def test_update_adds_a_table_and_a_plan_without_connectors_is_refused(world):
    database, kafka, connector = _streaming_connector(world, name="grow")
    database.execute("CREATE TABLE extra (id int PRIMARY KEY, note text)")
    path = f"/data/cdc/v0/connectors/{connector['uuid']}"
    bad = world.client.patch(path, json={"tables": ["public.nope"]}, headers=database.auth)
    assert bad.status_code == 422
    response = world.client.patch(
        path,
        json={
            "tables": ["public.items", "public.extra"],
            "settings": {"tombstones.on.delete": "false"},
        },
        headers=database.auth,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["tables"] == ["public.items", "public.extra"]
    assert body["settings"] == {"tombstones.on.delete": "false"}
    topic = f"{kafka.prefix}grow.public.extra"
    assert {"table_name": "public.extra", "topic_name": topic} in body["topics"]
    world.wait_streaming(database, connector["uuid"])
    consumer = kafka.consumer(topic)
    try:
        database.execute("INSERT INTO extra VALUES (1, 'new table')")
        events = read_events(consumer, 1)
    finally:
        consumer.close()
    assert events[0]["after"] == {"id": 1, "note": "new table"}
    refused = world.postgres.change_plan(database.uuid, "essential-0")
    assert refused.status_code == 422 and "max_connectors" in refused.get_json()["message"]


def test_rotating_the_kafka_credentials_hands_them_to_its_connectors(world):
    database, kafka, connector = _streaming_connector(world, name="rotated")
    client = world.client
    assert client.post("/sso/login", data=world.kafka.sso_form(kafka.uuid)).status_code == 302
    rotated = rotate_on_dashboard(client, kafka.uuid)
    assert "New credentials issued (KAFKA_PASSWORD)" in rotated
    assert "could not take the new Kafka credentials" not in rotated
    with world.app.app_context():
        config = lifecycle().config(db.session.get(Resource, _resource_id(kafka.uuid)))
    assert config["KAFKA_PASSWORD"] != kafka.config["KAFKA_PASSWORD"]

    name = _backend_name(world, database.uuid, connector["uuid"])
    in_connect = requests.get(f"{KAFKA_CONNECT_URL}/connectors/{name}/config", timeout=10).json()
    jaas = in_connect["producer.override.sasl.jaas.config"]
    assert config["KAFKA_PASSWORD"] in jaas and kafka.config["KAFKA_PASSWORD"] not in jaas

    # The restarted task logs in with the new password and streams on.
    renewed = dataclasses.replace(kafka, config=config)
    consumer = renewed.consumer(connector["topics"][0]["topic_name"])
    try:
        database.execute("INSERT INTO items VALUES (1, 'after the rotation')")
        assert _ids(read_events(consumer, 1)) == [1]
    finally:
        consumer.close()
    world.wait_streaming(database, connector["uuid"])

    # A rotation through the resource JSON API hands the next login over the same way.
    page = client.get(f"/dashboard/{kafka.uuid}").get_data(as_text=True)
    again = client.post(
        f"/resources/{kafka.uuid}/credentials/rotate", headers={"X-CSRFToken": csrf_token(page)}
    )
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["data_connectors_missed"] == []
    with world.app.app_context():
        newest = lifecycle().config(db.session.get(Resource, _resource_id(kafka.uuid)))
    assert newest["KAFKA_PASSWORD"] != config["KAFKA_PASSWORD"]
    in_connect = requests.get(f"{KAFKA_CONNECT_URL}/connectors/{name}/config", timeout=10).json()
    assert newest["KAFKA_PASSWORD"] in in_connect["producer.override.sasl.jaas.config"]


def _resource_id(resource_uuid: str) -> int:
    return db.session.scalar(select(Resource.id).where(Resource.uuid == resource_uuid))
