"""Data connectors: authorization, plan limits, isolation between tenants, removal with either
linked resource, orphans, and Kafka Connect being down (real services)."""

from __future__ import annotations

import re
import socket
import uuid

import html5lib
import psycopg
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from addons.kafka import SPEC
from marketplace.adapters import ResourceRef
from marketplace.cdc_api import cli_group
from marketplace.context import lifecycle
from marketplace.extensions import db
from marketplace.models import DataConnector, Resource
from marketplace.services import api_tokens
from marketplace.services.jobs import reconcile_once
from marketplace.services.reconciler import Reconciler
from tests.async_support import local_platform, log_messages, stream_logs
from tests.functional.cdc_support import KAFKA_CONNECT_URL, CdcWorld, connect_names
from tests.support import admin_url, csrf_token, owned_names, wait_until

pytestmark = pytest.mark.backend


@pytest.fixture
def world(cdc_world: CdcWorld) -> CdcWorld:
    return cdc_world


def _pair(world: CdcWorld, plan: str = "cdc-test"):
    app_id = str(uuid.uuid4())
    database, kafka = world.database(app_id, plan), world.kafka_tenant(app_id)
    database.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    return database, kafka


def _connector_objects(world: CdcWorld) -> set[str]:
    kinds = ("connector:", "slot:", "publication:")
    return {
        name
        for name in owned_names(world.postgres_adapter)
        if name.startswith(kinds) or "_c_" in name
    }


def test_the_api_takes_the_resources_token_or_session_only(world):
    database, kafka = _pair(world)
    other, _ = _pair(world)
    path = f"/data/cdc/v0/databases/{database.uuid}/connectors"
    body = {"kafka": kafka.uuid, "tables": ["public.items"]}
    assert world.client.post(path, json=body).status_code == 403  # no credentials
    assert world.client.post(path, json=body, headers=other.auth).status_code == 403
    bad = {"Authorization": "Bearer not-a-token"}
    assert world.client.get(path, headers=bad).status_code == 401
    created = world.client.post(path, json=body, headers=database.auth)
    assert created.status_code == 201, created.get_json()
    connector = created.get_json()["uuid"]
    one = f"/data/cdc/v0/connectors/{connector}"
    assert world.client.get(one, headers=other.auth).status_code == 403
    assert world.client.delete(one, headers=other.auth).status_code == 403
    assert world.client.put(f"{one}/pause", headers=other.auth).status_code == 403
    listed = world.client.get(path, headers=database.auth).get_json()
    assert [c["uuid"] for c in listed] == [connector]
    assert world.client.get(f"/data/cdc/v0/connectors/{uuid.uuid4()}").status_code == 404
    # A session opens it too (the dashboard's), with the CSRF header for writes.
    form = world.postgres.sso_form(database.uuid)
    assert world.client.post("/sso/login", data=form).status_code == 302
    assert world.client.get(one).status_code == 200
    assert world.client.delete(one).status_code == 400  # session write without X-CSRFToken
    text = str(world.client.get(one).get_data(as_text=True))
    assert kafka.config["KAFKA_PASSWORD"] not in text
    assert world.client.delete(one, headers=database.auth).status_code == 200


