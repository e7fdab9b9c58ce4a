"""Hostile PostgreSQL tenants (issue: eleven field failures, cases 1-4): a tenant's objects
never run with the broker's rights, no tenant state blocks removal, tenants reach their own
database only, and tenants cannot starve the broker of connections."""

from __future__ import annotations

import re
from contextlib import ExitStack

import psycopg
import pytest

from tests.odata_support import basic, odata_get, odata_world
from tests.support import (
    PartnerClient,
    admin_url,
    build_app,
    owned_postgres_objects,
    rotate_on_dashboard,
)

pytestmark = pytest.mark.backend


def _provision(partner: PartnerClient, plan: str = "essential-0") -> tuple[str, str]:
    response = partner.provision(plan=plan)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["id"], body["config"]["DATABASE_URL"]


def _signed_in(partner: PartnerClient, uuid_: str, age: int = 0) -> None:
    login = partner.client.post("/sso/login", data=partner.sso_form(uuid_, age_seconds=age))
    assert login.status_code == 302


def test_the_dashboard_never_runs_a_tenants_functions_with_admin_rights(partner):
    uuid_, url = _provision(partner)
    with psycopg.connect(url, autocommit=True) as conn:
        database = conn.info.dbname
        conn.execute("CREATE TABLE caught (who text)")
        conn.execute("CREATE TABLE orders (id int)")
        # A look-alike of a catalog function, a view shadowing a statistics view, and a
        # search_path that puts them first for every session of this database.
        conn.execute(
            "CREATE FUNCTION public.pg_size_pretty(bigint) RETURNS text LANGUAGE sql AS"
            " $$ INSERT INTO public.caught VALUES (current_user); SELECT 'forged'::text $$"
        )
        conn.execute(
            "CREATE FUNCTION public.count_hook() RETURNS bigint LANGUAGE sql AS"
            " $$ INSERT INTO public.caught VALUES (current_user); SELECT 0::bigint $$"
        )
        conn.execute(
            "CREATE VIEW public.pg_stat_user_tables AS SELECT 'public' AS schemaname,"
            " 'fake' AS relname, public.count_hook() AS n_live_tup, 0::oid AS relid"
        )
        conn.execute(f'ALTER DATABASE "{database}" SET search_path = public, pg_catalog')

    _signed_in(partner, uuid_)
    page = partner.client.get(f"/dashboard/{uuid_}").get_data(as_text=True)
    usage = partner.client.get(f"/resources/{uuid_}").get_json()["usage"]

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT who FROM caught").fetchall() == []
    assert "public.orders" in page and "forged" not in page and "fake" not in page
    tables = next(m for m in usage if m["name"] == "max_tables")
    assert tables["value"] == 2  # caught and orders: counted from the catalog, not forgeable


def test_a_tenant_cannot_block_its_own_removal(partner):
    uuid_, url = _provision(partner)
    with psycopg.connect(url, autocommit=True) as conn:
        database = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{database}" IS_TEMPLATE true')
        conn.execute(f'ALTER DATABASE "{database}" CONNECTION LIMIT 0')

    assert partner.deprovision(uuid_).status_code == 204
    assert owned_postgres_objects() == set()


def test_a_tenant_cannot_block_another_tenants_removal(partner):
    victim, victim_url = _provision(partner)
    attacker, attacker_url = _provision(partner)
    victim_role = psycopg.conninfo.conninfo_to_dict(victim_url)["user"]
    with psycopg.connect(attacker_url, autocommit=True) as conn:
        database = conn.info.dbname
        conn.execute("CREATE TABLE bait (id int)")
        conn.execute(f'GRANT SELECT ON bait TO "{victim_role}"')  # a dependency on the victim
        conn.execute(f'ALTER DATABASE "{database}" CONNECTION LIMIT 0')

    assert partner.deprovision(victim).status_code == 204
    assert partner.deprovision(attacker).status_code == 204
    assert owned_postgres_objects() == set()


