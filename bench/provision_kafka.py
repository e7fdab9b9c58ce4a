"""Provision + deprovision of a Kafka tenant through the broker's HTTP API vs the raw admin calls.

Run with `.venv/bin/python bench/provision_kafka.py --cycles 30` against the local stack (make
services). Both sides run interleaved in one process, so drift hits them alike.

The raw side makes the same admin calls the adapter makes, on the same warm, process-wide admin
clients (``KafkaAdmin`` and ``QuotaAdmin`` share one connection each per process): SCRAM
upsert, the seven PREFIXED ACLs, the quota alter (kafka-python), then ACL delete, SCRAM delete
and quota removal. The goal (issue 12: <= 1.15) applies to that bare line. The broker side
adds the HTTP round trip, Basic auth, the store's row lock and commits, Fernet, a cluster check
before creating anything, the topic and group sweep on removal, and the check that the new
user's SASL login works (credentials reach the broker asynchronously; the broker answers only
once a tenant's first connection will work), which runs while the ACLs and quotas are made. A
third line, "raw + login", adds that check to the raw side after the calls, one after another.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addons.kafka.admin import KafkaAdmin
from addons.kafka.cluster import ClusterSettings, login_works
from addons.kafka.quotas import QuotaAdmin
from bench.harness import floor_lines, interleaved, ratio_line, report, served_broker
from marketplace.adapters import random_password
from marketplace.config import load_config

GOAL_RATIO = 1.15
QUOTAS = {"producer_byte_rate": 65536.0, "consumer_byte_rate": 262144.0}


def raw_cycle(cluster: ClusterSettings, *, with_login: bool) -> float:
    user = f"bench_{uuid.uuid4().hex[:16]}"
    prefix, password = f"{user}.", random_password(40)
    started = time.perf_counter()
    admin = KafkaAdmin(cluster)
    admin.upsert_user(user, password)
    admin.grant_tenant_acls(user, prefix)
    with QuotaAdmin(cluster) as quotas:
        quotas.set_user_quotas(user, QUOTAS)
    while with_login and not login_works(cluster, user, password):
        time.sleep(0.05)
    admin = KafkaAdmin(cluster)
    admin.revoke_tenant_acls(user, prefix)
    admin.delete_user(user)
    with QuotaAdmin(cluster) as quotas:
        quotas.remove_user_quotas(user)
    return time.perf_counter() - started


def kafka_settings() -> dict[str, object]:
    """The Kafka add-on's settings from the environment (the local stack by default)."""
    return load_config("/nonexistent", {"SECRET_KEY": "x", "ENCRYPTION_KEYS": ["x"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()

    settings = kafka_settings()
    cluster = ClusterSettings(
        settings["KAFKA_BOOTSTRAP_SERVERS"],
        settings["KAFKA_ADMIN_USERNAME"],
        settings["KAFKA_ADMIN_PASSWORD"],
    )
    with (
        tempfile.TemporaryDirectory() as scratch,
        served_broker(Path(scratch), "kafka") as served,
    ):
        series = interleaved(
            served,
            "basic-0",
            args.cycles,
            {
                "raw admin": lambda: raw_cycle(cluster, with_login=False),
                "raw + login": lambda: raw_cycle(cluster, with_login=True),
            },
        )

    raw, raw_login = series["raw admin"], series["raw + login"]
    floor, broker = series["floor"], series["broker"]
    report(series, args.cycles)
    ratio = ratio_line(broker, raw, "raw admin", GOAL_RATIO)
    ratio_line(broker, raw_login, "raw + login")
    floor_lines(broker, floor, raw, "raw admin")
    print("PASS" if ratio < GOAL_RATIO else "OVER GOAL")


if __name__ == "__main__":
    main()