def test_plan_limits_answer_422_naming_the_limit(world):
    essential, kafka = _pair(world, plan="essential-0")
    response = world.create(essential, kafka=kafka.uuid, tables=["public.items"])
    assert response.status_code == 422
    assert "max_connectors" in response.get_json()["message"]
    database, kafka = _pair(world)
    database.execute("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
    tables = ["public.items", "public.a", "public.b", "public.c"]
    response = world.create(database, kafka=kafka.uuid, tables=tables)
    assert response.status_code == 422
    assert "max_connector_tables" in response.get_json()["message"]
    for name in ("one", "two"):
        created = world.create(database, kafka=kafka.uuid, tables=["public.items"], name=name)
        assert created.status_code == 201, created.get_json()
    third = world.create(database, kafka=kafka.uuid, tables=["public.a"], name="three")
    assert third.status_code == 422 and "max_connectors" in third.get_json()["message"]
    bad = world.create(database, kafka=kafka.uuid, tables=["public.a"], settings={"x": "y"})
    assert bad.status_code == 422


def test_a_tenant_cannot_capture_another_tenants_tables_nor_use_its_kafka(world):
    database, kafka = _pair(world)
    victim, victim_kafka = _pair(world)
    victim.execute("CREATE TABLE secrets (id int PRIMARY KEY, card text)")
    # Another app's Kafka resource cannot be named, and other databases' tables do not exist.
    foreign = world.create(database, kafka=victim_kafka.uuid, tables=["public.items"])
    assert foreign.status_code == 422
    stolen = world.create(database, kafka=kafka.uuid, tables=["public.secrets"])
    assert stolen.status_code == 422
    for hostile in (["pg_catalog.pg_authid"], ["public.items; DROP TABLE items"], ["items"]):
        assert world.create(database, kafka=kafka.uuid, tables=hostile).status_code == 422
    assert (
        world.create(database, kafka=kafka.uuid, tables=["public.items"], name="a.b").status_code
        == 422
    )
    created = world.create(database, kafka=kafka.uuid, tables=["public.items"]).get_json()
    role = world.postgres_adapter._connector_name(database.uuid, created["uuid"])
    victim_db = psycopg.conninfo.conninfo_to_dict(victim.url)["dbname"]
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        can_connect = conn.execute(
            "SELECT has_database_privilege(%s, %s, 'CONNECT')", (role, victim_db)
        ).fetchone()[0]
        attributes = conn.execute(
            "SELECT rolreplication, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
            " FROM pg_roles WHERE rolname = %s",
            (role,),
        ).fetchone()
    assert not can_connect and attributes == (True, False, False, False, False)
    with psycopg.connect(database.url, autocommit=True) as conn:
        database.execute("CREATE TABLE private (id int PRIMARY KEY)")
        granted = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND has_table_privilege(%s, c.oid, 'SELECT')",
            (role,),
        ).fetchall()
    assert granted == [("items",)]
    # The connector's producer logs in as this tenant and writes under its prefix only.
    config = requests.get(f"{KAFKA_CONNECT_URL}/connectors/{role}/config", timeout=10).json()
    assert (
        f'username="{kafka.config["KAFKA_USERNAME"]}"'
        in config["producer.override.sasl.jaas.config"]
    )
    assert config["topic.prefix"].startswith(kafka.prefix)
    assert victim_kafka.config["KAFKA_USERNAME"] not in str(config)


def test_removing_either_resource_destroys_its_connectors_first(world):
    database, kafka = _pair(world)
    created = world.create(database, kafka=kafka.uuid, tables=["public.items"]).get_json()
    name = world.postgres_adapter._connector_name(database.uuid, created["uuid"])
    assert name in connect_names()
    assert world.kafka.deprovision(kafka.uuid).status_code == 204
    assert name not in connect_names()
    gone = world.client.get(f"/data/cdc/v0/connectors/{created['uuid']}", headers=database.auth)
    assert gone.status_code == 404 and "Kafka resource was removed" in gone.get_json()["message"]
    assert not _connector_objects(world)

    kafka = world.kafka_tenant(world_app(world, database))
    created = world.create(database, kafka=kafka.uuid, tables=["public.items"]).get_json()
    world.wait_streaming(database, created["uuid"])  # a WAL sender holds the database
    assert world.postgres.deprovision(database.uuid).status_code == 204
    assert not _connector_objects(world)
    assert not [n for n in connect_names() if n.startswith(world.postgres_adapter._prefix)]


def world_app(world: CdcWorld, database) -> str:
    with world.app.app_context():
        return db.session.scalar(select(Resource.app_id).where(Resource.uuid == database.uuid))


def test_orphaned_connector_objects_are_reported_and_removed(world):
    database, kafka = _pair(world)
    created = world.create(database, kafka=kafka.uuid, tables=["public.items"]).get_json()
    objects = _connector_objects(world)
    assert {o.split(":")[0] for o in objects} == {"connector", "slot", "publication", "role"}
    with world.app.app_context():
        report = Reconciler(lifecycle(), None, stuck_after_seconds=600, remove_orphans=False).run()
    assert not [o for o in report.orphans.get("postgres", []) if o in objects]
    # The broker forgets the connector (a lost row): its objects become orphans.
    with world.app.app_context():
        db.session.execute(delete(DataConnector).where(DataConnector.id == created["uuid"]))
        db.session.execute(
            update(Resource)
            .where(Resource.uuid == database.uuid)
            .values(adapter_state_encrypted=None)
        )
        db.session.commit()
        report = Reconciler(lifecycle(), None, stuck_after_seconds=600, remove_orphans=True).run()
    assert objects <= set(report.orphans["postgres"]), report.orphans
    assert not _connector_objects(world)


