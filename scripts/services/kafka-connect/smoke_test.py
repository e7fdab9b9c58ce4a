"""End-to-end smoke test of the local CDC stack: PostgreSQL -> Debezium on Kafka Connect -> Kafka.

Run it through smoke_test.sh, against a running stack (scripts/services.sh start). It does what
the broker will do, with the broker's privileges only (no PostgreSQL superuser, Kafka admin only
for the Kafka side), and leaves nothing behind:

1. a throwaway tenant (owner role + database + table, as the postgres adapter makes them);
2. a connector role through marketplace_ops.create_replication_role, its grants, a publication
   (as the tenant owner) and a logical slot (as the connector role, through membership);
3. a Kafka SCRAM user for the tenant with PREFIXED ACLs on its topic prefix;
4. connector "own": Debezium with snapshot.mode=initial, producer and admin clients logged in as
   the tenant user, topics created by Connect (topic.creation.*); a row inserted before it
   arrives as a snapshot read (op r), a row inserted after it as a create (op c), consumed as the
   tenant user;
5. connectors "foreign" and "foreign_worker_admin": the same tenant credentials but a topic prefix
   outside the tenant's ACLs; their tasks fail with an authorization error. The first (admin
   client also the tenant) creates no topic; the second (topic creation left to the worker's admin
   client, a super user) shows that the worker then creates the foreign topic although the tenant
   may not write to it;
6. teardown in the order the broker should use: stop connector, reset its offsets, delete it,
   drop the slot, drop the publication, DROP OWNED BY + DROP ROLE the connector role, then the
   Kafka topics, ACLs and user, and the throwaway tenant.

With --restart-worker or --kill-worker it also restarts the local worker (stop + start, or SIGKILL
+ start) after step 4 and checks that the connector resumes from its committed offset.

It prints one line per step with its duration, and "N passed, N failed" at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import psycopg
from confluent_kafka import Consumer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from psycopg import sql

CONNECT_URL = os.environ.get("KAFKA_CONNECT_URL", "http://127.0.0.1:8083").rstrip("/")
PG_HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("POSTGRES_PORT", "5432"))
PG_ADMIN = os.environ.get("POSTGRES_ADMIN_USER", "marketplace_admin")
PG_ADMIN_PASSWORD = os.environ.get("POSTGRES_ADMIN_PASSWORD", "marketplace-admin-dev")
KAFKA_BOOTSTRAP = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
KAFKA_ADMIN = os.environ.get("KAFKA_ADMIN_USERNAME", "marketplace_admin")
KAFKA_ADMIN_PASSWORD = os.environ.get("KAFKA_ADMIN_PASSWORD", "marketplace-admin-dev")
TIMEOUT = float(os.environ.get("SMOKE_TIMEOUT", "90"))
if not CONNECT_URL.startswith(("http://", "https://")):
    sys.exit(f"KAFKA_CONNECT_URL must be an http(s) URL, not {CONNECT_URL!r}")
HERE = os.path.dirname(os.path.abspath(__file__))
CONNECT_SH = os.path.join(HERE, "..", "kafka-connect.sh")
PIDFILE = os.path.join(HERE, "..", "..", "..", ".services", "kafka-connect", "kafka-connect.pid")
# Optional: --restart-worker (stop + start) or --kill-worker (SIGKILL + start) the local worker
# between two changes; it must resume where it left off. Only for a worker started from this
# checkout by kafka-connect.sh.
RESTART = sys.argv[1] if len(sys.argv) > 1 else ""
if RESTART not in ("", "--restart-worker", "--kill-worker"):
    sys.exit(f"usage: {sys.argv[0]} [--restart-worker|--kill-worker]")

RUN = secrets.token_hex(4)
TENANT_ROLE = f"mkt_smoke_{RUN}"  # stands in for a tenant's mkt_<hash> owner role
TENANT_DB = f"mkt_smoke_{RUN}"
TENANT_PASSWORD = secrets.token_urlsafe(24)
CONN_ROLE = f"mkt_smoke_c_{RUN}"  # <prefix>c_<tail>: what the ops function allows
CONN_PASSWORD = secrets.token_urlsafe(24)
PUBLICATION = f"mkt_c_smoke_{RUN}"
KAFKA_USER = f"smoke-{RUN}"
KAFKA_PASSWORD = secrets.token_urlsafe(24)
PREFIX = f"smoke_{RUN}"  # the tenant's topic and group prefix; Debezium topic.prefix
FOREIGN_PREFIX = f"foreign_{RUN}"  # outside the tenant's ACLs

CONNECTORS = {
    # name: (slot, topic.prefix, snapshot.mode, admin client as the tenant)
    f"smoke-{RUN}-own": (f"mkt_c_smoke_{RUN}_own", PREFIX, "initial", True),
    f"smoke-{RUN}-foreign": (f"mkt_c_smoke_{RUN}_f1", FOREIGN_PREFIX, "no_data", True),
    f"smoke-{RUN}-foreign-worker-admin": (
        f"mkt_c_smoke_{RUN}_f2",
        FOREIGN_PREFIX + "w",
        "no_data",
        False,
    ),
}
OWN, FOREIGN, FOREIGN_WORKER_ADMIN = CONNECTORS

results: list[tuple[str, bool]] = []
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


@contextmanager
def step(name: str, critical: bool = True) -> Iterator[None]:
    t = time.monotonic()
    try:
        yield
    except Exception as exc:  # report, then the caller cleans up
        results.append((name, False))
        say(f"FAIL {name} ({time.monotonic() - t:.1f}s): {exc!r}")
        traceback.print_exc(file=sys.stdout)
        if critical:
            raise
    else:
        results.append((name, True))
        say(f"ok   {name} ({time.monotonic() - t:.1f}s)")


def wait_for(
    what: str, check: Callable[[], object], timeout: float = TIMEOUT, interval: float = 0.5
) -> object:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what}: not after {timeout:.0f}s (last: {last!r})")


# --------------------------------------------------------------------------------- PostgreSQL


def pg(
    dbname: str = "postgres", user: str = PG_ADMIN, password: str = PG_ADMIN_PASSWORD
) -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        dbname=dbname,
        user=user,
        password=password,
        autocommit=True,
        connect_timeout=5,
    )


def verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


# --------------------------------------------------------------------------------- Kafka


def kafka_conf(user: str, password: str) -> dict:
    return {
        "bootstrap.servers": KAFKA_BOOTSTRAP,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
    }


def jaas(user: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )


def tenant_acls() -> list[AclBinding]:
    principal = f"User:{KAFKA_USER}"
    topic_ops = (AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE, AclOperation.READ)
    acls = [
        AclBinding(
            ResourceType.TOPIC,
            PREFIX,
            ResourcePatternType.PREFIXED,
            principal,
            "*",
            op,
            AclPermissionType.ALLOW,
        )
        for op in topic_ops
    ]
    acls.append(
        AclBinding(
            ResourceType.GROUP,
            PREFIX,
            ResourcePatternType.PREFIXED,
            principal,
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
    )
    return acls


def topics(admin: AdminClient) -> set[str]:
    return set(admin.list_topics(timeout=10).topics)


# --------------------------------------------------------------------------------- Connect REST


def rest(
    method: str, path: str, body: dict | None = None, ok: tuple[int, ...] = (200, 201, 202, 204)
) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - http(s) only, checked at import
        CONNECT_URL + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - as above
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    payload = json.loads(raw) if raw else None
    if status not in ok:
        raise RuntimeError(f"{method} {path} -> {status}: {payload}")
    return status, payload


def connector_config(name: str) -> dict:
    slot, prefix, snapshot_mode, admin_as_tenant = CONNECTORS[name]
    tenant = jaas(KAFKA_USER, KAFKA_PASSWORD)
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": PG_HOST,
        "database.port": str(PG_PORT),
        "database.user": CONN_ROLE,
        "database.password": CONN_PASSWORD,
        "database.dbname": TENANT_DB,
        "slot.name": slot,
        "publication.name": PUBLICATION,
        "publication.autocreate.mode": "disabled",
        "topic.prefix": prefix,
        "table.include.list": "public.items",
        "snapshot.mode": snapshot_mode,
        # The worker creates <prefix>.public.items on the first record (topic.creation.enable).
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
        # Writes are authorized (and quota'd) as the tenant's Kafka user.
        "producer.override.sasl.jaas.config": tenant,
        # Keep the slot moving while the captured tables are quiet but the cluster is not: a
        # non-transactional logical message in the tenant's database every 2 s gives Debezium an
        # LSN to confirm (no table needed in the tenant's database); the message itself is not
        # published. Heartbeat records go to <topic.heartbeat.prefix>.<topic.prefix>, inside the
        # tenant's prefix.
        "heartbeat.interval.ms": "2000",
        "heartbeat.action.query": (
            "SELECT pg_logical_emit_message(false, 'marketplace-heartbeat', now()::text)"
        ),
        "message.prefix.exclude.list": "marketplace-heartbeat",
        "topic.heartbeat.prefix": f"{prefix}.heartbeat",
    }
    if admin_as_tenant:
        # ... and so is topic creation, so the tenant's CREATE ACL bounds it.
        config["admin.override.sasl.jaas.config"] = tenant
    return config


def status(name: str) -> dict | None:
    code, body = rest("GET", f"/connectors/{name}/status", ok=(200, 404))
    return body if code == 200 else None


def task_state(name: str) -> tuple[str | None, str | None, str]:
    st = status(name) or {}
    tasks = st.get("tasks") or []
    conn_state = (st.get("connector") or {}).get("state")
    if not tasks:
        return conn_state, None, ""
    return conn_state, tasks[0].get("state"), tasks[0].get("trace") or ""


# --------------------------------------------------------------------------------- the test


def main() -> int:
    kadmin = AdminClient(kafka_conf(KAFKA_ADMIN, KAFKA_ADMIN_PASSWORD))
    created_connectors: list[str] = []
    consumer = None
    say(f"run {RUN}: tenant db {TENANT_DB}, connector role {CONN_ROLE}, Kafka user {KAFKA_USER}")
    try:
        with step("Kafka Connect answers and lists the Debezium PostgreSQL connector"):
            _, root = rest("GET", "/")
            _, plugins = rest("GET", "/connector-plugins")
            dbz = [
                p
                for p in plugins
                if p["class"] == "io.debezium.connector.postgresql.PostgresConnector"
            ]
            assert dbz, plugins
            say(f"     Connect {root['version']}, Debezium {dbz[0]['version']}")

        with step("PostgreSQL is set up for logical replication"):
            with pg() as conn:
                got = dict(
                    conn.execute(
                        "SELECT name, setting FROM pg_settings WHERE name IN"
                        " ('wal_level', 'max_replication_slots', 'max_wal_senders',"
                        " 'max_slot_wal_keep_size')"
                    ).fetchall()
                )
            assert got["wal_level"] == "logical", got
            assert int(got["max_replication_slots"]) >= 20 and int(got["max_wal_senders"]) >= 20, (
                got
            )
            say(f"     {got}")

        with step("throwaway tenant: owner role, database, tables (as the postgres adapter does)"):
            with pg() as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(TENANT_ROLE),
                        sql.Literal(verifier(conn, TENANT_ROLE, TENANT_PASSWORD)),
                    )
                )
                conn.execute(
                    sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(TENANT_ROLE))
                )
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(TENANT_DB), sql.Identifier(TENANT_ROLE)
                    )
                )
                conn.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                        sql.Identifier(TENANT_DB)
                    )
                )
            with pg(TENANT_DB, TENANT_ROLE, TENANT_PASSWORD) as conn:
                conn.execute(
                    "CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL)"
                )
                conn.execute("CREATE TABLE public.private_notes (id serial PRIMARY KEY, note text)")
                conn.execute("INSERT INTO public.items (name) VALUES ('before-connector')")

        with step(
            "connector role through marketplace_ops.create_replication_role (admin, no superuser)"
        ):
            with pg("marketplace_ops") as conn:
                # Three connectors share this role here; one Debezium task holds 2 connections
                # while it streams (JDBC + replication), 3 during its start.
                conn.execute(
                    "SELECT marketplace_ops.create_replication_role(%s, %s, 10)",
                    (CONN_ROLE, verifier(conn, CONN_ROLE, CONN_PASSWORD)),
                )
                row = conn.execute(
                    "SELECT rolreplication, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %s",
                    (CONN_ROLE,),
                ).fetchone()
            assert row == (True, False, True), row

        with (
            step("grants and publication as the tenant owner, slots as the connector role"),
            pg(TENANT_DB) as conn,
        ):
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(TENANT_ROLE)))
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(TENANT_DB), sql.Identifier(CONN_ROLE)
                )
            )
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(CONN_ROLE))
            )
            # SELECT for the snapshot; the publication decides what is streamed.
            conn.execute(
                sql.SQL("GRANT SELECT ON public.items TO {}").format(sql.Identifier(CONN_ROLE))
            )
            conn.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE public.items").format(
                    sql.Identifier(PUBLICATION)
                )
            )
            conn.execute("RESET ROLE")
            # The admin is a member of the connector role (the ops function made it one);
            # SET ROLE gives it REPLICATION for this, without the attribute of its own.
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(CONN_ROLE)))
            for slot, *_ in CONNECTORS.values():
                conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
            conn.execute("RESET ROLE")

        with step("Kafka: tenant SCRAM user and PREFIXED ACLs on its prefix"):
            fut = kadmin.alter_user_scram_credentials(
                [
                    UserScramCredentialUpsertion(
                        KAFKA_USER,
                        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                        KAFKA_PASSWORD.encode(),
                    )
                ]
            )
            for f in fut.values():
                f.result(timeout=30)
            for f in kadmin.create_acls(tenant_acls()).values():
                f.result(timeout=30)

        with step("POST connector 'own' (snapshot.mode=initial, tenant producer/admin) -> RUNNING"):
            t = time.monotonic()
            rest("POST", "/connectors", {"name": OWN, "config": connector_config(OWN)})
            created_connectors.append(OWN)
            wait_for("task RUNNING", lambda: task_state(OWN)[:2] == ("RUNNING", "RUNNING"))
            say(f"     RUNNING {time.monotonic() - t:.1f}s after POST")
            with pg() as conn:
                conns = conn.execute(
                    "SELECT coalesce(backend_type, '?') || ':' || coalesce(application_name, ''),"
                    " count(*)"
                    " FROM pg_stat_activity WHERE usename = %s GROUP BY 1",
                    (CONN_ROLE,),
                ).fetchall()
            say(f"     connections of {CONN_ROLE}: {conns}")

        topic = f"{PREFIX}.public.items"
        with step("insert a row; consume the snapshot read and the create as the tenant user"):
            with pg(TENANT_DB, TENANT_ROLE, TENANT_PASSWORD) as conn:
                conn.execute("INSERT INTO public.items (name) VALUES ('after-connector')")
                conn.execute("INSERT INTO public.private_notes (note) VALUES ('not published')")
            t_insert = time.monotonic()
            consumer = Consumer(
                {
                    **kafka_conf(KAFKA_USER, KAFKA_PASSWORD),
                    "group.id": f"{PREFIX}.smoke",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "topic.metadata.refresh.interval.ms": 1000,
                }
            )
            consumer.subscribe([topic])
            events = []

            def got_both() -> bool:
                msg = consumer.poll(1.0)
                if msg is not None and msg.error() is None and msg.value() is not None:
                    events.append((json.loads(msg.key()), json.loads(msg.value())))
                return len(events) >= 2

            wait_for(f"two events on {topic}", got_both)
            say(f"     second event consumed {time.monotonic() - t_insert:.1f}s after the INSERT")
            (_k1, v1), (k2, v2) = events
            say(f"     key {json.dumps(k2)} value {json.dumps(v2)[:400]}")
            assert (v1["op"], v1["after"]["name"]) == ("r", "before-connector"), v1
            assert (v2["op"], v2["after"]["name"]) == ("c", "after-connector"), v2
            assert k2 == {"id": 2}, k2
            assert "schema" not in v2 and v2["source"]["table"] == "items", v2
            assert v2["source"]["connector"] == "postgresql" and v2["source"]["name"] == PREFIX, v2

        if RESTART in ("--restart-worker", "--kill-worker"):
            with step(f"worker {RESTART[2:]}: the connector resumes from its committed offset"):
                with open(PIDFILE) as f:
                    pid = int(f.read().strip())
                if RESTART == "--kill-worker":
                    time.sleep(6)  # let one offset flush (offset.flush.interval.ms=5000) pass
                    os.kill(pid, 9)
                    wait_for("worker gone", lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)
                else:
                    subprocess.run([CONNECT_SH, "stop"], check=True)  # noqa: S603 - our script
                t = time.monotonic()
                subprocess.run([CONNECT_SH, "start"], check=True)  # noqa: S603 - our script
                wait_for("task RUNNING", lambda: task_state(OWN)[:2] == ("RUNNING", "RUNNING"))
                say(f"     worker ready and task RUNNING {time.monotonic() - t:.1f}s after start")
                with pg(TENANT_DB, TENANT_ROLE, TENANT_PASSWORD) as conn:
                    conn.execute("INSERT INTO public.items (name) VALUES ('after-restart')")
                seen = []

                def got_restart_event() -> bool:
                    msg = consumer.poll(1.0)
                    if msg is not None and msg.error() is None and msg.value() is not None:
                        seen.append(json.loads(msg.value())["after"]["name"])
                    return "after-restart" in seen

                wait_for("the event inserted after the restart", got_restart_event)
                say(f"     events after the restart: {seen} (at-least-once: repeats are allowed)")
                assert "before-connector" not in seen, seen  # no new snapshot

        with step("nothing from the unpublished table reached Kafka", critical=False):
            names = topics(kadmin)
            assert not [n for n in names if "private_notes" in n], names

        with step(
            "slot lag readable by the admin; the heartbeat moves the slot on a quiet table",
            critical=False,
        ):
            slot = CONNECTORS[OWN][0]
            with pg() as conn:
                row = conn.execute(
                    "SELECT active,"
                    " pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,"
                    " wal_status FROM pg_replication_slots WHERE slot_name = %s",
                    (slot,),
                ).fetchone()
                say(f"     {slot}: active={row[0]} lag={row[1]} bytes wal_status={row[2]}")
                assert row[0] is True and row[2] == "reserved", row
                # No change to public.items from here on: only heartbeats can confirm this LSN.
                target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
                t = time.monotonic()
                wait_for(
                    "confirmed_flush_lsn past the current WAL position",
                    lambda: conn.execute(
                        "SELECT confirmed_flush_lsn >= %s FROM pg_replication_slots"
                        " WHERE slot_name = %s",
                        (target, slot),
                    ).fetchone()[0],
                    timeout=60,
                )
                say(f"     confirmed_flush_lsn passed {target} after {time.monotonic() - t:.1f}s")

        with step("foreign prefix: connectors with the tenant's credentials fail, can't write"):
            for name in (FOREIGN, FOREIGN_WORKER_ADMIN):
                rest("POST", "/connectors", {"name": name, "config": connector_config(name)})
                created_connectors.append(name)
            for name in (FOREIGN, FOREIGN_WORKER_ADMIN):
                wait_for(
                    f"{name} RUNNING", lambda n=name: task_state(n)[1] in ("RUNNING", "FAILED")
                )
            with pg(TENANT_DB, TENANT_ROLE, TENANT_PASSWORD) as conn:
                conn.execute("INSERT INTO public.items (name) VALUES ('foreign-trigger')")
            for name in (FOREIGN, FOREIGN_WORKER_ADMIN):
                wait_for(f"{name} task FAILED", lambda n=name: task_state(n)[1] == "FAILED")
                trace = task_state(name)[2]
                first = next(
                    (line for line in trace.splitlines() if "Authoriz" in line), trace[:300]
                )
                say(f"     {name}: FAILED: {first.strip()[:300]}")
                assert "Authorization" in trace or "authoriz" in trace, trace[:2000]
            names = topics(kadmin)
            own_foreign = CONNECTORS[FOREIGN][1] + ".public.items"
            worker_foreign = CONNECTORS[FOREIGN_WORKER_ADMIN][1] + ".public.items"
            say(
                f"     topic {own_foreign} exists: {own_foreign in names}; "
                f"{worker_foreign} (created by the worker's admin) exists: "
                f"{worker_foreign in names}"
            )
            assert own_foreign not in names, names
    except Exception as exc:  # already reported by step(); clean up and count
        say(f"stopping early: {exc!r}")
    finally:
        say("teardown")
        teardown(kadmin, created_connectors, consumer)

    passed = sum(ok for _, ok in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def teardown(kadmin: AdminClient, created_connectors: list[str], consumer: Consumer | None) -> None:
    if consumer is not None:
        with suppress(Exception):
            consumer.close()
    with step("connectors: stop, reset offsets, delete", critical=False):
        for name in created_connectors:
            if status(name) is None:
                continue
            rest("PUT", f"/connectors/{name}/stop")
            wait_for(
                f"{name} STOPPED",
                lambda n=name: (status(n) or {}).get("connector", {}).get("state") == "STOPPED",
            )
            # Offsets outlive the connector; a later connector of the same name would resume at
            # the old LSN. Reset them while it is stopped.
            _, body = rest("DELETE", f"/connectors/{name}/offsets")
            say(f"     {name}: {body.get('message') if body else body}")
            rest("DELETE", f"/connectors/{name}")
    with step(
        "slots dropped (as the connector role), publication, DROP OWNED + DROP ROLE", critical=False
    ):
        slots = [slot for slot, *_ in CONNECTORS.values()]
        with pg() as conn:

            def inactive() -> bool:
                rows = conn.execute(
                    "SELECT slot_name, active_pid FROM pg_replication_slots"
                    " WHERE slot_name = ANY(%s) AND active",
                    (slots,),
                ).fetchall()
                return not rows

            with suppress(TimeoutError):
                wait_for("slots released", inactive, timeout=15)
            # A walsender that still holds a slot: end it (pg_signal_backend).
            conn.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
                " WHERE slot_name = ANY(%s) AND active",
                (slots,),
            )
            wait_for("slots released", inactive, timeout=15)
        role_exists = False
        with pg() as conn:
            role_exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (CONN_ROLE,)
            ).fetchone()
        with pg(TENANT_DB) as conn:
            if role_exists:
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(CONN_ROLE)))
                for slot in slots:
                    if conn.execute(
                        "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)
                    ).fetchone():
                        conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                conn.execute("RESET ROLE")
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(TENANT_ROLE)))
            conn.execute(
                sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(PUBLICATION))
            )
            conn.execute("RESET ROLE")
            if role_exists:
                # Revokes what was granted to it here and on the database (needs membership).
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(CONN_ROLE)))
        with pg() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(CONN_ROLE)))
            left = conn.execute(
                "SELECT slot_name FROM pg_replication_slots WHERE slot_name = ANY(%s)", (slots,)
            ).fetchall()
        assert not left, left
    with step("Kafka: topics, ACLs, consumer group, SCRAM user", critical=False):
        mine = [t for t in topics(kadmin) if t.startswith((PREFIX + ".", FOREIGN_PREFIX))]
        if mine:
            for f in kadmin.delete_topics(mine, operation_timeout=30).values():
                f.result(timeout=30)
        with suppress(Exception):
            for f in kadmin.delete_consumer_groups([f"{PREFIX}.smoke"]).values():
                f.result(timeout=30)
        for f in kadmin.delete_acls(
            [
                AclBindingFilter(
                    ResourceType.ANY,
                    None,
                    ResourcePatternType.ANY,
                    f"User:{KAFKA_USER}",
                    None,
                    AclOperation.ANY,
                    AclPermissionType.ANY,
                )
            ]
        ).values():
            f.result(timeout=30)
        with suppress(Exception):
            for f in kadmin.alter_user_scram_credentials(
                [UserScramCredentialDeletion(KAFKA_USER, ScramMechanism.SCRAM_SHA_512)]
            ).values():
                f.result(timeout=30)
        say(f"     deleted topics {mine}")
    with step("throwaway tenant database and role dropped", critical=False), pg() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TENANT_DB))
        )
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(TENANT_ROLE)))


if __name__ == "__main__":
    sys.exit(main())
