"""Tokens (expiry, revocation), plan limits, deprovisioning, a removed database, API access."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from marketplace.context import lifecycle
from marketplace.extensions import db
from marketplace.models import Resource
from standins.salesforce import generate
from tests.connect.support import provision, set_up, sso, tear_down, token_for
from tests.support import PartnerClient

pytestmark = pytest.mark.backend


def _sf_state(app, uuid: str) -> dict:
    with app.app_context():
        resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid))
        return lifecycle().adapter_state(resource).get("sf") or {}


def _refresh_works(standin, refresh_token: str) -> bool:
    answer = requests.post(
        f"{standin.url}/services/oauth2/token",
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
        },
    )
    return answer.status_code == 200


def test_expired_token_is_refreshed_and_a_revoked_one_asks_for_a_login(app, standin):
    conn = set_up(app, standin)
    try:
        conn.map(
            "Lead", access="read_only", fields={"LastName": {}, "Company": {}}, sf_polling_seconds=1
        )
        conn.sync()
        before = _sf_state(app, conn.uuid)["access_token"]
        standin.admin.expire_access_tokens()
        created = standin.admin.create_record("Lead", {"LastName": "Fresh", "Company": "Acme"})
        conn.until(lambda: conn.sql("SELECT 1 FROM salesforce.lead WHERE sfid = %s", (created,)))
        assert _sf_state(app, conn.uuid)["access_token"] != before
        assert conn.state()["state"] == "IDLE"

        standin.admin.revoke_refresh_token(_sf_state(app, conn.uuid)["refresh_token"])
        standin.admin.expire_access_tokens()
        conn.until(lambda: conn.state()["state"] == "NEED_AUTHENTICATION")
        client, _ = sso(app, conn.uuid)
        page = client.get(f"/dashboard/{conn.uuid}").get_data(as_text=True)
        assert "NEED_AUTHENTICATION" in page and "Authorize again" in page
        conn.authorize()  # a new login brings it back
        assert conn.state()["state"] == "IDLE"
    finally:
        tear_down(conn)


def test_plan_row_limit_is_enforced_in_sync_and_on_plan_change(app, standin):
    generate(standin.org, "Lead", 10_050)
    big = set_up(app, standin, plan="shield")
    small = set_up(app, standin, plan="demo")
    try:
        for conn in (big, small):
            conn.map("Lead", access="read_only", fields={"LastName": {}}, sf_polling_seconds=1)
            conn.sync()
        assert big.mapping("Lead")["counts"]["db"] > 10_000
        limited = small.mapping("Lead")
        assert limited["state"] == "ROW_LIMIT_EXCEEDED"
        assert "allows 10000 synced rows" in limited["state_description"]
        assert small.sql("SELECT count(*) FROM salesforce.lead")[0][0] <= 10_000

        partner = PartnerClient(app.test_client(), app, "connect")
        refused = partner.change_plan(big.uuid, "demo")
        assert refused.status_code == 422
        assert "allows 10000" in refused.get_json()["message"]
        assert partner.change_plan(small.uuid, "enterprise").status_code == 200
    finally:
        tear_down(big)
        tear_down(small)


def test_deprovision_revokes_the_token_stops_and_keeps_the_tables(app, standin):
    conn = set_up(app, standin)
    conn.map("Lead", access="read_only", fields={"LastName": {}}, sf_polling_seconds=1)
    conn.sync()
    refresh_token = _sf_state(app, conn.uuid)["refresh_token"]
    assert _refresh_works(standin, refresh_token)
    partner = PartnerClient(app.test_client(), app, "connect")
    try:
        assert partner.deprovision(conn.uuid).status_code == 204
        assert not _refresh_works(standin, refresh_token)
        assert conn.tick() == "idle"
        assert conn.sql("SELECT count(*) FROM salesforce.lead")[0][0] > 0  # the customer's data
    finally:
        tear_down(conn)


def test_removing_the_database_stops_the_connection_clearly(app, standin):
    conn = set_up(app, standin)
    try:
        conn.map("Lead", access="read_only", fields={"LastName": {}}, sf_polling_seconds=1)
        conn.sync()
        assert (
            PartnerClient(app.test_client(), app, "postgres").deprovision(conn.db_uuid).status_code
            == 204
        )
        info = conn.state()
        assert info["state"] == "DB_UNAVAILABLE"
        assert "database was removed" in info["state_description"]
        conn.tick()
        assert conn.state()["state"] == "DB_UNAVAILABLE"
    finally:
        tear_down(conn)


def test_api_accepts_the_session_and_its_token_and_refuses_another_resources_token(app, standin):
    conn = set_up(app, standin, link=False, authorize=False)
    other, other_db = provision(app, "demo", app_id="another-app")
    try:
        path = f"/connect/api/v3/connections/{conn.uuid}"
        assert conn.client.get(path).status_code == 403
        assert conn.client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        other_token = token_for(app, other)
        refused = conn.client.get(path, headers={"Authorization": f"Bearer {other_token}"})
        assert refused.status_code == 403 and refused.get_json()["id"] == "forbidden"
        assert conn.api("GET", f"/connections/{conn.uuid}").get_json()["state"] == "NEW"
        client, csrf = sso(app, conn.uuid)
        assert client.get(path).get_json()["state"] == "NEW"
        assert client.patch(path, json={"schema_name": "sf"}).status_code == 400  # no CSRF
        patched = client.patch(
            path,
            json={"db_key": conn.db_uuid, "schema_name": "sync"},
            headers={"X-CSRFToken": csrf},
        )
        assert patched.status_code == 200, patched.get_json()
        assert patched.get_json()["schema_name"] == "sync"
        assert conn.sql("SELECT to_regclass('sync._trigger_log') IS NOT NULL")[0][0]
        bad = conn.api("PATCH", f"/connections/{conn.uuid}", json={"db_key": other_db})
        assert bad.status_code == 422  # another app's database
        assert "no postgres resource" in bad.get_json()["message"]
    finally:
        tear_down(conn)
        PartnerClient(app.test_client(), app, "connect").deprovision(other)
        PartnerClient(app.test_client(), app, "postgres").deprovision(other_db)


def test_import_of_a_heroku_connect_export(app, standin):
    conn = set_up(app, standin)
    document = {
        "version": 1,
        "connection": {
            "app_name": "my-app",
            "organization_id": "00D000000000001AAA",
            "exported_at": "2023-02-15T17:13:42+00:00",
            "features": {"x": 1},
            "unknown": True,
        },
        "mappings": [
            {
                "object_name": "Contact",
                "config": {
                    "access": "read_write",
                    "sf_notify_enabled": False,
                    "sf_polling_seconds": 600,
                    "sf_max_daily_api_calls": 30000,
                    "upsert_field": "External_Id__c",
                    "fields": {
                        "Id": {},
                        "IsDeleted": {},
                        "SystemModstamp": {},
                        "CreatedDate": {},
                        "LastName": {},
                        "External_Id__c": {},
                    },
                    "indexes": {"Id": {"unique": True}, "External_Id__c": {"unique": True}},
                    "applied_at": "2023-02-14T01:40:34Z",
                    "future_key": 1,
                },
            },
            {
                "object_name": "Account",
                "config": {"access": "read_only", "fields": {"Name": {}, "Industry": {}}},
            },
        ],
    }
    try:
        answer = conn.api("POST", f"/connections/{conn.uuid}/actions/import", json=document)
        assert answer.status_code == 202, answer.get_json()
        conn.sync()
        names = {m["object_name"]: m for m in conn.state()["mappings"]}
        assert set(names) == {"Contact", "Account"}
        assert names["Contact"]["access"] == "read_write"
        assert all(m["state"] == "DATA_SYNCED" for m in names.values())
        columns = {
            r[0]
            for r in conn.sql(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'salesforce' "
                "AND table_name = 'contact'"
            )
        }
        assert columns == {
            "id",
            "sfid",
            "systemmodstamp",
            "isdeleted",
            "createddate",
            "_hc_lastop",
            "_hc_err",
            "lastname",
            "external_id__c",
        }
        indexes = {
            r[0]
            for r in conn.sql(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'salesforce' "
                "AND tablename = 'contact'"
            )
        }
        assert {
            "contact_pkey",
            "hcu_idx_contact_sfid",
            "hc_idx_contact_systemmodstamp",
            "hcu_idx_contact_external_id__c",
        } <= indexes
        exported = conn.api("GET", f"/connections/{conn.uuid}/actions/export").get_json()
        assert exported["version"] == 1
        assert [m["object_name"] for m in exported["mappings"]] == ["Account", "Contact"]
        again = conn.api(
            "POST",
            f"/connections/{conn.uuid}/actions/import",
            data=json.dumps(exported),
            content_type="application/json",
        )
        assert again.status_code == 202
        mapping_id = names["Account"]["id"]
        assert conn.api("POST", f"/mappings/{mapping_id}/actions/reload").status_code == 202
        assert conn.api("DELETE", f"/mappings/{mapping_id}").status_code == 204
        assert not conn.sql("SELECT to_regclass('salesforce.account')")[0][0]
        assert conn.api("GET", f"/mappings/{mapping_id}").status_code == 404
    finally:
        tear_down(conn)
