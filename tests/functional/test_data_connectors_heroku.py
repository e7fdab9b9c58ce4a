"""Data connectors as Heroku's clients use them (real services): the CLI's and the API's
routes and bodies (``POST /kafka_tenants/<kafka>``, ``GET /apps|addons|connectors/<name>``),
the connector object's fields, settings that merge, resume that never answers ``paused``,
404 once destroyed, and the ``data-connectors`` commands with Heroku's flags."""

from __future__ import annotations

import uuid

import pytest
import requests
from click.testing import CliRunner

from marketplace.cdc_api import cli_group
from tests.functional.cdc_support import KAFKA_CONNECT_URL, CdcWorld

pytestmark = pytest.mark.backend


@pytest.fixture
def world(cdc_world: CdcWorld) -> CdcWorld:
    return cdc_world


def _pair(world: CdcWorld, app_id: str | None = None):
    app_id = app_id or str(uuid.uuid4())
    database, kafka = world.database(app_id), world.kafka_tenant(app_id)
    database.execute("CREATE TABLE posts (id int PRIMARY KEY, title text, foo text)")
    return app_id, database, kafka


def test_heroku_clients_create_find_list_and_destroy_connectors_their_way(world):
    app_id, database, kafka = _pair(world)
    other_app, other, other_kafka = _pair(world)
    client = world.client
    heroku_body = {  # what Heroku's CLI and Terraform provider send
        "postgres_addon_uuid": database.uuid,
        "tables": ["public.posts"],
        "excluded_columns": ["public.posts.foo"],
        "name": "",
        "platform_version": "",
    }
    route = f"/data/cdc/v0/kafka_tenants/{kafka.uuid}"
    assert client.post(route, json=heroku_body).status_code == 403
    assert client.post(route, json=heroku_body, headers=other.auth).status_code == 403
    missing = client.post(route, json={"tables": ["public.posts"]}, headers=database.auth)
    assert missing.status_code == 422 and "postgres_addon_uuid" in missing.get_json()["message"]
    for kafka_field in ({"kafka": other_kafka.uuid}, {"kafka": ["x"]}):
        crossed = client.post(route, json={**heroku_body, **kafka_field}, headers=database.auth)
        assert crossed.status_code == 422, crossed.get_json()
    other_route = f"/data/cdc/v0/kafka_tenants/{other_kafka.uuid}"
    foreign = client.post(other_route, json=heroku_body, headers=database.auth)
    assert foreign.status_code == 422  # another app's Kafka resource

    created = client.post(route, json=heroku_body, headers=database.auth)
    assert created.status_code == 201, created.get_json()
    connector = created.get_json()
    assert connector["name"] == "pg2k_" + connector["uuid"].replace("-", "_")
    assert connector["kafka_app"] == connector["postgres_app"] == {"name": "demo"}
    assert connector["excluded_columns"] == ["public.posts.foo"]
    assert connector["topics"] == [
        {
            "table_name": "public.posts",
            "topic_name": f"{kafka.prefix}{connector['name']}.public.posts",
        }
    ]

    # GET /connectors/<name>, as `data:connectors:info NAME` calls it; names are looked up
    # among the caller's resource's connectors only.
    by_name = f"/data/cdc/v0/connectors/{connector['name']}"
    found = client.get(by_name, headers=database.auth)
    assert found.status_code == 200 and found.get_json()["uuid"] == connector["uuid"]
    assert client.get(by_name, headers=other.auth).status_code == 404
    assert client.get(by_name).status_code == 404

    # A name may look like a uuid (a-z, 0-9, _ and -): it is still found by name.
    uuid_like = "a" + str(uuid.uuid4())[1:]
    named = world.create(database, kafka=kafka.uuid, tables=["public.posts"], name=uuid_like)
    assert named.status_code == 201, named.get_json()
    path = f"/data/cdc/v0/connectors/{uuid_like}"
    assert (
        world.client.get(path, headers=database.auth).get_json()["uuid"]
        == (named.get_json()["uuid"])
    )
    assert client.get(path, headers=other.auth).status_code == 404
    assert client.get(path).status_code == 404
    assert client.delete(path, headers=database.auth).status_code == 200

    def listed(path: str, auth: dict[str, str]) -> list[str]:
        response = client.get(path, headers=auth)
        assert response.status_code == 200, (path, response.get_json())
        return [c["uuid"] for c in response.get_json()]

    kafka_auth = {"Authorization": f"Bearer {_token(world, kafka.uuid)}"}
    assert listed(f"/data/cdc/v0/addons/{database.uuid}", database.auth) == [connector["uuid"]]
    assert listed(f"/data/cdc/v0/addons/{kafka.uuid}", kafka_auth) == [connector["uuid"]]
    assert client.get(f"/data/cdc/v0/addons/{database.uuid}", headers=other.auth).status_code == 403
    for app in (app_id, "demo"):
        assert listed(f"/data/cdc/v0/apps/{app}", database.auth) == [connector["uuid"]]
    assert client.get(f"/data/cdc/v0/apps/{uuid.uuid4()}", headers=database.auth).status_code == 403
    assert client.get(f"/data/cdc/v0/apps/{app_id}", headers=other.auth).status_code == 403
    assert listed(f"/data/cdc/v0/apps/{other_app}", other.auth) == []  # its app has none

    destroyed = client.delete(by_name, headers=database.auth)
    assert destroyed.status_code == 200 and destroyed.get_json()["status"] == "deprovisioned"
    # Heroku's clients wait for the connector's 404 to know it is gone.
    gone = client.get(f"/data/cdc/v0/connectors/{connector['uuid']}", headers=database.auth)
    assert gone.status_code == 404 and "destroyed" in gone.get_json()["message"]
    assert client.delete(by_name, headers=database.auth).status_code == 404
    one = f"/data/cdc/v0/connectors/{connector['uuid']}"
    assert client.put(f"{one}/resume", headers=database.auth).status_code == 404


