"""Real PostgreSQL tenants through the Partner API: usable, isolated, limited, removable."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from addons.postgres.plans import SPEC
from marketplace.adapters import PlanSpec
from tests.support import (
    PartnerClient,
    build_app,
    live_server,
    name_prefix,
    owned_postgres_objects,
    postgres_adapter,
)

pytestmark = pytest.mark.backend


def _provisioned_url(partner, **fields) -> tuple[str, str]:
    response = partner.provision(**fields)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["id"], body["config"]["DATABASE_URL"]


def test_database_url_connects_creates_inserts_and_reads(partner):
    _, url = _provisioned_url(partner)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes (body) VALUES (%s)", ("hello",))
        assert conn.execute("SELECT body FROM notes").fetchall() == [("hello",)]


def test_tenant_cannot_connect_to_another_tenants_database(partner):
    _, url_a = _provisioned_url(partner)
    _, url_b = _provisioned_url(partner)
    database_b = psycopg.conninfo.conninfo_to_dict(url_b)["dbname"]

    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(url_a, dbname=database_b).close()


def test_tenant_is_not_superuser_and_cannot_create_roles(partner):
    _, url = _provisioned_url(partner)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False, False)


def test_plan_connection_limit_is_enforced_by_the_server():
    tiny = PlanSpec("tiny", "Tiny", "test plan", 0, {"max_connections": 2, "storage_bytes": 10**9})
    spec = dataclasses.replace(SPEC, plans=(*SPEC.plans, tiny))
    adapter = postgres_adapter()
    adapter.spec = spec
    app = build_app("sqlite://", adapters=[adapter])
    partner = PartnerClient(app.test_client(), app, "postgres")
    uuid_, url = _provisioned_url(partner, plan="tiny")
    try:
        first, second = psycopg.connect(url), psycopg.connect(url)
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            psycopg.connect(url)
        first.close()
        second.close()

        assert partner.change_plan(uuid_, "essential-0").status_code == 200
        opened = [psycopg.connect(url) for _ in range(3)]
        for conn in opened:
            conn.close()
    finally:
        partner.deprovision(uuid_)


def test_plan_change_is_refused_when_the_data_does_not_fit():
    small = PlanSpec(
        "small", "Small", "test plan", 0, {"max_connections": 5, "storage_bytes": 1024}
    )
    spec = dataclasses.replace(SPEC, plans=(*SPEC.plans, small))
    adapter = postgres_adapter()
    adapter.spec = spec
    app = build_app("sqlite://", adapters=[adapter])
    partner = PartnerClient(app.test_client(), app, "postgres")
    uuid_, _ = _provisioned_url(partner)
    try:
        response = partner.change_plan(uuid_, "small")
        assert response.status_code == 422
        assert "above the" in response.get_json()["message"]
        assert partner.change_plan(uuid_, "essential-1").status_code == 200
    finally:
        partner.deprovision(uuid_)


def test_deprovision_with_an_open_client_connection(partner):
    uuid_, url = _provisioned_url(partner)
    names = owned_postgres_objects()
    client = psycopg.connect(url)
    client.execute("SELECT 1")

    assert partner.deprovision(uuid_).status_code == 204

    assert len(names - owned_postgres_objects()) == 2
    with pytest.raises(psycopg.OperationalError):
        client.execute("SELECT 1")
    client.close()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_twenty_concurrent_duplicate_provisions_make_one_database(request, store):
    url = request.getfixturevalue("sqlite_url" if store == "sqlite" else "postgres_store_url")
    app = build_app(url)
    partner = PartnerClient(app.test_client(), app, "postgres")
    body = partner.provision_body()
    before = owned_postgres_objects()

    with live_server(app) as base, ThreadPoolExecutor(max_workers=20) as pool:

        def call(_: int) -> tuple[int, dict]:
            response = requests.post(
                f"{base}/heroku/resources", json=body, headers=partner.headers, timeout=60
            )
            return response.status_code, response.json()

        results = list(pool.map(call, range(20)))

    try:
        assert {status for status, _ in results} == {200}
        assert len({payload["config"]["DATABASE_URL"] for _, payload in results}) == 1
        created = owned_postgres_objects() - before
        assert len(created) == 2
        assert {name.removeprefix(name_prefix())[:2] for name in created} == {"d_", "u_"}
    finally:
        partner.deprovision(body["uuid"])


def test_backend_down_gives_503_and_leaves_nothing(sqlite_url):
    down = postgres_adapter("postgresql://marketplace_admin:x@127.0.0.1:1/postgres")
    app = build_app(sqlite_url, adapters=[down])
    partner = PartnerClient(app.test_client(), app, "postgres")
    before = owned_postgres_objects()

    response = partner.provision()

    assert response.status_code == 503
    assert response.get_json() == {
        "id": "service_unavailable",
        "message": "PostgreSQL is not reachable right now; try again shortly.",
    }
    assert owned_postgres_objects() == before
    readiness = app.test_client().get("/readyz")
    assert readiness.status_code == 503
    assert readiness.get_json()["checks"]["postgres"]["ok"] is False


def test_retry_after_backend_outage_provisions(sqlite_url):
    body_uuid = str(uuid.uuid4())
    down = build_app(
        sqlite_url, adapters=[postgres_adapter("postgresql://u:x@127.0.0.1:1/postgres")]
    )
    down_partner = PartnerClient(down.test_client(), down, "postgres")
    assert down_partner.provision(uuid=body_uuid).status_code == 503

    up = build_app(sqlite_url)
    up_partner = PartnerClient(up.test_client(), up, "postgres")
    response = up_partner.provision(uuid=body_uuid)
    try:
        assert response.status_code == 200
        with psycopg.connect(response.get_json()["config"]["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        up_partner.deprovision(body_uuid)


def test_deprovision_during_an_outage_is_finished_by_the_retry(sqlite_url):
    up = build_app(sqlite_url)
    up_partner = PartnerClient(up.test_client(), up, "postgres")
    uuid_, url = _provisioned_url(up_partner)
    before = owned_postgres_objects()
    down = build_app(
        sqlite_url, adapters=[postgres_adapter("postgresql://u:x@127.0.0.1:1/postgres")]
    )

    response = PartnerClient(down.test_client(), down, "postgres").deprovision(uuid_)
    assert response.status_code == 503
    assert owned_postgres_objects() == before
    assert up_partner.provision(uuid=uuid_).status_code == 410  # intent to remove is durable

    assert up_partner.deprovision(uuid_).status_code == 204
    assert len(before - owned_postgres_objects()) == 2
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url)
