"""Provision + deprovision through the broker's HTTP API vs the raw SQL on the same server.

Run with `make bench` (or `.venv/bin/python bench/provision_postgres.py --cycles 40`). Both
sides run interleaved in one process against the local stack, so drift hits them alike. The
raw side is the physical limit: the essential statements (CREATE ROLE, GRANT, CREATE DATABASE,
REVOKE, DROP DATABASE, DROP ROLE) on one warm admin connection, with the password verifier
computed outside the timed region. The broker side adds the HTTP round trips, Basic auth, the
lease and the store's commits, Fernet, and the adapter's safety checks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import floor_lines, interleaved, ratio_line, report, served_broker
from marketplace.adapters import random_password
from tests.support import admin_url

GOAL_RATIO = 1.15


def raw_cycle(conn: psycopg.Connection) -> float:
    role, database = f"bench_u_{uuid.uuid4().hex[:12]}", f"bench_d_{uuid.uuid4().hex[:12]}"
    verifier = conn.pgconn.encrypt_password(
        random_password().encode(), role.encode(), b"scram-sha-256"
    )
    started = time.perf_counter()
    conn.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT 20").format(
            sql.Identifier(role), sql.Literal(verifier.decode())
        )
    )
    conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
    conn.execute(
        sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
            sql.Identifier(database), sql.Identifier(role)
        )
    )
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as scratch,
        served_broker(Path(scratch), "postgres") as served,
        psycopg.connect(admin_url(), autocommit=True) as warm,
    ):
        series = interleaved(
            served, "essential-0", args.cycles, {"raw SQL": lambda: raw_cycle(warm)}
        )

    report(series, args.cycles)
    raw, floor, broker = series["raw SQL"], series["floor"], series["broker"]
    ratio = ratio_line(broker, raw, "raw SQL", GOAL_RATIO)
    floor_lines(broker, floor, raw, "raw SQL")
    print("PASS" if ratio < GOAL_RATIO else "OVER GOAL")


if __name__ == "__main__":
    main()
