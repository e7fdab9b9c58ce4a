"""The floor: the thinnest Partner API the product card allows, for the provisioning benchmarks.

``gunicorn -c gunicorn.conf.py bench.floor_app:web`` serves it exactly as the Procfile serves
the broker (the asyncio worker and the buffering bridge), in front of the same adapter built
from the same settings (``FLOOR_ADDON`` names it). Per request it does what any broker must:

* provision: check Basic auth, read the JSON body, commit the intent (one INSERT), call the
  adapter, commit the outcome with the config Fernet-encrypted and a usage row, answer JSON;
* deprovision: check Basic auth, take the row (one UPDATE, committed), call the adapter,
  commit the removal and a usage row, answer 204.

It has none of the broker's guarantees (idempotent retries, leases that expire, 4xx for bad
input, events, metrics, async plans, links), so ``floor / raw`` is what Flask, one HTTP hop
and two commits per call cost on this machine, and ``broker / floor`` is what those
guarantees cost. Environment: the broker's (``DATABASE_URL`` is not used), plus
``FLOOR_ADDON`` (the slug), ``FLOOR_STORE`` (a SQLite file) and ``FLOOR_PASSWORD`` (the
add-on's Partner API password).
"""

from __future__ import annotations

import hmac
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask, Response, abort, jsonify, request

from marketplace.adapters import ProvisionRequest, ResourceRef, discover_adapter_factories
from marketplace.config import load_config
from marketplace.serving import BufferingBridge

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS resources (uuid TEXT PRIMARY KEY, plan TEXT NOT NULL, "
    "region TEXT NOT NULL, state TEXT NOT NULL, config BLOB, lease_owner TEXT, "
    "lease_expires_at REAL)",
    "CREATE TABLE IF NOT EXISTS usage_records (id INTEGER PRIMARY KEY, resource_uuid TEXT "
    "NOT NULL, kind TEXT NOT NULL, occurred_at REAL NOT NULL)",
)
LEASE_SECONDS = 60.0

_config = load_config(str(Path(os.environ["FLOOR_STORE"]).parent))
_plugin = discover_adapter_factories([os.environ["FLOOR_ADDON"]])[os.environ["FLOOR_ADDON"]]
_adapter = _plugin(_config)
_fernet = Fernet(json.loads(os.environ["ENCRYPTION_KEYS"])[0])
_password = os.environ["FLOOR_PASSWORD"]
_local = threading.local()

app = Flask(__name__)


def _store() -> sqlite3.Connection:
    """This thread's connection (autocommit mode: transactions are explicit)."""
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ["FLOOR_STORE"], isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            conn.execute(statement)
        _local.conn = conn
    return conn


def _commit(*statements: tuple[str, tuple[Any, ...]]) -> None:
    conn = _store()
    conn.execute("BEGIN IMMEDIATE")
    for text, params in statements:
        conn.execute(text, params)
    conn.execute("COMMIT")


@app.before_request
def _authenticate() -> Response | None:
    if request.path == "/healthz":
        return None
    auth = request.authorization
    if auth is None or not hmac.compare_digest((auth.password or "").encode(), _password.encode()):
        return Response(status=401)
    return None


@app.get("/healthz")
def healthz() -> str:
    """Ready (the benchmark waits for it)."""
    return "ok"


@app.post("/heroku/resources")
def provision() -> Response:
    """The intent, the adapter, the outcome."""
    body = request.get_json()
    plan = _plugin.spec.plan(body["plan"])
    if plan is None:
        abort(422)
    uuid = body["uuid"]
    _commit(
        (
            "INSERT INTO resources VALUES (?, ?, ?, 'provisioning', NULL, 'request', ?)",
            (uuid, plan.slug, body["region"], time.time() + LEASE_SECONDS),
        )
    )
    result = _adapter.provision(ProvisionRequest(uuid, plan, body["region"], {}, body["name"]))
    config = dict(result.config)
    _commit(
        (
            "UPDATE resources SET state = 'provisioned', config = ?, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE uuid = ?",
            (_fernet.encrypt(json.dumps(config).encode()), uuid),
        ),
        (
            "INSERT INTO usage_records (resource_uuid, kind, occurred_at) VALUES (?, ?, ?)",
            (uuid, "provisioned", time.time()),
        ),
    )
    return jsonify({"id": uuid, "config": config, "message": result.message})


@app.delete("/heroku/resources/<uuid>")
def deprovision(uuid: str) -> Response:
    """Take the row, the adapter, forget it."""
    _commit(
        (
            "UPDATE resources SET state = 'deprovisioning', lease_owner = 'request', "
            "lease_expires_at = ? WHERE uuid = ?",
            (time.time() + LEASE_SECONDS, uuid),
        )
    )
    row = (
        _store()
        .execute("SELECT plan, region, config FROM resources WHERE uuid = ?", (uuid,))
        .fetchone()
    )
    if row is None:
        abort(410)
    plan = _plugin.spec.plan(row[0])
    assert plan is not None
    config = json.loads(_fernet.decrypt(row[2])) if row[2] else {}
    _adapter.deprovision(ResourceRef(uuid, plan, row[1], config))
    _commit(
        (
            "UPDATE resources SET state = 'deprovisioned', config = NULL, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE uuid = ?",
            (uuid,),
        ),
        (
            "INSERT INTO usage_records (resource_uuid, kind, occurred_at) VALUES (?, ?, ?)",
            (uuid, "deprovisioned", time.time()),
        ),
    )
    return Response(status=204)


web = BufferingBridge(app, max_body=1 << 20, threads=int(os.environ.get("WEB_THREADS", "4")))