def test_tenants_reach_their_own_database_only_and_an_idle_session_blocks_nothing(partner):
    _, url = _provision(partner)
    for shared in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(url, dbname=shared).close()
    with psycopg.connect(url) as idle:  # left open while others provision
        assert idle.execute("SELECT 1").fetchone() == (1,)
        uuid_, _ = _provision(partner)
        assert partner.deprovision(uuid_).status_code == 204


def test_tenants_cannot_starve_the_broker_of_connections(sqlite_url):
    """The server is never sold more connection slots than it has: with room for two
    essential-0 tenants only, the third is refused with a message and nothing left; the two
    holding every connection they were sold cannot stop a plan change or a removal."""
    with psycopg.connect(admin_url()) as conn:
        server = int(conn.execute("SHOW max_connections").fetchone()[0])
        reserve = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    # Leave room for exactly two tenants of 20 connections (their limit sums per broker).
    app = build_app(sqlite_url, POSTGRES_RESERVED_CONNECTIONS=server - reserve - 45)
    partner = PartnerClient(app.test_client(), app, "postgres")
    first, first_url = _provision(partner)
    second, second_url = _provision(partner)

    refused = partner.provision(plan="essential-0")
    assert refused.status_code == 422
    assert re.search(r"room for \d+ more connections", refused.get_json()["message"])

    with ExitStack() as held:
        for url in (first_url, second_url):
            for _ in range(20):
                held.enter_context(psycopg.connect(url))
        assert partner.change_plan(first, "essential-2").status_code == 422  # 40 > room
        assert partner.deprovision(first).status_code == 204
        assert partner.deprovision(second).status_code == 204
    assert owned_postgres_objects() == set()


