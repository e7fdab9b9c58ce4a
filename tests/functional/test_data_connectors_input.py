"""Data connectors: refusals of bad input (real services). Each refusal is a 4xx JSON error
that names the problem and leaves nothing behind: no connector, slot, role or changed row."""

from __future__ import annotations

import uuid

import pytest

from tests.functional.cdc_support import CdcWorld, connect_names, read_events

pytestmark = pytest.mark.backend


@pytest.fixture
def world(cdc_world: CdcWorld) -> CdcWorld:
    return cdc_world


def _pair(world: CdcWorld):
    app_id = str(uuid.uuid4())
    database, kafka = world.database(app_id), world.kafka_tenant(app_id)
    database.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    return database, kafka


def _ours(world: CdcWorld) -> list[str]:
    return [n for n in connect_names() if n.startswith(world.postgres_adapter._prefix)]


def test_a_table_without_a_primary_key_is_refused_and_stays_writable(world):
    database, kafka = _pair(world)
    database.execute(
        "CREATE TABLE log (at int, line text)",
        "CREATE TABLE full_log (at int, line text)",
        "ALTER TABLE full_log REPLICA IDENTITY FULL",
    )
    refused = world.create(database, kafka=kafka.uuid, tables=["public.items", "public.log"])
    assert refused.status_code == 422
    assert "public.log has no primary key" in refused.get_json()["message"]
    assert _ours(world) == []
    # Published without a replica identity, its updates and deletes would fail.
    database.execute("INSERT INTO log VALUES (1, 'a')", "UPDATE log SET line = 'b'")
    database.execute("DELETE FROM log")
    created = world.create(database, kafka=kafka.uuid, tables=["public.items"])
    assert created.status_code == 201, created.get_json()
    path = f"/data/cdc/v0/connectors/{created.get_json()['uuid']}"
    changed = world.client.patch(path, json={"tables": ["public.log"]}, headers=database.auth)
    assert changed.status_code == 422
    assert "no primary key" in changed.get_json()["message"]
    assert world.connector(database, created.get_json()["uuid"])["tables"] == ["public.items"]
    database.execute("INSERT INTO log VALUES (1, 'a')", "UPDATE log SET line = 'b'")
    # REPLICA IDENTITY FULL publishes whole rows: such a table can be captured.
    full = world.client.patch(
        path, json={"tables": ["public.items", "public.full_log"]}, headers=database.auth
    )
    assert full.status_code == 200, full.get_json()


def test_unknown_fields_bad_json_and_bad_names_are_refused_by_name(world):
    database, kafka = _pair(world)
    path = f"/data/cdc/v0/databases/{database.uuid}/connectors"
    auth = database.auth
    typo = world.create(
        database, kafka=kafka.uuid, tables=["public.items"], excluded_column=["public.items.name"]
    )
    assert typo.status_code == 422
    assert "Unknown field 'excluded_column'" in typo.get_json()["message"]
    newline = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="orders\n")
    assert newline.status_code == 422
    assert "connector name" in newline.get_json()["message"]
    table = world.create(database, kafka=kafka.uuid, tables=["public.items\n"])
    assert table.status_code == 422 and "not a table name" in table.get_json()["message"]
    nul = world.client.post(
        path,
        data='{"kafka": "k", "tables": ["public.it\\u0000ems"]}',
        content_type="application/json",
        headers=auth,
    )
    assert nul.status_code == 400 and "NUL" in nul.get_json()["message"]
    broken = world.client.post(path, data="{", content_type="application/json", headers=auth)
    assert broken.status_code == 400 and broken.get_json()["message"]
    assert _ours(world) == []

    created = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="orders")
    assert created.status_code == 201, created.get_json()
    one = f"/data/cdc/v0/connectors/{created.get_json()['uuid']}"
    renamed = world.client.patch(one, json={"name": "other"}, headers=auth)
    assert renamed.status_code == 422 and "cannot be changed" in renamed.get_json()["message"]
    unknown = world.client.patch(one, json={"table": ["public.items"]}, headers=auth)
    assert unknown.status_code == 422 and "'table'" in unknown.get_json()["message"]
    # An empty PATCH (to hand over rotated Kafka credentials) is fine, body or not.
    assert world.client.patch(one, headers=auth).status_code == 200
    assert world.client.patch(one, json={}, headers=auth).status_code == 200
    assert world.connector(database, created.get_json()["uuid"])["name"] == "orders"


def test_a_plan_whose_table_limit_the_connectors_exceed_is_refused(world):
    database, kafka = _pair(world)
    database.execute("CREATE TABLE orders (id int PRIMARY KEY)")
    created = world.create(database, kafka=kafka.uuid, tables=["public.items", "public.orders"])
    assert created.status_code == 201, created.get_json()
    refused = world.postgres.change_plan(database.uuid, "cdc-one-table")
    assert refused.status_code == 422, refused.get_json()
    assert "max_connector_tables" in refused.get_json()["message"]
    path = f"/data/cdc/v0/connectors/{created.get_json()['uuid']}"
    narrowed = world.client.patch(path, json={"tables": ["public.items"]}, headers=database.auth)
    assert narrowed.status_code == 200, narrowed.get_json()
    moved = world.postgres.change_plan(database.uuid, "cdc-one-table")
    assert moved.status_code == 200, moved.get_json()


def test_a_partitioned_tables_changes_arrive_on_its_topic(world):
    database, kafka = _pair(world)
    database.execute(
        "CREATE TABLE parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id)",
        "CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100)",
    )
    created = world.create(database, kafka=kafka.uuid, tables=["public.parted"], name="parted")
    assert created.status_code == 201, created.get_json()
    world.wait_streaming(database, created.get_json()["uuid"])
    consumer = kafka.consumer(f"{kafka.prefix}parted.public.parted")
    try:
        database.execute("INSERT INTO parted VALUES (5, 'a')")
        events = read_events(consumer, 1, timeout=30)
    finally:
        consumer.close()
    assert [(e["op"], e["after"]) for e in events] == [("c", {"id": 5, "v": "a"})]
