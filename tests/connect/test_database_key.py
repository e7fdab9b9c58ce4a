"""Heroku Connect names the database by a config var (``db_key: "DATABASE_URL"``, what
``heroku connect:db:set`` sends) and lists the choices at ``GET /apps/<app>``."""

from __future__ import annotations

import pytest

from tests.connect.support import Connection, set_app, set_up, tear_down
from tests.support import PartnerClient

pytestmark = pytest.mark.backend


def test_database_url_names_the_apps_only_database(app, standin):
    conn = set_up(app, standin, link=False, authorize=False)
    extra = None
    try:
        listed = conn.api("GET", "/apps/demo")
        assert listed.status_code == 200, listed.get_json()
        keys = listed.get_json()["db_keys"]
        assert [k["uuid"] for k in keys] == [conn.db_uuid]
        assert keys[0]["addon"]["plan"] and keys[0]["name"]
        assert conn.api("GET", "/apps/another-app").status_code == 404

        answer = conn.api(
            "PATCH",
            f"/connections/{conn.uuid}",
            json={"db_key": "DATABASE_URL", "schema_name": "salesforce"},
        )
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["db_key"] == keys[0]["name"]
        assert conn.sql("SELECT to_regclass('salesforce._trigger_log') IS NOT NULL") == [(True,)]

        # With two databases on the app the config var is ambiguous: 422, nothing linked.
        pg = PartnerClient(app.test_client(), app, "postgres")
        extra = pg.provision(name="db-second").get_json()["id"]
        set_app(app, extra)
        other = set_up(app, standin, link=False, authorize=False)
        try:
            assert len(other.api("GET", "/apps/demo").get_json()["db_keys"]) == 3
            answer = other.api(
                "PATCH", f"/connections/{other.uuid}", json={"db_key": "DATABASE_URL"}
            )
            assert answer.status_code == 422, answer.get_json()
            assert "Several databases" in answer.get_json()["message"]
            assert other.state()["db_key"] is None
        finally:
            tear_down(other)
    finally:
        if extra:
            PartnerClient(app.test_client(), app, "postgres").deprovision(extra)
        tear_down(conn)


def test_apps_needs_a_connection_token(app, standin):
    conn: Connection = set_up(app, standin, link=False, authorize=False)
    try:
        answer = conn.client.get("/connect/api/v3/apps/demo")
        assert answer.status_code == 403, answer.get_json()
        answer = conn.client.get(
            "/connect/api/v3/apps/demo", headers={"Authorization": "Bearer nope"}
        )
        assert answer.status_code == 401, answer.get_json()
    finally:
        tear_down(conn)
