"""Connect: the initial load of 100,000 records against a plain COPY, and write latency.

Run with `.venv/bin/python bench/connect_sync.py [--records 100000] [--samples 40]`. In one
process and one run, against the local PostgreSQL and an in-process Salesforce stand-in:

1. **Load**: 100,000 generated Accounts (7 fields) are loaded by the engine (ticks driven
   back to back until the mapping is ``DATA_SYNCED``; above 10,000 records that is one Bulk
   API 2.0 query job and COPY-staged upserts). Then the very same rows are copied with a plain
   ``COPY ... FROM STDIN`` into a table of the same definition (``LIKE ... INCLUDING ALL``: same
   columns and indexes) on the same server. The ratio is load / COPY.
2. **Latency**: with the worker's tick consumer running in-process (Huey, as in production)
   on the fastest plan (``shield``: the trigger log is read every 2 s), the app INSERTs one
   Contact at a time; the time until the record exists in the stand-in is recorded.

Goals: load within 3x of the COPY; p95 write latency under 5 s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import p95
from standins.salesforce import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, generate, serve
from tests.async_support import in_process_worker
from tests.connect.support import set_up, tear_down
from tests.support import build_app, remove_leftovers

FIELDS = (
    "Name",
    "AccountNumber",
    "Industry",
    "AnnualRevenue",
    "NumberOfEmployees",
    "Phone",
    "Website",
)


def load(conn, records: int) -> float:
    started = time.perf_counter()
    conn.map("Account", access="read_only", fields={f: {} for f in FIELDS})
    while conn.mapping("Account")["state"] != "DATA_SYNCED":
        conn.tick()
    elapsed = time.perf_counter() - started
    count = conn.sql("SELECT count(*) FROM salesforce.account")[0][0]
    assert count >= records, count
    return elapsed


def plain_copy(conn) -> float:
    columns = "sfid, systemmodstamp, isdeleted, createddate, " + ", ".join(
        f.lower() for f in FIELDS
    )
    with psycopg.connect(conn.database_url(), autocommit=True) as db:
        buffer = io.BytesIO()
        with db.cursor().copy(f"COPY (SELECT {columns} FROM salesforce.account) TO STDOUT") as cp:
            for chunk in cp:
                buffer.write(chunk)
        db.execute("CREATE TABLE bench_copy (LIKE salesforce.account INCLUDING ALL)")
        started = time.perf_counter()
        with db.cursor().copy(f"COPY bench_copy ({columns}) FROM STDIN") as cp:
            cp.write(buffer.getvalue())
        elapsed = time.perf_counter() - started
        db.execute("DROP TABLE bench_copy")
    return elapsed


def latency(conn, standin, samples: int) -> list[float]:
    conn.map(
        "Contact",
        access="read_write",
        upsert_field="External_Id__c",
        fields={"LastName": {}, "External_Id__c": {}},
    )
    while conn.mapping("Contact")["state"] != "DATA_SYNCED":
        time.sleep(0.1)
    found: list[float] = []
    for n in range(samples):
        key = f"bench-{n}-{time.monotonic_ns()}"
        started = time.perf_counter()
        conn.sql(
            "INSERT INTO salesforce.contact (lastname, external_id__c) VALUES (%s, %s)",
            ("Bench", key),
        )
        while not any(
            r.get("External_Id__c") == key for r in standin.admin.list_records("Contact")
        ):
            time.sleep(0.02)
        found.append(time.perf_counter() - started)
        time.sleep(0.3 + (n % 7) * 0.1)  # spread inserts over the polling cycle
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        standin = serve(":memory:", cert_dir=Path(tmp) / "certs", seed=True)
        import os

        os.environ["REQUESTS_CA_BUNDLE"] = standin.ca_bundle
        generate(standin.org, "Account", args.records)
        app = build_app(
            f"sqlite:///{tmp}/store.db",
            QUEUE_URL=f"sqlite:///{tmp}/queue.db",
            SALESFORCE_LOGIN_URL=standin.url,
            SALESFORCE_CLIENT_ID=DEFAULT_CLIENT_ID,
            SALESFORCE_CLIENT_SECRET=DEFAULT_CLIENT_SECRET,
            MARKETPLACE_ADDONS=["postgres", "connect"],
        )
        conn = set_up(app, standin, plan="shield")
        try:
            engine = load(conn, args.records)
            copy = plain_copy(conn)
            print(
                f"initial load of {args.records} records: engine {engine:.2f} s, "
                f"plain COPY {copy:.2f} s, ratio {engine / copy:.2f} (goal <= 3)"
            )
            with in_process_worker(app, threads=2):
                conn.tick()
                found = latency(conn, standin, args.samples)
            print(
                f"INSERT -> Salesforce over {len(found)} writes: median "
                f"{statistics.median(found):.2f} s, p95 {p95(found):.2f} s (goal p95 < 5 s)"
            )
        finally:
            tear_down(conn)
            remove_leftovers(app)
            standin.stop()


if __name__ == "__main__":
    main()
