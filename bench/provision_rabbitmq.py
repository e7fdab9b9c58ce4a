"""Provision + deprovision through the broker's HTTP API vs the raw management API calls.

Run with `.venv/bin/python bench/provision_rabbitmq.py --cycles 40`. Both sides run
interleaved in one process against the local RabbitMQ, so drift hits them alike. The raw side
makes the adapter's calls (PUT vhost, two vhost limits, operator policy, user with a password
hash, its channel limit, permissions; DELETE vhost, DELETE user) over one keep-alive session;
the broker side adds the HTTP round trip, Basic auth, the store's row lock and commits, and
Fernet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addons.rabbitmq.adapter import (
    PLAN_POLICY,
    TENANT_CONFIGURE,
    plan_policy,
    user_limits,
    vhost_limits,
)
from addons.rabbitmq.management import HASHING_ALGORITHM, password_hash
from addons.rabbitmq.plans import DEFAULT_MANAGEMENT_URL as DEFAULT_RABBITMQ_MANAGEMENT_URL
from addons.rabbitmq.plans import SPEC
from bench.harness import floor_lines, interleaved, ratio_line, report, served_broker
from marketplace.adapters import random_password

GOAL_RATIO = 1.15
PLAN = SPEC.default_plan


def management_api() -> tuple[str, tuple[str, str]]:
    parts = urlsplit(os.environ.get("RABBITMQ_MANAGEMENT_URL", DEFAULT_RABBITMQ_MANAGEMENT_URL))
    base = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
    return base, (unquote(parts.username or ""), unquote(parts.password or ""))


def raw_cycle(session: requests.Session, api: str) -> float:
    name = f"bench_{uuid.uuid4().hex[:16]}"
    calls: list[tuple[str, str, dict | None]] = [
        ("PUT", f"/vhosts/{name}", {"description": "bench"}),
        *(
            ("PUT", f"/vhost-limits/{name}/{limit}", {"value": value})
            for limit, value in vhost_limits(PLAN).items()
        ),
        (
            "PUT",
            f"/operator-policies/{name}/{PLAN_POLICY}",
            {"pattern": ".*", "apply-to": "queues", "priority": 0, "definition": plan_policy(PLAN)},
        ),
        (
            "PUT",
            f"/users/{name}",
            {
                "password_hash": password_hash(random_password(40)),
                "hashing_algorithm": HASHING_ALGORITHM,
                "tags": "",
            },
        ),
        *(
            ("PUT", f"/user-limits/{name}/{limit}", {"value": value})
            for limit, value in user_limits(PLAN).items()
        ),
        (
            "PUT",
            f"/permissions/{name}/{name}",
            {"configure": TENANT_CONFIGURE, "write": ".*", "read": ".*"},
        ),
        ("DELETE", f"/vhosts/{name}", None),
        ("DELETE", f"/users/{name}", None),
    ]
    started = time.perf_counter()
    for method, path, body in calls:
        response = session.request(method, api + path, json=body, timeout=30)
        if response.status_code >= 400:
            raise SystemExit(f"raw {method} {path} failed: {response.status_code}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()
    api, admin = management_api()

    with (
        tempfile.TemporaryDirectory() as scratch,
        served_broker(Path(scratch), "rabbitmq") as served,
        requests.Session() as raw_session,
    ):
        raw_session.auth = admin
        raw_session.trust_env = False  # as the adapter's sessions: no environment lookups
        series = interleaved(
            served, PLAN.slug, args.cycles, {"raw API": lambda: raw_cycle(raw_session, api)}
        )

    print(f"plan {PLAN.slug}")
    report(series, args.cycles)
    raw, floor, broker = series["raw API"], series["floor"], series["broker"]
    ratio = ratio_line(broker, raw, "raw API", GOAL_RATIO)
    floor_lines(broker, floor, raw, "raw API")
    print("PASS" if ratio < GOAL_RATIO else "OVER GOAL")


if __name__ == "__main__":
    main()
