"""Heroku Connect's mapping document: what an export holds, and an import of one written by
Heroku Connect (its ``indexes`` included) round-trips."""

from __future__ import annotations

import pytest

from tests.connect.support import set_up, tear_down

pytestmark = pytest.mark.backend


def _indexes(conn) -> set[str]:
    return {
        r[0]
        for r in conn.sql(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'salesforce' "
            "AND tablename = 'contact'"
        )
    }


def _document(indexes: dict) -> dict:
    return {
        "version": 1,
        "connection": {"app_name": "elsewhere", "organization_id": "00D000000000001"},
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
                        "Email": {},
                        "External_Id__c": {},
                    },
                    "indexes": indexes,
                    "applied_at": "2023-02-14T01:40:34Z",
                },
            }
        ],
    }


def test_imported_indexes_are_created_exported_and_dropped(app, standin):
    conn = set_up(app, standin)
    try:
        indexes = {
            "Id": {"unique": True},
            "SystemModstamp": {"unique": False},
            "Email": {"unique": False},
            "External_Id__c": {"unique": True},
        }
        answer = conn.api(
            "POST", f"/connections/{conn.uuid}/actions/import", json=_document(indexes)
        )
        assert answer.status_code == 202, answer.get_json()
        conn.sync()
        assert {
            "hc_idx_contact_email",
            "hcu_idx_contact_external_id__c",
            "hcu_idx_contact_sfid",
            "hc_idx_contact_systemmodstamp",
        } <= _indexes(conn)
        exported = conn.api("GET", f"/connections/{conn.uuid}/actions/export").get_json()
        assert exported["mappings"][0]["config"]["indexes"] == indexes

        del indexes["Email"]
        answer = conn.api(
            "POST", f"/connections/{conn.uuid}/actions/import", json=_document(indexes)
        )
        assert answer.status_code == 202, answer.get_json()
        conn.until(
            lambda: "hc_idx_contact_email" not in _indexes(conn), "the dropped index goes away"
        )
        assert "hcu_idx_contact_external_id__c" in _indexes(conn)
    finally:
        tear_down(conn)


def test_bad_indexes_are_refused(app, standin):
    conn = set_up(app, standin)
    try:
        for indexes, words in (
            ({"Phone": {"unique": False}}, "Phone is not a mapped field"),
            ({"Email": {"unique": "yes"}}, "Email must be"),
            ({"Email": {"unique": True}}, "not unique in Salesforce"),
            (["Email"], "indexes must be an object"),
        ):
            answer = conn.api(
                "POST", f"/connections/{conn.uuid}/actions/import", json=_document(indexes)
            )
            assert answer.status_code == 422, (indexes, answer.get_json())
            assert words in answer.get_json()["message"]
        assert conn.state()["mappings"] == []
    finally:
        tear_down(conn)


def test_connection_export_and_mappings_carry_heroku_connects_fields(app, standin):
    conn = set_up(app, standin)
    try:
        conn.map("Contact", fields={"LastName": {}}, sf_polling_seconds=1)
        conn.sync()
        exported = conn.api("GET", f"/connections/{conn.uuid}/actions/export").get_json()
        header = exported["connection"]
        assert header["api_version"] == conn.state()["sf_info"]["api_version"]
        assert isinstance(header["logplex_log_enabled"], bool)
        assert set(header["features"]) == {
            "disable_bulk_writes",
            "poll_db_no_merge",
            "poll_external_ids",
            "rest_count_only",
            "ucs_basic_collation_index",
        }
        info = conn.state()
        assert info["mappings_summary_state"] == "OK"
        assert info["addon_id"] == conn.uuid
        assert info["bulk_page_size"] > 0 and isinstance(info["logplex_log_enabled"], bool)
        # Heroku's CLI reads a connection through its detail_url (with ?deep=true) and a
        # mapping's write errors through its errors_url.
        path = info["detail_url"].split("/connect/api/v3", 1)[1]
        assert conn.api("GET", f"{path}?deep=true").get_json()["id"] == conn.uuid
        mapping = info["mappings"][0]
        assert mapping["has_hc_columns"] is True and mapping["actively_writing"] is False
        assert mapping["salesforce_count_date"] and mapping["db_count_date"]
        for key in ("detail_url", "errors_url"):
            answer = conn.api("GET", mapping[key].split("/connect/api/v3", 1)[1])
            assert answer.status_code == 200, (key, answer.get_json())
        assert conn.api("GET", mapping["errors_url"].split("/connect/api/v3", 1)[1]).get_json() == {
            "count": 0,
            "results": [],
        }
    finally:
        tear_down(conn)
