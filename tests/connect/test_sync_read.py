"""Salesforce -> Postgres: the initial load, then polling for inserts, updates and deletes."""

from __future__ import annotations

import pytest

from tests.connect.support import set_up, tear_down
from tests.support import wait_until

pytestmark = pytest.mark.backend


def test_read_only_mapping_loads_and_follows_salesforce(app, standin):
    conn = set_up(app, standin)
    try:
        assert conn.state()["state"] == "IDLE"
        conn.map(
            "Contact",
            access="read_only",
            fields={"LastName": {}, "Email": {}},
            sf_polling_seconds=1,
        )
        conn.sync()
        live = standin.admin.list_records("Contact")
        rows = conn.sql("SELECT sfid, lastname, email, _hc_lastop FROM salesforce.contact")
        assert {r[0] for r in rows} == {r["Id"] for r in live}
        assert {r[3] for r in rows} == {"SYNCED"}
        mapping = conn.mapping("Contact")
        assert mapping["state"] == "DATA_SYNCED"
        assert mapping["counts"]["db"] == mapping["counts"]["sf"] == len(live)

        created = standin.admin.create_record("Contact", {"LastName": "Lovelace"})
        standin.admin.update_record("Contact", live[0]["Id"], {"LastName": "Renamed"})
        standin.admin.delete_record("Contact", live[1]["Id"])

        def synced():
            conn.tick()
            names = dict(conn.sql("SELECT sfid, lastname FROM salesforce.contact"))
            return (
                names.get(created) == "Lovelace"
                and names.get(live[0]["Id"]) == "Renamed"
                and live[1]["Id"] not in names
            )

        wait_until(synced, what="the poll brings the insert, update and delete")
        # The engine's own writes are not captured.
        assert conn.sql("SELECT count(*) FROM salesforce._trigger_log")[0][0] == 0
    finally:
        tear_down(conn)
