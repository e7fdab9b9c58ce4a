"""The JSON catalog: ours (``GET /api/addon-services``) against openbrokerapi's ``/v2/catalog``.

Both run under gunicorn with the same 2 sync workers on loopback and are loaded with ``wrk``
(32 connections), alternating in rounds so drift on a shared machine hits both alike.
openbrokerapi serves the same three add-ons and their plans (read from our own catalog). wrk
is installed with apt-get and openbrokerapi with pip (into this venv) when missing; neither
is a runtime dependency. Run with ``make bench`` or ``.venv/bin/python bench/catalog.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import broker_env, ensure_wrk, gunicorn, release, wrk

GOAL_RATIO = 1.5
BROKER_API_HEADERS = {"X-Broker-Api-Version": "2.13"}


def ensure_openbrokerapi() -> None:
    """Install openbrokerapi into this venv when it is missing (the bench extra)."""
    if importlib.util.find_spec("openbrokerapi") is None:
        print("openbrokerapi is missing; installing it with pip", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "openbrokerapi>=4.7,<5"], check=True
        )


def export_catalog(base: str, path: Path) -> int:
    """Write our add-on services, each with its plans, to ``path``; return the plan count."""
    services = requests.get(f"{base}/api/addon-services", timeout=10).json()
    for service in services:
        service["plans"] = requests.get(
            f"{base}/api/addon-services/{service['name']}/plans", timeout=10
        ).json()
    path.write_text(json.dumps(services))
    return sum(len(service["plans"]) for service in services)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="per side and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ensure_wrk()
    ensure_openbrokerapi()

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        env = broker_env(scratch, f"sqlite:///{scratch}/store.db", "mkt_bench_catalog_")
        release(env)
        catalog_json = scratch / "catalog.json"
        ours_log, theirs_log = scratch / "ours.log", scratch / "theirs.log"
        with gunicorn("app:app", env, ours_log, args.workers, "/api/addon-services") as ours:
            plans = export_catalog(ours, catalog_json)
            theirs_env = {**env, "BENCH_CATALOG_JSON": str(catalog_json)}
            with gunicorn(
                "bench.openbroker_app:app", theirs_env, theirs_log, args.workers, "/v2/catalog"
            ) as theirs:
                check = requests.get(f"{theirs}/v2/catalog", headers=BROKER_API_HEADERS, timeout=5)
                check.raise_for_status()
                size = len(requests.get(f"{ours}/api/addon-services", timeout=5).content)
                print(
                    f"catalog: 3 add-ons, {plans} plans; ours {size} bytes, "
                    f"openbrokerapi {len(check.content)} bytes"
                )
                wrk(f"{ours}/api/addon-services", 1, args.connections)  # warm-up
                wrk(f"{theirs}/v2/catalog", 1, args.connections, BROKER_API_HEADERS)
                ours_rates, theirs_rates, errors = [], [], 0
                for _ in range(args.rounds):
                    mine = wrk(f"{ours}/api/addon-services", args.seconds, args.connections)
                    other = wrk(
                        f"{theirs}/v2/catalog", args.seconds, args.connections, BROKER_API_HEADERS
                    )
                    ours_rates.append(mine.requests_per_second)
                    theirs_rates.append(other.requests_per_second)
                    errors += mine.errors + other.errors

    ours_rate = sum(ours_rates) / len(ours_rates)
    theirs_rate = sum(theirs_rates) / len(theirs_rates)
    print(
        f"gunicorn {args.workers} sync workers, wrk {args.connections} connections, "
        f"{args.rounds} x {args.seconds} s per side"
    )
    print(f"ours          GET /api/addon-services  {ours_rate:8.0f} req/s  rounds {ours_rates}")
    print(f"openbrokerapi GET /v2/catalog          {theirs_rate:8.0f} req/s  rounds {theirs_rates}")
    ratio = ours_rate / theirs_rate
    print(f"ratio (ours / openbrokerapi): {ratio:.2f}  goal >= {GOAL_RATIO}; errors: {errors}")
    print("PASS" if ratio >= GOAL_RATIO and not errors else "UNDER GOAL")


if __name__ == "__main__":
    main()
