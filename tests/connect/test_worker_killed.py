"""A worker killed mid-batch (a real process, SIGKILL) loses no write and duplicates none."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from marketplace.context import broker
from standins.salesforce import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.async_support import worker_process
from tests.connect.conftest import connect_app
from tests.connect.support import drive, set_up, tear_down
from tests.support import ENCRYPTION_KEY, admin_url, name_prefix, remove_leftovers, wait_until

pytestmark = pytest.mark.backend


class HoldWrites:
    """WSGI middleware on the stand-in: a collection write is applied, then its answer is held
    until released (the worker is killed meanwhile, so it never learns the outcome)."""

    def __init__(self, inner):
        self.inner = inner
        self.applied = threading.Event()
        self.release = threading.Event()
        self.writes = 0

    def __call__(self, environ, start_response):
        is_write = "/composite/sobjects" in environ.get("PATH_INFO", "") and environ.get(
            "REQUEST_METHOD"
        ) in ("POST", "PATCH", "DELETE")
        body = list(self.inner(environ, start_response))
        if is_write:
            self.writes += 1
            self.applied.set()
            self.release.wait(timeout=60)
        return body


def test_kill_mid_batch_then_restart_writes_each_change_once(tmp_path, standin):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    queue = f"sqlite:///{tmp_path / 'queue.db'}"
    app = connect_app(store, standin, QUEUE_URL=queue, JOB_LEASE_SECONDS=2)
    conn = set_up(app, standin)
    worker = None
    hold = HoldWrites(standin._server.app)
    try:
        conn.map(
            "Contact",
            access="read_write",
            upsert_field="External_Id__c",
            fields={"LastName": {}, "External_Id__c": {}},
            sf_polling_seconds=1,
        )
        conn.sync()
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, external_id__c) "
            "SELECT 'Kill ' || n, 'kill-' || n FROM generate_series(1, 30) n"
        )
        standin._server.app = hold
        worker = worker_process(
            {
                "DATABASE_URL": store,
                "QUEUE_URL": queue,
                "SECRET_KEY": "test-secret-key",
                "ENCRYPTION_KEYS": ENCRYPTION_KEY,
                "POSTGRES_ADMIN_URL": admin_url(),
                "MARKETPLACE_ADDONS": "postgres,connect",
                "BACKEND_NAME_PREFIX": name_prefix(),
                "SALESFORCE_LOGIN_URL": standin.url,
                "SALESFORCE_CLIENT_ID": DEFAULT_CLIENT_ID,
                "SALESFORCE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                "CONNECT_MIN_POLL_SECONDS": "1",
                "JOB_LEASE_SECONDS": "2",
                "REQUESTS_CA_BUNDLE": standin.ca_bundle,
                "MARKETPLACE_URL": "http://localhost",
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            broker().queue.enqueue_tick(conn.uuid, 0.0)
        assert hold.applied.wait(timeout=60), "the worker never wrote to Salesforce"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        hold.release.set()
        in_salesforce = [
            r
            for r in standin.admin.list_records("Contact")
            if (r.get("External_Id__c") or "").startswith("kill-")
        ]
        assert len(in_salesforce) == 30  # Salesforce applied the batch ...
        pending = conn.sql("SELECT count(*) FROM salesforce._trigger_log WHERE state = 'PENDING'")
        assert pending[0][0] == 30  # ... and the worker died before acknowledging it
        hold.applied.clear()

        # The lease lapses; the next tick reconciles instead of sending again.
        wait_until(lambda: drive(app, conn.uuid) == "ticked", what="the lease lapses")
        assert hold.writes == 1
        in_salesforce = [
            r
            for r in standin.admin.list_records("Contact")
            if (r.get("External_Id__c") or "").startswith("kill-")
        ]
        assert sorted(r["External_Id__c"] for r in in_salesforce) == sorted(
            f"kill-{n}" for n in range(1, 31)
        )
        rows = dict(
            conn.sql(
                "SELECT external_id__c, sfid FROM salesforce.contact "
                "WHERE external_id__c LIKE 'kill-%'"
            )
        )
        assert rows == {r["External_Id__c"]: r["Id"] for r in in_salesforce}
        assert conn.sql("SELECT count(*) FROM salesforce._trigger_log")[0][0] == 0
        assert (
            conn.sql(
                "SELECT count(*) FROM salesforce._trigger_log_archive WHERE state = 'SUCCESS'"
            )[0][0]
            == 30
        )
    finally:
        hold.release.set()
        standin._server.app = hold.inner
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
        tear_down(conn)
        remove_leftovers(app)
