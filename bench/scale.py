"""Flat at scale: provision, the dashboard and the catalog with 100,000 resources vs none.

For each store (SQLite, then a throwaway PostgreSQL database), the broker is served
in-process (werkzeug, threaded) and measured through HTTP on an empty store; then 100,000
resource rows are bulk-inserted straight into the store (spread over states, apps, API
tokens and tick times like a live broker's) and the same calls are measured again. The
add-on is the in-memory test adapter, so the figures are the broker's own work (HTTP, auth,
store, Fernet), which is what the number of rows could change. The catalog is measured with
``CATALOG_CHECK_SECONDS=0``, so every request reads the catalog version from the store.
Goal: every ratio within 1.1x. Run with ``make bench`` or ``.venv/bin/python bench/scale.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from sqlalchemy import insert, select, text

from bench.harness import broker_cycle
from bench.servers import postgres_store
from marketplace.extensions import db
from marketplace.models import Addon, Resource
from tests.memory import MemoryAdapter
from tests.support import PartnerClient, build_app, live_server

GOAL_RATIO = 1.1
ROWS = 100_000
STATES = ("provisioned",) * 16 + ("deprovisioned",) * 3 + ("failed",)


def bulk_insert(app: Flask, rows: int) -> None:
    """Insert ``rows`` resources of the memory add-on directly into the store."""
    now = datetime.now(UTC)
    with app.app_context():
        addon = db.session.scalar(select(Addon).where(Addon.slug == "memory"))
        assert addon is not None
        plan_id = addon.plans[0].id
        for start in range(0, rows, 10_000):
            batch = []
            for n in range(start, min(start + 10_000, rows)):
                state = STATES[n % len(STATES)]
                batch.append(
                    {
                        "id": str(uuid.uuid4()),
                        "uuid": str(uuid.uuid4()),
                        "addon_id": addon.id,
                        "plan_id": plan_id,
                        "name": f"bulk-{n}",
                        "region": "amazon-web-services::us-east-1",
                        "options": {},
                        "state": state,
                        "app_id": f"app-{n // 3}",
                        "attempts": 0,
                        "is_async": False,
                        "created_at": now,
                        "updated_at": now,
                        "next_tick_at": now + timedelta(minutes=n % 600) if n % 4 == 0 else None,
                        "api_token_hash": hashlib.sha256(f"bulk-{n}".encode()).hexdigest()
                        if n % 5 == 0
                        else None,
                    }
                )
            db.session.execute(insert(Resource), batch)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE resources"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()


def timed(call: Callable[[], object], times: int) -> list[float]:
    """Seconds per call of ``call``, ``times`` times."""
    values = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        values.append(time.perf_counter() - started)
    return values


def measure(app: Flask, base: str, cycles: int) -> dict[str, list[float]]:
    """Median-ready samples of provision+deprovision, a dashboard page and the catalog."""
    partner = PartnerClient(app.test_client(), app, "memory")
    figures: dict[str, list[float]] = {}
    with requests.Session() as session:
        figures["provision+deprovision"] = [
            broker_cycle(session, base, partner, "small") for _ in range(cycles)
        ]
        body = partner.provision_body(plan="small")
        created = session.post(
            f"{base}/heroku/resources", json=body, headers=partner.headers, timeout=30
        )
        created.raise_for_status()
        login = session.post(f"{base}/sso/login", data=partner.sso_form(body["uuid"]), timeout=30)
        login.raise_for_status()
        dashboard = f"{base}/dashboard/{body['uuid']}"

        def page() -> None:
            session.get(dashboard, timeout=30).raise_for_status()

        figures["dashboard page"] = timed(page, cycles * 2)
        with requests.Session() as anonymous:
            figures["catalog JSON"] = timed(
                lambda: anonymous.get(f"{base}/api/addon-services", timeout=30).raise_for_status(),
                cycles * 4,
            )
            figures["catalog page"] = timed(
                lambda: anonymous.get(f"{base}/addons?q=memory", timeout=30).raise_for_status(),
                cycles * 2,
            )
        session.delete(
            f"{base}/heroku/resources/{body['uuid']}", headers=partner.headers, timeout=30
        ).raise_for_status()
    return figures


def scale_app(store_url: str) -> Flask:
    """The broker with the memory add-on on ``store_url``."""
    return build_app(
        store_url,
        adapters=[MemoryAdapter()],
        LOG_LEVEL="WARNING",
        CATALOG_CHECK_SECONDS=0,
        BACKEND_NAME_PREFIX="mkt_bench_scale_",
    )


def run_store(label: str, stores: tuple[str, str], cycles: int, rows: int) -> list[float]:
    """Measure an empty and a full store side by side, interleaved in rounds so drift on a
    shared machine hits both alike; print the table; return the ratios."""
    empty_app, full_app = scale_app(stores[0]), scale_app(stores[1])
    started = time.perf_counter()
    bulk_insert(full_app, rows)
    print(f"{label}: inserted {rows:,} resources in {time.perf_counter() - started:.1f} s")
    empty: dict[str, list[float]] = {}
    full: dict[str, list[float]] = {}
    rounds = 5
    with live_server(empty_app) as empty_base, live_server(full_app) as full_base:
        measure(empty_app, empty_base, 3)  # warm-up
        measure(full_app, full_base, 3)
        for turn in range(rounds):
            sides = [(empty_app, empty_base, empty), (full_app, full_base, full)]
            for app, base, into in sides if turn % 2 == 0 else sides[::-1]:
                for name, values in measure(app, base, max(cycles // rounds, 1)).items():
                    into.setdefault(name, []).extend(values)
    for app in (empty_app, full_app):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    ratios = []
    print(f"{label:<10} {'call':<24} {'empty ms':>9} {f'{rows:,} ms':>12} {'ratio':>6}")
    for name, values in empty.items():
        before, after = statistics.median(values) * 1000, statistics.median(full[name]) * 1000
        ratios.append(after / before)
        print(f"{label:<10} {name:<24} {before:9.2f} {after:12.2f} {after / before:6.2f}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ratios: list[float] = []
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as scratch:
            stores = (f"sqlite:///{scratch}/empty.db", f"sqlite:///{scratch}/full.db")
            ratios += run_store("sqlite", stores, args.cycles, args.rows)
    if args.store in ("postgres", "both"):
        with postgres_store() as empty_url, postgres_store() as full_url:
            ratios += run_store("postgres", (empty_url, full_url), args.cycles, args.rows)
    worst = max(ratios)
    print(f"worst ratio (median with {args.rows:,} rows / median empty): {worst:.2f}"
          f"  goal <= {GOAL_RATIO}")
    print("PASS" if worst <= GOAL_RATIO else "OVER GOAL")


if __name__ == "__main__":
    main()