def test_kafka_connect_down_answers_503_and_leaves_nothing(sqlite_url):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    world = CdcWorld(sqlite_url, KAFKA_CONNECT_URL=closed)
    try:
        database, kafka = _pair(world)
        response = world.create(database, kafka=kafka.uuid, tables=["public.items"])
        assert response.status_code == 503, response.get_json()
        assert "Kafka Connect" in response.get_json()["message"]
        assert not _connector_objects(world)
        listed = world.client.get(
            f"/data/cdc/v0/databases/{database.uuid}/connectors", headers=database.auth
        )
        assert listed.get_json() == []
        assert not [t for t in world.kafka_adapter.list_topics(_kafka_ref(kafka))]
    finally:
        world.deprovision_all()


def _kafka_ref(kafka):
    return ResourceRef(kafka.uuid, SPEC.default_plan, "us", kafka.config)


def test_cli_lists_and_shows_connectors_without_secrets(world):
    database, kafka = _pair(world)
    created = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="cli")
    connector = created.get_json()["uuid"]
    runner = CliRunner()
    with world.app.app_context():
        listed = runner.invoke(cli_group, ["list", "--addon", database.uuid])
        info = runner.invoke(cli_group, ["info", connector, "--json"])
        refused = runner.invoke(cli_group, ["destroy", connector])
        destroyed = runner.invoke(cli_group, ["destroy", connector, "--confirm", connector])
    assert listed.exit_code == 0 and "cli" in listed.output
    assert info.exit_code == 0 and '"topic_name"' in info.output
    assert kafka.config["KAFKA_PASSWORD"] not in listed.output + info.output
    assert refused.exit_code != 0
    assert destroyed.exit_code == 0 and "deprovisioned" in destroyed.output


def test_the_dashboard_panel_lists_creates_pauses_and_destroys(world):
    database, kafka = _pair(world)
    client = world.client
    form = world.postgres.sso_form(database.uuid)
    assert client.post("/sso/login", data=form).status_code == 302
    page = client.get(f"/dashboard/{database.uuid}", headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
    assert "Data connectors" in html and kafka.name in html
    csrf = csrf_token(html)
    created = client.post(
        f"/dashboard/{database.uuid}/data-connectors",
        data={"csrf_token": csrf, "kafka": kafka.uuid, "tables": "public.items", "name": "panel"},
    )
    assert created.status_code == 302
    listed = client.get(f"/data/cdc/v0/databases/{database.uuid}/connectors").get_json()
    assert [c["name"] for c in listed] == ["panel"]
    connector = listed[0]["uuid"]
    twin = client.get(f"/resources/{database.uuid}").get_json()  # the dashboard's JSON
    assert [c["uuid"] for c in twin["data_connectors"]] == [connector]
    assert twin["data_connectors_unavailable"] is None
    assert (
        "data_connectors"
        not in client.get(
            f"/resources/{kafka.uuid}",
            headers={"Authorization": f"Bearer {_kafka_token(world, kafka)}"},
        ).get_json()
    )
    html = client.get(f"/dashboard/{database.uuid}").get_data(as_text=True)
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
    assert "<code>panel</code>" in html and "Slot lag (bytes)" in html
    assert kafka.config["KAFKA_PASSWORD"] not in html
    base = f"/dashboard/{database.uuid}/data-connectors/{connector}"
    assert client.post(f"{base}/pause", data={"csrf_token": csrf}).status_code == 302
    assert world.connector(database, connector)["status"] == "paused"
    assert client.post(f"{base}/pause", data={}).status_code == 400  # no CSRF token
    assert client.post(f"{base}/destroy", data={"csrf_token": csrf}).status_code == 302
    assert client.get(f"/data/cdc/v0/connectors/{connector}").status_code == 404
    assert not _connector_objects(world)


def test_state_changes_reach_the_databases_app_log_stream(world, tmp_path):
    database, kafka = _pair(world)
    with local_platform(tmp_path) as platform:
        stream_logs(world.app, database.uuid, platform, "shop-web")
        created = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="items")
        assert created.status_code == 201, created.get_json()
        one = f"/data/cdc/v0/connectors/{created.get_json()['uuid']}"
        world.wait_streaming(database, created.get_json()["uuid"])
        assert world.client.put(f"{one}/pause", headers=database.auth).status_code == 200
        assert world.client.delete(one, headers=database.auth).status_code == 200
        lines = [
            line
            for line in log_messages(world.app, platform, "shop-web")
            if line.startswith("event=data_connector_state_changed")
        ]
    states = [re.search(r" state=(\w+)", line).group(1) for line in lines]
    assert states == ["creating", "available", "paused", "deprovisioned"], lines
    assert all(f"addon_id={database.uuid} addon=postgres" in line for line in lines)
    assert all("connector=items" in line for line in lines)
    assert not any(kafka.config["KAFKA_PASSWORD"] in line for line in lines)


