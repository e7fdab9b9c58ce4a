"""External Objects: OData pages through the broker vs the same SQL run directly, in one run.

Run with `.venv/bin/python bench/odata_query.py` (defaults: 100,000 rows, pages 1-20 of
2,000 rows, 3 rounds). A Postgres resource and a data-service resource (the tests' XoTest
add-on, served by the ExternalObjects mixin Connect uses) are provisioned and linked through
the broker (in-process HTTP server, SQLite store); the table is filled with the tenant's
credentials. Each page is fetched both ways, interleaved:

* service: ``GET /odata/v4/<id>/public$bench?$filter=amount ge 1000 and category ne 'x'&
  $orderby=created_at desc&$top=2000&$skip=<n>`` with HTTP Basic (auth, rate limit,
  parsing, the adapter's SQL on a pooled connection, OData JSON encoding, the HTTP round
  trip);
* direct: the equivalent SELECT on one open connection as the tenant, then ``json.dumps``.

The broker serves the same store as the Procfile's web process does (``gunicorn -c
gunicorn.conf.py``: 2 asyncio workers, 4 app threads each; ``bench/odata_app.py``), so the
client and the server do not share one interpreter lock.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg.rows import dict_row

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addons.postgres.dataservice import close_idle_connections
from bench.harness import p95
from bench.servers import broker_env, web_process
from marketplace.extensions import db
from tests.odata_support import odata_world
from tests.support import ENCRYPTION_KEY, admin_url, name_prefix

GOAL_RATIO = 1.5
FILTER = "amount ge 1000 and category ne 'x'"
ORDER = "created_at desc"
DIRECT_SQL = (
    "SELECT id, name, amount, category, price, created_at FROM public.bench"
    " WHERE amount >= %s AND category <> %s ORDER BY created_at DESC, id ASC LIMIT %s OFFSET %s"
)
SCHEMA = """
CREATE TABLE public.bench (
  id serial PRIMARY KEY, name text NOT NULL, amount int NOT NULL, category text NOT NULL,
  price numeric(10,2) NOT NULL, created_at timestamptz NOT NULL
);
INSERT INTO public.bench (name, amount, category, price, created_at)
SELECT 'row ' || g, g % 10000, chr(97 + g % 5), (g % 1000) / 10.0,
       timestamptz '2024-01-01' + g * interval '1 minute'
  FROM generate_series(1, %(rows)s) g;
CREATE INDEX bench_created_at ON public.bench (created_at);
ANALYZE public.bench;
"""


def direct_page(conn: psycopg.Connection[Any], skip: int, top: int) -> float:
    started = time.perf_counter()
    rows = conn.execute(DIRECT_SQL, (1000, "x", top, skip)).fetchall()
    json.dumps({"value": rows}, default=str, separators=(",", ":"))
    return time.perf_counter() - started


def service_page(session: requests.Session, url: str, skip: int, top: int) -> float:
    params = {"$filter": FILTER, "$orderby": ORDER, "$top": str(top), "$skip": str(skip)}
    started = time.perf_counter()
    answer = session.get(url, params=params, timeout=60)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200 or len(answer.json()["value"]) != top:
        raise SystemExit(f"service failed: {answer.status_code} {answer.text[:200]}")
    return elapsed


@contextmanager
def served(app: Any, scratch: Path) -> Iterator[str]:
    """Serve ``app``'s store from gunicorn with the same keys; yield its base URL."""
    with app.app_context():
        db.engine.dispose()
    close_idle_connections()
    env = broker_env(
        scratch,
        str(app.config["SQLALCHEMY_DATABASE_URI"]),
        name_prefix(),
        ENCRYPTION_KEYS=f'["{ENCRYPTION_KEY}"]',
        SECRET_KEY=str(app.config["SECRET_KEY"]),
        POSTGRES_ADMIN_URL=admin_url(),
        LOG_LEVEL="WARNING",
    )
    with web_process("bench.odata_app:web", env, scratch / "web.log") as base:
        yield base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=2000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        odata_world(f"sqlite:///{folder}/store.db") as world,
    ):
        world.sql(SCHEMA.replace("%(rows)s", str(int(args.rows))))
        credentials = world.enable()
        world.share("public.bench")
        with (
            served(world.app, Path(folder)) as base,
            psycopg.connect(world.database_url, row_factory=dict_row, autocommit=True) as conn,
        ):
            url = base + "/odata/v4/" + credentials["url"].split("/odata/v4/")[1] + "public$bench"
            session = requests.Session()
            session.auth = (credentials["username"], credentials["password"])
            service_page(session, url, 0, args.top)  # warm up: password check, pool, caches
            direct_page(conn, 0, args.top)
            service, direct = [], []
            for _ in range(args.rounds):
                for page in range(args.pages):
                    skip = page * args.top
                    service.append(service_page(session, url, skip, args.top))
                    direct.append(direct_page(conn, skip, args.top))
    print(f"table: {args.rows} rows; pages: {args.pages} x {args.top} rows, {args.rounds} rounds")
    print(f"$filter={FILTER}  $orderby={ORDER}")
    for label, values in (("service", service), ("direct SQL+JSON", direct)):
        median, high = statistics.median(values) * 1000, p95(values) * 1000
        print(f"{label:<16} median {median:7.1f} ms   p95 {high:7.1f} ms")
    ratio = statistics.median(service) / statistics.median(direct)
    print(f"ratio (median service / median direct): {ratio:.2f}  goal <= {GOAL_RATIO}")


if __name__ == "__main__":
    main()