def _token(world: CdcWorld, resource_uuid: str) -> str:
    from marketplace.services import api_tokens

    with world.app.app_context():
        return api_tokens.issue(resource_uuid)


def test_settings_merge_and_resume_goes_from_paused_to_available(world):
    _, database, kafka = _pair(world)
    created = world.create(
        database,
        kafka=kafka.uuid,
        tables=["public.posts"],
        name="merge",
        settings={"tombstones.on.delete": "false"},
    )
    assert created.status_code == 201, created.get_json()
    one = f"/data/cdc/v0/connectors/{created.get_json()['uuid']}"
    world.wait_streaming(database, created.get_json()["uuid"])
    changed = world.client.patch(
        one, json={"settings": {"decimal.handling.mode": "string"}}, headers=database.auth
    )
    assert changed.status_code == 200, changed.get_json()
    expected = {"tombstones.on.delete": "false", "decimal.handling.mode": "string"}
    assert changed.get_json()["settings"] == expected
    name = world.postgres_adapter._connector_name(database.uuid, created.get_json()["uuid"])
    config = requests.get(f"{KAFKA_CONNECT_URL}/connectors/{name}/config", timeout=10).json()
    assert {key: config.get(key) for key in expected} == expected

    world.wait_streaming(database, created.get_json()["uuid"])
    paused = world.client.put(f"{one}/pause", headers=database.auth)
    assert paused.get_json()["status"] == "paused"
    resumed = world.client.put(f"{one}/resume", headers=database.auth)
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "available"
    world.wait_streaming(database, created.get_json()["uuid"])


def test_the_cli_takes_herokus_names_and_flags(world):
    app_id, database, kafka = _pair(world)
    database.execute("CREATE TABLE comments (id int PRIMARY KEY, body text, ip text)")
    runner = CliRunner()

    def run(*args: str) -> str:
        with world.app.app_context():
            result = runner.invoke(cli_group, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    # The source by its add-on name, the store by its name, as `data:connectors:create`.
    run(
        "create",
        "--source",
        "db",
        "--store",
        kafka.name,
        "--table",
        "public.posts",
        "--name",
        "cli",
    )
    run("wait", "cli", "--interval", "0.2", "--timeout", "60")
    assert "cli" in run("info", "cli")
    run(
        "update",
        "cli",
        "--add-table",
        "public.comments",
        "--exclude-column",
        "public.comments.ip",
        "--setting",
        "tombstones.on.delete=false",
    )
    run("update", "cli", "--setting", "decimal.handling.mode=double")
    info = world.connector(database, _id(run("info", "cli")))
    assert info["tables"] == ["public.posts", "public.comments"]
    assert info["excluded_columns"] == ["public.comments.ip"]
    assert info["settings"] == {"tombstones.on.delete": "false", "decimal.handling.mode": "double"}
    run(
        "update",
        "cli",
        "--remove-excluded-column",
        "public.comments.ip",
        "--remove-table",
        "public.posts",
    )
    info = world.connector(database, info["uuid"])
    assert (info["tables"], info["excluded_columns"]) == (["public.comments"], [])
    for listing in (
        ("list", "-a", app_id),
        ("list", "--app", "demo"),
        ("list", "--addon", kafka.name),
        ("list", "--addon", "db"),
    ):
        assert info["uuid"] in run(*listing), listing
    run("pause", "cli")
    assert world.connector(database, info["uuid"])["status"] == "paused"
    run("resume", "cli")
    with world.app.app_context():
        refused = runner.invoke(cli_group, ["destroy", "cli", "--confirm", "other"])
    assert refused.exit_code != 0
    assert "deprovisioned" in run("destroy", "cli", "--confirm", "cli")


def _id(output: str) -> str:
    return output.split()[0]
