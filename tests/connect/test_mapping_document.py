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
