"""Data connectors: refusals of bad input (real services). Each refusal is a 4xx JSON error
that names the problem and leaves nothing behind: no connector, slot, role or changed row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.functional.cdc_support import CdcWorld, connect_names

pytestmark = pytest.mark.backend


@pytest.fixture
def world(sqlite_url) -> Iterator[CdcWorld]:
    world = CdcWorld(sqlite_url)
    try:
        yield world
    finally:
        world.deprovision_all()


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