def _dashboard(partner: PartnerClient, uuid_: str) -> dict:
    _signed_in(partner, uuid_)
    response = partner.client.get(f"/resources/{uuid_}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def test_a_tenants_database_settings_never_change_who_the_broker_is_in_it(partner):
    """``ALTER DATABASE ... SET role`` would make every admin session in the database run as
    the tenant (so ``DROP OWNED BY`` another tenant's role fails there), and ``SET
    client_encoding`` would make it read bytes, or fail on a table's name."""
    victim, victim_url = _provision(partner)
    attacker, attacker_url = _provision(partner)
    victim_role = psycopg.conninfo.conninfo_to_dict(victim_url)["user"]
    with psycopg.connect(attacker_url, autocommit=True) as conn:
        database, role = conn.info.dbname, conn.info.user
        conn.execute('CREATE TABLE "prix_€" (id int)')
        conn.execute(f'GRANT SELECT ON "prix_€" TO "{victim_role}"')
        conn.execute(f"ALTER DATABASE \"{database}\" SET role = '{role}'")
        conn.execute(f"ALTER DATABASE \"{database}\" SET client_encoding = 'SQL_ASCII'")

    body = _dashboard(partner, attacker)
    assert body["unavailable"] is None
    assert body["tables"][0]["rows"][0][0] == "public.prix_€"
    assert partner.deprovision(victim).status_code == 204
    assert partner.deprovision(attacker).status_code == 204
    assert owned_postgres_objects() == set()


SHUT_OUT = {
    "revoked CONNECT": ['REVOKE ALL ON DATABASE "{db}" FROM "{role}", PUBLIC'],
    "a missing library": ["ALTER DATABASE \"{db}\" SET local_preload_libraries = 'nothing_here'"],
    "a full connection limit": ['ALTER DATABASE "{db}" CONNECTION LIMIT 1'],
}


@pytest.mark.parametrize("trick", SHUT_OUT)
def test_a_tenant_cannot_shut_the_broker_out_of_its_database(partner, trick):
    """Whatever a tenant does to its database's connection rules, the broker still meters it,
    shows its dashboard, changes its plan and removes it, and another tenant whose role it
    granted something can still be removed (that removal must go inside to revoke it)."""
    victim, victim_url = _provision(partner)
    attacker, attacker_url = _provision(partner)
    victim_role = psycopg.conninfo.conninfo_to_dict(victim_url)["user"]
    with ExitStack() as held:
        conn = held.enter_context(psycopg.connect(attacker_url, autocommit=True))
        database, role = conn.info.dbname, conn.info.user
        conn.execute("CREATE TABLE bait (id int)")
        conn.execute(f'GRANT SELECT ON bait TO "{victim_role}"')
        for statement in SHUT_OUT[trick]:
            conn.execute(statement.format(db=database, role=role))

        body = _dashboard(partner, attacker)
        assert body["unavailable"] is None
        assert ["public.bait", "0", "0 bytes"] in body["tables"][0]["rows"]
        assert partner.change_plan(attacker, "essential-1").status_code == 200
        assert partner.deprovision(victim).status_code == 204
        assert partner.deprovision(attacker).status_code == 204
    assert owned_postgres_objects() == set()


def test_an_open_transaction_holding_its_role_blocks_no_rotation_or_plan_change(partner):
    """``ALTER ROLE <itself> PASSWORD`` left uncommitted holds the role's row: someone with a
    leaked DATABASE_URL could keep its owner from rotating it away."""
    uuid_, url = _provision(partner)
    holder = psycopg.connect(url)
    role = holder.info.user
    holder.execute(f"ALTER ROLE \"{role}\" PASSWORD 'kept-by-an-intruder'")  # left open
    try:
        assert partner.change_plan(uuid_, "essential-1").status_code == 200
        _signed_in(partner, uuid_)
        assert "New credentials issued (DATABASE_URL)" in rotate_on_dashboard(partner.client, uuid_)
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")  # the intruder's session is gone
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(url).close()
    finally:
        holder.close()
    assert partner.deprovision(uuid_).status_code == 204


def test_an_open_transaction_never_blocks_another_tenants_removal(partner):
    """An uncommitted ``ALTER TABLE`` holds the table's catalog row, which revoking what was
    granted on it to the departing tenant's role must change."""
    victim, victim_url = _provision(partner)
    attacker, attacker_url = _provision(partner)
    victim_role = psycopg.conninfo.conninfo_to_dict(victim_url)["user"]
    with psycopg.connect(attacker_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bait (id int)")
        conn.execute(f'GRANT SELECT ON bait TO "{victim_role}"')
    holder = psycopg.connect(attacker_url)
    try:
        holder.execute("ALTER TABLE bait ADD COLUMN held int")  # left open
        assert partner.deprovision(victim).status_code == 204
    finally:
        holder.close()
    assert partner.deprovision(attacker).status_code == 204
    assert owned_postgres_objects() == set()


def test_the_odata_service_reads_text_whatever_encoding_the_tenant_sets(sqlite_url):
    """The service's sessions log in as the tenant, so its role's (or database's)
    ``SET client_encoding`` applies to them unless the service sets its own."""
    with odata_world(sqlite_url) as world:
        world.sql("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        world.sql("INSERT INTO notes VALUES (1, 'crème brûlée')")
        world.sql("ALTER ROLE CURRENT_USER SET client_encoding = 'SQL_ASCII'")
        credentials = world.enable()
        assert world.share("public.notes").status_code == 200
        world.auth = basic(credentials["username"], credentials["password"])
        world.root = "/odata/v4/" + credentials["url"].split("/odata/v4/")[1]
        answer = odata_get(world, "public$notes")
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        assert answer.get_json()["value"] == [{"id": 1, "body": "crème brûlée"}]


def test_a_locked_table_does_not_hold_up_the_dashboard(partner):
    """Measuring a table's size waits for a lock its owner can hold forever."""
    uuid_, url = _provision(partner)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE held (id int PRIMARY KEY)")
        conn.execute("CREATE TABLE free (id int)")
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")  # left open
        body = _dashboard(partner, uuid_)
        holder.rollback()
    assert body["unavailable"] is None
    assert body["tables"][0]["rows"] == [
        ["public.free", "0", "0 bytes"],
        ["public.held", "0", "locked"],
    ]
    assert partner.deprovision(uuid_).status_code == 204
