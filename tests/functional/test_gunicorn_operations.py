"""The broker as it is deployed: gunicorn (gunicorn.conf.py: its asyncio worker and the app's
bridge) with two workers and a job worker process, sharing one PROMETHEUS_MULTIPROC_DIR. A
scrape of any web worker counts every process; gunicorn's own log lines are JSON."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest
import requests

from tests.async_support import ROOT, queue_name, worker_env
from tests.metrics_support import Scrape
from tests.support import (
    ENCRYPTION_KEY,
    PartnerClient,
    admin_url,
    basic_auth,
    build_app,
    name_prefix,
    wait_until,
)

pytestmark = pytest.mark.backend


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(url: str) -> Scrape:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def test_gunicorn_workers_and_the_job_worker_are_counted_together(sqlite_url, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_999999999.db"  # left by a process of an earlier run
    stale.write_bytes(b"\0" * 64)
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    app = build_app(
        sqlite_url, MARKETPLACE_ADDONS=["postgres"], QUEUE_URL=queue_url, QUEUE_NAME=queue_name()
    )
    partner = PartnerClient(app.test_client(), app, "postgres")  # for the manifest's password
    env = {
        **os.environ,
        **worker_env(sqlite_url, queue_url, "http://127.0.0.1:9"),
        "BACKEND_NAME_PREFIX": name_prefix(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_LEVEL": "INFO",
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    headers = basic_auth("postgres", partner.manifest["api"]["password"])
    with access_log.open("wb") as out, error_log.open("wb") as err:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "-"],
            cwd=ROOT, env=env, stdout=out, stderr=err,
        )
    job_worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    ids: list[str] = []
    try:
        wait_until(lambda: _ready(url), timeout=60, what="gunicorn answers")
        assert not stale.exists()  # the master emptied the directory of the earlier run
        before = _scrape(url)
        for n in range(4):
            body = partner.provision_body()
            response = requests.post(
                f"{url}/heroku/resources", json=body, headers={**headers, "X-Request-Id": f"r-{n}"},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            ids.append(body["uuid"])
        with app.app_context():  # a job only the worker process runs
            from marketplace.context import broker

            broker().queue.enqueue_drive(str(uuid.uuid4()))

        def counted() -> Scrape | None:
            scrape = _scrape(url)
            return scrape if scrape.moved(before, "marketplace_async_drives_total") >= 1 else None

        after = wait_until(counted, timeout=60, what="the worker's drive shows in a scrape")
        ops = {"addon": "postgres", "operation": "provision", "outcome": "provisioned"}
        assert after.moved(before, "marketplace_partner_api_operations_total", **ops) == 4
        assert after.moved(before, "marketplace_async_drives_total") == 1  # from the worker
        for _ in range(4):  # whichever worker answers, the sums are the same
            assert _scrape(url).value("marketplace_partner_api_operations_total", **ops) == (
                after.value("marketplace_partner_api_operations_total", **ops)
            )
        assert after.value("marketplace_resources", addon="postgres", state="provisioned") == 4
        pids = {path.name.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
        assert str(job_worker.pid) in {pid.removesuffix(".db") for pid in pids}
    finally:
        for addon_uuid in ids:
            requests.delete(f"{url}/heroku/resources/{addon_uuid}", headers=headers, timeout=60)
        for process in (job_worker, web):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)

    out, err = access_log.read_bytes(), error_log.read_bytes()
    access = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    provisions = [a for a in access if a.get("path") == "/heroku/resources"]
    assert sorted(a["request_id"] for a in provisions) == ["r-0", "r-1", "r-2", "r-3"]
    assert all(a["status"] == 200 and a["method"] == "POST" for a in provisions)
    assert all("duration_ms" in a and a["logger"] == "gunicorn.access" for a in provisions)
    errors = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    gunicorn_lines = [e for e in errors if e.get("logger") == "gunicorn.error"]
    assert any("Booting worker" in e["event"] for e in gunicorn_lines)
    assert all(line.startswith("{") for line in err.decode().splitlines() if line.strip())
    assert partner.manifest["api"]["password"] not in out.decode() + err.decode()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or a worker still loading the app
        return False


def test_the_metrics_directory_is_kept_while_another_process_writes_there(tmp_path):
    from marketplace.metrics.exposition import prepare_multiprocess_dir

    live = tmp_path / f"counter_{os.getppid()}.db"  # our parent is alive
    dead = tmp_path / "counter_999999999.db"
    live.write_bytes(b"")
    dead.write_bytes(b"")
    assert prepare_multiprocess_dir(str(tmp_path)) == 0
    assert live.exists() and dead.exists()  # sums keep going up: no reset for Prometheus
    live.unlink()
    assert prepare_multiprocess_dir(str(tmp_path)) == 1
    assert not dead.exists()
    assert admin_url() and ENCRYPTION_KEY  # the stack's settings are in place
