"""Heroku Connect's trigger semantics as an app sees them: every write of the app's is
``PENDING`` until Connect has dealt with it, and a row the app touched still follows
Salesforce once nothing of the app's is left to send."""

from __future__ import annotations

import pytest

from tests.connect.support import map_contacts, set_up, tear_down

pytestmark = pytest.mark.backend



def test_an_app_write_is_pending_whatever_lastop_it_sets(app, standin):
    conn = set_up(app, standin)
    try:
        map_contacts(conn)
        conn.sync()
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, external_id__c, _hc_lastop, _hc_err) "
            "VALUES ('Hopper', 'lastop-1', 'SYNCED', 'x')"
        )
        assert conn.sql(
            "SELECT _hc_lastop, _hc_err FROM salesforce.contact WHERE external_id__c = 'lastop-1'"
        ) == [("PENDING", None)]
        conn.until(
            lambda: conn.sql(
                "SELECT 1 FROM salesforce.contact WHERE external_id__c = 'lastop-1' "
                "AND _hc_lastop = 'INSERTED'"
            ),
            "the insert is written to Salesforce",
        )
        conn.sql(
            "UPDATE salesforce.contact SET lastname = 'Hopper II', _hc_lastop = 'SYNCED' "
            "WHERE external_id__c = 'lastop-1'"
        )
        assert conn.sql(
            "SELECT _hc_lastop FROM salesforce.contact WHERE external_id__c = 'lastop-1'"
        ) == [("PENDING",)]
        conn.until(
            lambda: conn.sql(
                "SELECT 1 FROM salesforce.contact WHERE external_id__c = 'lastop-1' "
                "AND _hc_lastop = 'UPDATED'"
            ),
            "the update is written to Salesforce",
        )
        sent = [
            r for r in standin.admin.list_records("Contact") if r["External_Id__c"] == "lastop-1"
        ]
        assert [r["LastName"] for r in sent] == ["Hopper II"]
    finally:
        tear_down(conn)


def test_capture_helpers_need_the_rows_id(app, standin):
    conn = set_up(app, standin)
    try:
        map_contacts(conn)
        conn.sync()
        assert conn.sql(
            "SELECT salesforce.hc_capture_insert_from_row(hstore('lastname', 'x'), 'contact'), "
            "salesforce.hc_capture_update_from_row(hstore('lastname', 'x'), 'contact')"
        ) == [(None, None)]
        assert conn.sql("SELECT count(*) FROM salesforce._trigger_log") == [(0,)]
        # id and sfid are never excluded from a re-captured insert.
        row_id, sfid = conn.sql("SELECT id, sfid FROM salesforce.contact LIMIT 1")[0]
        log_id = conn.sql(
            "SELECT salesforce.hc_capture_insert_from_row(hstore(c.*), 'contact', "
            "ARRAY['id', 'sfid', 'email']) FROM salesforce.contact c WHERE c.id = %s",
            (row_id,),
        )[0][0]
        values = conn.sql(
            "SELECT record_id, state, hstore(\"values\") -> 'sfid', "
            "hstore(\"values\") ? 'email' FROM salesforce._trigger_log WHERE id = %s",
            (log_id,),
        )
        assert values == [(row_id, "NEW", sfid, False)]
    finally:
        tear_down(conn)


def test_rows_the_app_touched_still_follow_salesforce(app, standin):
    conn = set_up(app, standin)
    try:
        map_contacts(conn)
        conn.map(
            "Lead", access="read_only", fields={"LastName": {}, "Company": {}}, sf_polling_seconds=1
        )
        conn.sync()
        lead = conn.sql("SELECT sfid FROM salesforce.lead ORDER BY sfid LIMIT 1")[0][0]
        contact = conn.sql("SELECT sfid FROM salesforce.contact ORDER BY sfid LIMIT 1")[0][0]
        # A write to a read-only mapping is captured as READONLY and never sent...
        conn.sql("UPDATE salesforce.lead SET company = 'Local' WHERE sfid = %s", (lead,))
        # ...and an UPDATE that changes nothing leaves nothing to send.
        conn.sql("UPDATE salesforce.contact SET lastname = lastname WHERE sfid = %s", (contact,))
        assert conn.sql(
            "SELECT l._hc_lastop, c._hc_lastop FROM salesforce.lead l, salesforce.contact c "
            "WHERE l.sfid = %s AND c.sfid = %s",
            (lead, contact),
        ) == [("PENDING", "PENDING")]
        standin.admin.update_record("Lead", lead, {"Company": "From Salesforce"})
        standin.admin.update_record("Contact", contact, {"Email": "from-sf@example.com"})
        conn.until(
            lambda: (
                conn.sql(
                    "SELECT l.company, l._hc_lastop, c.email, c._hc_lastop "
                    "FROM salesforce.lead l, salesforce.contact c "
                    "WHERE l.sfid = %s AND c.sfid = %s",
                    (lead, contact),
                )
                == [("From Salesforce", "SYNCED", "from-sf@example.com", "SYNCED")]
            ),
            "Salesforce's changes reach both rows",
        )
    finally:
        tear_down(conn)
