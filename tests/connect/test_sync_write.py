"""Postgres -> Salesforce: inserts, updates, deletes; a validation error; pause and resume."""

from __future__ import annotations

import json

import pytest

from tests.connect.support import map_contacts, set_up, tear_down
from tests.support import wait_until

pytestmark = pytest.mark.backend



def _records(standin, ext_prefix: str) -> dict[str, dict]:
    return {
        r["External_Id__c"]: r
        for r in standin.admin.list_records("Contact")
        if (r.get("External_Id__c") or "").startswith(ext_prefix)
    }


def test_app_writes_reach_salesforce_once_and_errors_are_reported(app, standin):
    conn = set_up(app, standin)
    try:
        map_contacts(conn)
        conn.sync()
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, email, external_id__c) VALUES "
            "('Hopper', 'grace@example.com', 'app-1'), ('Turing', NULL, 'app-2')"
        )
        assert {
            r[0]
            for r in conn.sql(
                "SELECT _hc_lastop FROM salesforce.contact WHERE external_id__c LIKE 'app-%'"
            )
        } == {"PENDING"}
        conn.until(lambda: len(_records(standin, "app-")) == 2)
        sent = _records(standin, "app-")
        assert {k: v["LastName"] for k, v in sent.items()} == {"app-1": "Hopper", "app-2": "Turing"}
        rows = dict(
            conn.sql(
                "SELECT external_id__c, sfid FROM salesforce.contact "
                "WHERE external_id__c LIKE 'app-%'"
            )
        )
        assert rows == {k: v["Id"] for k, v in sent.items()}
        assert {
            r[0]
            for r in conn.sql(
                "SELECT _hc_lastop FROM salesforce.contact WHERE external_id__c LIKE 'app-%'"
            )
        } == {"INSERTED"}

        conn.sql(
            "UPDATE salesforce.contact SET email = 'alan@example.com' "
            "WHERE external_id__c = 'app-2'"
        )
        conn.sql("DELETE FROM salesforce.contact WHERE external_id__c = 'app-1'")
        conn.until(lambda: not conn.sql("SELECT 1 FROM salesforce._trigger_log"))
        sent = _records(standin, "app-")
        assert set(sent) == {"app-2"} and sent["app-2"]["Email"] == "alan@example.com"
        # Each change was written once: the archive holds exactly the three log rows.
        archived = conn.sql(
            "SELECT action, state FROM salesforce._trigger_log_archive "
            "WHERE state = 'SUCCESS' ORDER BY id"
        )
        assert archived == [
            ("INSERT", "SUCCESS"),
            ("INSERT", "SUCCESS"),
            ("UPDATE", "SUCCESS"),
            ("DELETE", "SUCCESS"),
        ]

        # A validation rule rejects one write; the next row still goes out.
        standin.admin.add_validation_rule(
            "Contact", "LastName", "Bad", "LastName may not be Bad", "LastName"
        )
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, external_id__c) VALUES ('Bad', 'app-3')"
        )
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, external_id__c) VALUES ('Good', 'app-4')"
        )
        conn.until(lambda: conn.sql("SELECT 1 FROM salesforce._trigger_log WHERE state = 'FAILED'"))
        lastop, err = conn.sql(
            "SELECT _hc_lastop, _hc_err FROM salesforce.contact WHERE external_id__c = 'app-3'"
        )[0]
        assert lastop == "FAILED"
        assert json.loads(err)["code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        assert "LastName may not be Bad" in json.loads(err)["msg"]
        assert conn.sql("SELECT state, sf_message FROM salesforce._trigger_log")[0][0] == "FAILED"
        assert set(_records(standin, "app-")) == {"app-2", "app-4"}
        errors = conn.api("GET", f"/connections/{conn.uuid}/errors").get_json()
        assert errors["count"] >= 1 and "LastName may not be Bad" in errors["results"][0]["message"]
        assert conn.mapping("Contact")["counts"]["errors"] == 1
    finally:
        tear_down(conn)


def test_pause_keeps_capturing_and_resume_delivers(app, standin):
    conn = set_up(app, standin)
    try:
        map_contacts(conn)
        conn.sync()
        paused = conn.api("POST", f"/connections/{conn.uuid}/actions/pause")
        assert paused.status_code == 202, paused.get_json()
        assert conn.state()["state"] == "PAUSED"
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, external_id__c) VALUES ('Paused', 'p-1')"
        )
        standin.admin.create_record("Contact", {"LastName": "WhilePaused"})
        conn.tick()
        assert _records(standin, "p-") == {}
        assert conn.sql("SELECT state FROM salesforce._trigger_log") == [("NEW",)]
        assert not conn.sql("SELECT 1 FROM salesforce.contact WHERE lastname = 'WhilePaused'")

        assert conn.api("POST", f"/connections/{conn.uuid}/actions/resume").status_code == 202
        conn.until(lambda: set(_records(standin, "p-")) == {"p-1"})
        wait_until(
            lambda: (
                conn.tick()
                and conn.sql("SELECT 1 FROM salesforce.contact WHERE lastname = 'WhilePaused'")
            ),
            what="the poll after resume brings Salesforce's change",
        )
    finally:
        tear_down(conn)
