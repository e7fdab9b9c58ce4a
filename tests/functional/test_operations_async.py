"""Operating the asynchronous flow on a real PostgreSQL: metrics move with the worker's steps,
retries and the reconciler; the add-on's events reach the app's log stream on the local
platform (and `platform logs`), with the drain token and without a secret."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from marketplace.services.events import EXTENSION_KEY
from marketplace.services.jobs import reconcile_once
from standins.platform.cli import platform as platform_commands
from tests.async_support import async_overrides, in_process_worker, local_platform
from tests.metrics_support import scrape
from tests.support import build_app, live_server, wait_until

pytestmark = pytest.mark.backend


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


def test_async_steps_retries_reconciler_and_log_lines(sqlite_url, tmp_path, platform, monkeypatch):
    app = build_app(sqlite_url, **async_overrides(platform.url, f"sqlite:///{tmp_path / 'q.db'}"))
    client = app.test_client()
    before = scrape(client)
    platform.fault("PATCH", "/addons/", status=500, times=1)  # one retry of "configure"
    with live_server(app) as broker_url, in_process_worker(app):
        platform.register(app, broker_url)
        addon_uuid = platform.create()["addon"]["uuid"]
        assert platform.wait_for_state(addon_uuid, {"provisioned", "failed"}) == "provisioned"
        config = platform.store.addon(addon_uuid)["config"]
        wait_until(
            lambda: scrape(client).moved(before, "marketplace_async_steps_total", step="activate"),
            what="the worker counted its last step",
        )
        with app.app_context():
            reconcile_once()
        destroyed = platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")
        assert destroyed["status"] == 204
        assert app.extensions[EXTENSION_KEY].sender.flush(30)
    after = scrape(client)

    steps = "marketplace_async_steps_total"
    for step in ("authorize", "allocate", "configure", "activate"):
        assert after.moved(before, steps, addon="postgres", step=step, outcome="done") == 1
    assert after.moved(before, steps, step="configure", outcome="retry") == 1
    assert after.moved(before, "marketplace_async_retries_total", step="configure") == 1
    assert after.moved(before, "marketplace_async_drives_total", outcome="provisioned") == 1
    assert after.moved(before, "marketplace_reconciler_runs_total", outcome="ok") == 1
    assert after.moved(before, "marketplace_reconciler_run_duration_seconds_count") == 1
    ops = "marketplace_partner_api_operations_total"
    assert after.moved(before, ops, operation="provision", outcome="accepted") == 1
    assert after.moved(before, "marketplace_partner_api_backend_duration_seconds_sum",
                       operation="deprovision") > 0  # dropping a database takes time

    lines = platform.store.log_lines("demo")
    assert [line["message"].split()[0] for line in lines] == [
        "event=provisioned",
        "event=deprovisioned",
    ]
    drain = platform.store.log_input(addon_uuid)
    assert {line["hostname"] for line in lines} == {drain["drain_token"]}
    password = urlsplit(config["DATABASE_URL"]).password
    for line in lines:
        assert config["DATABASE_URL"] not in line["message"] and password not in line["message"]
        assert drain["token"] not in line["message"]

    monkeypatch.setenv("LOCAL_PLATFORM_URL", platform.url)
    shown = app.test_cli_runner().invoke(platform_commands, ["logs", "demo"])
    assert shown.exit_code == 0, shown.output
    assert f"app[postgres]: event=provisioned addon_id={addon_uuid} addon=postgres" in shown.output
    assert "state=deprovisioned" in shown.output.splitlines()[-1]