def test_the_periodic_watch_logs_a_failure_nobody_read(world, tmp_path):
    database, kafka = _pair(world)
    with local_platform(tmp_path) as platform:
        stream_logs(world.app, database.uuid, platform, "shop-web")
        created = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="gone")
        connector = created.get_json()["uuid"]
        world.wait_streaming(database, connector)
        # Someone removes it behind the broker's back; no one asks the API about it.
        name = world.postgres_adapter._connector_name(database.uuid, connector)
        assert requests.delete(f"{KAFKA_CONNECT_URL}/connectors/{name}", timeout=30).ok

        def watched_as_failed() -> bool:  # Connect answers for it a moment after the delete
            reconcile_once()
            status = select(DataConnector.status).where(DataConnector.id == connector)
            return db.session.scalar(status) == "error"

        with world.app.app_context():
            wait_until(watched_as_failed, 60, "the watch stores the failure")
        lines = [
            line
            for line in log_messages(world.app, platform, "shop-web")
            if line.startswith("event=data_connector_state_changed") and "connector=gone" in line
        ]
    assert [re.search(r" state=(\w+)", line).group(1) for line in lines][-1] == "error", lines


def test_connector_roles_count_against_the_servers_connections(sqlite_url):
    with psycopg.connect(admin_url()) as conn:
        server = int(conn.execute("SHOW max_connections").fetchone()[0])
        reserve = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    # Room for one cdc-test database (5 connections) and one data connector (8), no more.
    world = CdcWorld(sqlite_url, POSTGRES_RESERVED_CONNECTIONS=server - reserve - 13)
    try:
        database, kafka = _pair(world)
        first = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="first")
        assert first.status_code == 201, first.get_json()
        before = _connector_objects(world)

        second = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="second")
        assert second.status_code == 422
        assert (
            "room for 0 more connections; a data connector needs 8"
            in (second.get_json()["message"])
        )
        assert _connector_objects(world) == before  # nothing half-made

        refused = world.postgres.provision(plan="cdc-test")
        assert refused.status_code == 422
        assert "room for 0 more connections" in refused.get_json()["message"]

        one = f"/data/cdc/v0/connectors/{first.get_json()['uuid']}"
        assert world.client.delete(one, headers=database.auth).status_code == 200
        again = world.create(database, kafka=kafka.uuid, tables=["public.items"], name="second")
        assert again.status_code == 201, again.get_json()
    finally:
        world.deprovision_all()


def _kafka_token(world: CdcWorld, kafka) -> str:
    with world.app.app_context():
        return api_tokens.issue(kafka.uuid)


def test_a_tenants_open_transaction_on_its_publication_blocks_no_destroy_or_removal(world):
    database, kafka = _pair(world)
    for removal in ("connector", "database"):
        created = world.create(database, kafka=kafka.uuid, tables=["public.items"]).get_json()
        name = world.postgres_adapter._connector_name(database.uuid, created["uuid"])
        holder = psycopg.connect(database.url)  # the tenant owns the publication
        try:
            holder.execute(f'ALTER PUBLICATION "{name}" SET (publish = insert)')
            if removal == "connector":
                destroyed = world.client.delete(
                    f"/data/cdc/v0/connectors/{created['uuid']}", headers=database.auth
                )
                assert destroyed.status_code == 200, destroyed.get_json()
            else:
                assert world.postgres.deprovision(database.uuid).status_code == 204
        finally:
            holder.close()
        assert not _connector_objects(world)
