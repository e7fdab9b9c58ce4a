"""8 platform clients provisioning and deprovisioning at once, with the store on PostgreSQL.

The broker runs as the Procfile's web process (gunicorn.conf.py: 2 workers, 4 app threads) on a
throwaway PostgreSQL store database, with the real Postgres adapter on the local stack and a
backend name prefix of its own. Each client loops provision + deprovision for a bounded time;
every call's latency is recorded. Goal: p95 per call under 3 s, no failure. Everything made
(tenant databases and roles, the store database) is removed at the end. Run with
``make bench`` or ``.venv/bin/python bench/concurrency.py --seconds 20``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import requests
from psycopg import sql

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import p95
from bench.servers import BIN, ROOT, broker_env, postgres_store, release, web_process
from tests.support import admin_url, basic_auth

GOAL_P95_SECONDS = 3.0
PREFIX = f"mkt_bconc{uuid.uuid4().hex[:4]}_"


def partner_password(env: dict[str, str]) -> str:
    """The postgres add-on's API password, from the manifest command."""
    output = subprocess.run(
        [str(BIN / "flask"), "--app", "app", "addons", "manifest", "postgres"],
        cwd=ROOT, env={**env, "LOG_LEVEL": "WARNING"}, check=True, capture_output=True, text=True,
    ).stdout
    return str(json.loads(output)["api"]["password"])


def client_loop(
    base: str, headers: dict[str, str], until: float, calls: list[float], failures: list[str]
) -> None:
    """Provision then deprovision until ``until``, recording each call."""
    with requests.Session() as session:
        while time.monotonic() < until:
            resource = str(uuid.uuid4())
            body = {
                "uuid": resource, "plan": "essential-0", "region": "amazon-web-services::us-east-1",
                "callback_url": "https://api.example.com/addons/x", "options": {},
                "name": "bench-concurrency", "oauth_grant": None,
            }
            for method, url, expected, payload in (
                ("POST", f"{base}/heroku/resources", 200, body),
                ("DELETE", f"{base}/heroku/resources/{resource}", 204, None),
            ):
                started = time.perf_counter()
                try:
                    answer = session.request(method, url, json=payload, headers=headers, timeout=60)
                    status = answer.status_code
                except requests.RequestException as error:
                    status, answer = -1, None
                    failures.append(f"{method}: {error}")
                calls.append(time.perf_counter() - started)
                if status != expected and status != -1:
                    failures.append(f"{method} {status}: {answer.text[:200] if answer else ''}")
                    break


def remove_tenants() -> int:
    """Drop every database and role carrying this run's prefix; return how many."""
    removed = 0
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (PREFIX,)
        ).fetchall():
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            removed += 1
        for (name,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (PREFIX,)
        ).fetchall():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            removed += 1
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    calls: list[float] = []
    failures: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as scratch_name, postgres_store() as store_url:
            scratch = Path(scratch_name)
            env = broker_env(scratch, store_url, PREFIX, LOG_LEVEL="WARNING")
            release(env)
            headers = basic_auth("postgres", partner_password(env))
            with web_process("app:web", env, scratch / "web.log", "/api/addon-services") as base:
                until = time.monotonic() + args.seconds
                work = (base, headers, until, calls, failures)
                clients = [
                    threading.Thread(target=client_loop, args=work) for _ in range(args.clients)
                ]
                for client in clients:
                    client.start()
                for client in clients:
                    client.join()
    finally:
        left = remove_tenants()
    print(f"{args.clients} clients, {args.seconds:.0f} s, PostgreSQL store, web process 2 x 4")
    print(f"calls: {len(calls)}  failures: {len(failures)}  leftovers removed: {left}")
    for failure in failures[:5]:
        print(f"  {failure}")
    if len(calls) >= 2:
        print(f"per call: median {statistics.median(calls) * 1000:.0f} ms   "
              f"p95 {p95(calls) * 1000:.0f} ms   max {max(calls) * 1000:.0f} ms  "
              f"goal p95 < {GOAL_P95_SECONDS * 1000:.0f} ms")
    ok = bool(calls) and not failures and p95(calls) < GOAL_P95_SECONDS
    print("PASS" if ok else "OVER GOAL")


if __name__ == "__main__":
    main()
