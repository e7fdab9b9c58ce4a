"""Connect's sync events in the app's log stream (Heroku Connect's Logplex lines): mapping and
connection state changes, from real ticks and actions, through the local platform's log input."""

from __future__ import annotations

import pytest

from addons.connect.log_events import changes
from tests.async_support import local_platform, log_messages, stream_logs
from tests.connect.support import set_up, tear_down


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


def test_mapping_and_connection_state_changes_reach_the_apps_log_stream(app, standin, platform):
    conn = set_up(app, standin)
    try:
        stream_logs(app, conn.uuid, platform, "crm-web")
        conn.map("Account")
        conn.sync()
        assert conn.mapping("Account")["state"] == "DATA_SYNCED"
        paused = conn.api("POST", f"/connections/{conn.uuid}/actions/pause")
        assert paused.status_code == 202, paused.get_json()
        lines = log_messages(app, platform, "crm-web")
    finally:
        tear_down(conn)
    synced = [line for line in lines if line.startswith('event="Account DATA_SYNCED"')]
    assert len(synced) == 1, lines
    assert synced[0] == (
        f'event="Account DATA_SYNCED" addon_id={conn.uuid} addon=connect plan=shield'
        f" state=DATA_SYNCED object_type=mapping object_id={conn.uuid}.Account level=info"
    )
    assert any(
        line.startswith('event="connection PAUSED"') and "state=PAUSED" in line for line in lines
    ), lines
    assert not any("access_token" in line or "refresh_token" in line for line in lines)


def test_only_changes_make_lines_and_load_steps_stay_quiet():
    before = {
        "connection": {"state": "IDLE"},
        "mappings": {"Account": {"state": "RELOAD_TABLE"}, "Lead": {"state": "DATA_SYNCED"}},
        "errors": [{"at": "t1", "mapping": None, "message": "old"}],
    }
    busy = {**before, "connection": {"state": "BUSY"}}
    assert changes("r", before, busy) == ()  # a load step's IDLE -> BUSY flip
    assert changes("r", before, None) == ()
    after = {
        "connection": {"state": "NEED_AUTHENTICATION"},
        "mappings": {"Account": {"state": "ROW_LIMIT_EXCEEDED"}},
        "errors": [*before["errors"], {"at": "t2", "mapping": "Account", "message": "limit"}],
    }
    lines = {event.name: event.fields for event in changes("r", before, after)}
    assert set(lines) == {
        "connection NEED_AUTHENTICATION",
        "Account ROW_LIMIT_EXCEEDED",
        "Lead DELETED",
        "Account ERROR",
    }
    assert lines["Account ROW_LIMIT_EXCEEDED"]["level"] == "error"
    assert lines["Account ERROR"]["message"] == "limit"
    assert lines["Lead DELETED"]["object_id"] == "r.Lead"
