"""Data connector benchmark: Debezium (through the broker's connector) against a plain producer.

In one run, against the local stack: a Postgres resource and a Kafka tenant (plans with room
to spare, so quotas do not throttle either side), one connector on table ``public.bench``, and
a consumer reading as the tenant. Measured:

* commit-to-consume latency of single-row inserts (each committed on its own; the clock runs
  from the commit's return to the event's arrival), p50/p95, against a plain confluent-kafka
  producer writing an event of the same size to the same topic (produce to arrival);
* throughput of one 100,000-row ``INSERT ... SELECT`` (from the statement's start to the last
  event consumed), against the plain producer writing 100,000 such events (from the first
  produce to the last event consumed).

Goals: p95 latency under 2 s; bulk throughput at least 0.5x the plain producer's.

    .venv/bin/python bench/data_connector.py [--singles 200] [--bulk 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, Producer

# The repository replaces bench/ on the path: bench/odata_query.py would shadow the library.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addons.kafka import create_adapter as create_kafka_adapter
from addons.postgres import create_adapter as create_postgres_adapter
from bench.harness import p95
from marketplace.adapters import ConnectorSpec, KafkaLogin, PlanSpec, ProvisionRequest, ResourceRef
from marketplace.config import load_config

MB = 1024**2
POSTGRES_PLAN = PlanSpec(
    "bench", "Bench", "", 0, {"max_connections": 10, "max_connectors": 1, "max_connector_tables": 1}
)
KAFKA_PLAN = PlanSpec(
    "bench",
    "Bench",
    "",
    0,
    {
        "max_topics": 10,
        "max_partitions": 10,
        "max_retention_ms": 3_600_000,
        "producer_byte_rate": 512 * MB,
        "consumer_byte_rate": 512 * MB,
        "storage_bytes": 8 * 1024 * MB,
    },
)
PAYLOAD = "x" * 100  # a row's text column


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=3, help="untimed bulk rounds first")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_config(
        "/nonexistent",
        {"SECRET_KEY": "x", "ENCRYPTION_KEYS": ["x"], "BACKEND_NAME_PREFIX": "mkt_bench_"},
    )
    postgres, kafka = create_postgres_adapter(settings), create_kafka_adapter(settings)
    pg_id, kafka_id = str(uuid.uuid4()), str(uuid.uuid4())
    pg_ref = kafka_ref = None
    try:
        pg_config = postgres.provision(ProvisionRequest(pg_id, POSTGRES_PLAN, "us")).config
        kafka_config = kafka.provision(ProvisionRequest(kafka_id, KAFKA_PLAN, "us")).config
        pg_ref = ResourceRef(pg_id, POSTGRES_PLAN, "us", pg_config)
        kafka_ref = ResourceRef(kafka_id, KAFKA_PLAN, "us", kafka_config)
        url = pg_config["DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench (id bigint PRIMARY KEY, payload text)")
        login = KafkaLogin(
            kafka_config["KAFKA_PREFIX"],
            kafka_config["KAFKA_USERNAME"],
            kafka_config["KAFKA_PASSWORD"],
        )
        spec = ConnectorSpec(str(uuid.uuid4()), "bench", ("public.bench",))
        topic = spec.topic_of(login, "public.bench")
        kafka.create_topic(kafka_ref, topic.removeprefix(login.prefix), 1)
        kafka.create_topic(kafka_ref, spec.heartbeat_topic(login).removeprefix(login.prefix), 1)
        change = postgres.create_connector(pg_ref, spec, login)
        pg_ref = ResourceRef(pg_id, POSTGRES_PLAN, "us", pg_config, change.state)
        _wait_streaming(postgres, pg_ref, spec.id)
        client = _client_config(kafka_config)
        consumer = Consumer(
            {**client, "group.id": f"{login.prefix}bench", "auto.offset.reset": "earliest"}
        )
        consumer.subscribe([topic])
        _warm_up(consumer, url)
        producer = Producer({**client, "linger.ms": 5, "acks": "all"})
        _run(args, url, consumer, producer, topic)
        consumer.close()
    finally:
        if pg_ref is not None:
            postgres.deprovision(pg_ref)
        if kafka_ref is not None:
            kafka.deprovision(kafka_ref)


def _run(args, url: str, consumer: Consumer, producer: Producer, topic: str) -> None:
    cdc, plain = [], []
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(1, args.singles + 1):
            conn.execute("INSERT INTO bench VALUES (%s, %s)", (i, PAYLOAD))
            committed = time.perf_counter()
            _consume(consumer, 1)
            cdc.append(time.perf_counter() - committed)
            event = _event_like(i)
            started = time.perf_counter()
            producer.produce(topic, key=json.dumps({"id": i}), value=event)
            producer.flush()
            _consume(consumer, 1)
            plain.append(time.perf_counter() - started)
        print(f"single-row changes: {args.singles}")
        for label, values in (("debezium", cdc), ("plain producer", plain)):
            print(
                f"  {label:<15} p50 {statistics.median(values) * 1000:7.1f} ms"
                f"   p95 {p95(values) * 1000:7.1f} ms"
            )
        print(f"p95 latency goal < 2000 ms: {'met' if p95(cdc) < 2 else 'missed'}")
    bulk_rounds(args, url, consumer, producer, topic, first=args.singles + 1)


def bulk_rounds(
    args, url: str, consumer: Consumer, producer: Producer, topic: str, first: int
) -> None:
    """Warm-up rounds (untimed: the JVM's JIT and both clients reach their steady state),
    then ``args.rounds`` timed rounds of both sides; the ratio is the median round's."""
    print(f"bulk insert of {args.bulk} rows, commit (first produce) to last event consumed:")
    ratios = []
    for number in range(-args.warmup, args.rounds):
        cdc_seconds, insert_seconds = _debezium_bulk(url, consumer, first, args.bulk)
        first += args.bulk
        plain_seconds = _plain_bulk(consumer, producer, topic, first, args.bulk)
        first += args.bulk
        cdc_rate, plain_rate = args.bulk / cdc_seconds, args.bulk / plain_seconds
        label = "warm-up" if number < 0 else f"round {number + 1}"
        print(
            f"  {label:<8} debezium {cdc_seconds:5.2f} s {cdc_rate:8,.0f} rows/s"
            f" (INSERT {insert_seconds:.2f} s before its commit)"
            f"   plain producer {plain_seconds:5.2f} s {plain_rate:8,.0f} rows/s"
            f"   ratio {cdc_rate / plain_rate:.2f}"
        )
        if number >= 0:
            ratios.append(cdc_rate / plain_rate)
    print(
        f"ratio (debezium / plain producer), median of {args.rounds} rounds: "
        f"{statistics.median(ratios):.2f}  goal >= 0.5"
    )


def _debezium_bulk(url: str, consumer: Consumer, first: int, rows: int) -> tuple[float, float]:
    """One ``INSERT ... SELECT`` of ``rows`` rows: (commit to last event, the INSERT itself)."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(
            "INSERT INTO bench SELECT g, %s FROM generate_series(%s::bigint, %s::bigint) g",
            (PAYLOAD, first, first + rows - 1),
        )
        committed = time.perf_counter()
    _consume(consumer, rows, timeout=600)
    return time.perf_counter() - committed, committed - started


def _plain_bulk(consumer: Consumer, producer: Producer, topic: str, first: int, rows: int) -> float:
    """The same rows produced one by one from Python: first produce to last event consumed."""
    started = time.perf_counter()
    for i in range(first, first + rows):  # each row serialised, as an app would
        value = _event_like(i)
        while True:
            try:
                producer.produce(topic, key=json.dumps({"id": i}), value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush()
    _consume(consumer, rows, timeout=600)
    return time.perf_counter() - started


def _event_like(i: int) -> bytes:
    """A value the size of Debezium's change event for one row (schemas disabled)."""
    return json.dumps(
        {
            "before": None,
            "after": {"id": i, "payload": PAYLOAD},
            "source": {"version": "3.6.1.Final", "connector": "postgresql", "padding": "y" * 300},
            "op": "c",
            "ts_ms": int(time.time() * 1000),
        }
    ).encode()


def _consume(consumer: Consumer, count: int, timeout: float = 60) -> None:
    deadline, seen = time.monotonic() + timeout, 0
    while seen < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {seen} of {count} events arrived within {timeout} s")
        messages = consumer.consume(num_messages=min(count - seen, 10_000), timeout=0.1)
        for message in messages:
            if message.error() is not None:
                raise SystemExit(str(message.error()))
            if message.value() is not None:
                seen += 1


def _warm_up(consumer: Consumer, url: str) -> None:
    """Let the consumer join its group and see a first event before timing anything."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO bench VALUES (0, 'warm-up')")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            return
    raise SystemExit("the warm-up event never arrived")


def _wait_streaming(postgres, ref: ResourceRef, connector_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if postgres.connector_health(ref, [connector_id])[connector_id].slot_active:
            return
        time.sleep(0.2)
    raise SystemExit("the connector never started streaming")


def _client_config(config: dict[str, str]) -> dict[str, str]:
    return {
        "bootstrap.servers": ",".join(
            u.removeprefix("kafka://") for u in config["KAFKA_URL"].split(",")
        ),
        "security.protocol": config["KAFKA_SECURITY_PROTOCOL"],
        "sasl.mechanism": config["KAFKA_SASL_MECHANISM"],
        "sasl.username": config["KAFKA_USERNAME"],
        "sasl.password": config["KAFKA_PASSWORD"],
    }


if __name__ == "__main__":
    main()
