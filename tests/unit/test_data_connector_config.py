"""Data connectors without any backend: request checks, the status rules, and the Debezium
config (which must never be shown with its secrets)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from addons.postgres import create_adapter
from addons.postgres.capture import split_column, split_table
from addons.postgres.debezium import MASK, connector_config, default_sslmode, jaas, masked
from marketplace.adapters import ConnectorHealth, ConnectorSpec, KafkaLogin, ProvisionRejected
from marketplace.errors import Unprocessable
from marketplace.models._types import utcnow
from marketplace.services.data_connector_views import (
    as_json,
    human_bytes,
    live_status,
    parse_request,
    view_of,
)

LOGIN = KafkaLogin("mkt_0123456789abcdef.", "mkt_0123456789abcdef", "s3cretPassw0rd")
SPEC = ConnectorSpec("id", "orders", ("public.items", "app.line$items"), ("public.items.card",))


def _config(**changes: str) -> dict[str, str]:
    return connector_config(
        name="mkt_c_abc",
        host="db.example.com",
        port="5432",
        database="mkt_d_abc",
        password="role-password",
        connector=SPEC,
        kafka=LOGIN,
        **changes,
    )


def test_the_connector_config_writes_as_the_tenant_under_its_prefix():
    config = _config()
    assert config["topic.prefix"] == "mkt_0123456789abcdef.orders"
    assert config["table.include.list"] == r"public\.items,app\.line\$items"
    assert config["column.exclude.list"] == r"public\.items\.card"
    assert 'username="mkt_0123456789abcdef"' in config["producer.override.sasl.jaas.config"]
    assert config["publication.autocreate.mode"] == "disabled"
    assert config["snapshot.mode"] == "no_data"
    assert not any(key.startswith(("topic.creation", "admin.override")) for key in config)
    heartbeat = config["transforms.heartbeatTopic.replacement"]
    assert heartbeat == "mkt_0123456789abcdef.orders.heartbeat"


@pytest.mark.parametrize(
    ("host", "sslmode"),
    [
        ("127.0.0.1", "disable"),
        ("127.8.0.2", "disable"),
        ("localhost", "disable"),
        ("[::1]", "disable"),
        ("10.0.0.5", "prefer"),
        ("db.example.com", "prefer"),
        ("localhost.example.com", "prefer"),
    ],
)
def test_tls_is_left_out_only_on_loopback(host, sslmode):
    assert default_sslmode(host) == sslmode


def test_the_replication_connection_uses_the_sslmode_it_is_given():
    assert _config()["database.sslmode"] == "prefer"
    assert _config(sslmode="verify-full")["database.sslmode"] == "verify-full"


def test_an_unknown_sslmode_setting_is_refused_at_start():
    settings = {"POSTGRES_ADMIN_URL": "postgresql://a:b@127.0.0.1:1/postgres"}
    with pytest.raises(ValueError, match="DATA_CONNECTOR_SSLMODE"):
        create_adapter({**settings, "DATA_CONNECTOR_SSLMODE": "on"})
    assert create_adapter({**settings, "DATA_CONNECTOR_SSLMODE": "require"})._sslmode == "require"


def test_masked_configs_carry_no_secret():
    shown = masked(_config())
    text = repr(shown)
    assert "role-password" not in text and "s3cretPassw0rd" not in text
    assert shown["database.password"] == MASK
    assert "password" not in repr(LOGIN)


def test_jaas_refuses_credentials_that_could_break_out_of_the_quotes():
    with pytest.raises(ValueError):
        jaas(KafkaLogin("p.", 'user" password="x', "pw"))


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"tables": ["public.items"]},  # no kafka
        {"kafka": "k", "tables": []},
        {"kafka": "k", "tables": "public.items"},
        {"kafka": "k", "tables": [1]},
        {"kafka": "k", "tables": ["t"], "name": "Has Caps"},
        {"kafka": "k", "tables": ["t"], "name": "a.b"},
        {"kafka": "k", "tables": ["t"], "settings": {"database.user": "postgres"}},
        {"kafka": "k", "tables": ["t"], "settings": {"decimal.handling.mode": "eval"}},
        {"kafka": "k", "tables": ["t"] * 201},
        {"kafka": "k", "tables": ["t"], "platform_version": 3},
        {"kafka": "k", "tables": ["t"], "postgres_addon_uuid": ["x"]},
    ],
)
def test_bad_requests_are_refused(body):
    with pytest.raises(Unprocessable):
        parse_request(body, creating=True)


def test_a_good_request_is_taken_apart():
    request = parse_request(
        {
            "kafka": " my-kafka ",
            "tables": ["public.a", "public.a", "public.b"],
            "settings": {"tombstones.on.delete": False},
        },
        creating=True,
    )
    assert request.kafka == "my-kafka"
    assert request.tables == ("public.a", "public.b")
    assert request.settings == {"tombstones.on.delete": "false"}


def test_heroku_clients_request_body_is_taken():
    # What Heroku's CLI and API clients send to POST /kafka_tenants/<kafka>: "" for a
    # generated name, a platform_version, the database in postgres_addon_uuid.
    request = parse_request(
        {
            "kafka": "k",
            "postgres_addon_uuid": "pg",
            "tables": ["public.posts"],
            "excluded_columns": [],
            "name": "",
            "platform_version": "",
        },
        creating=True,
    )
    assert (request.name, request.postgres, request.excluded_columns) == (None, "pg", ())


@pytest.mark.parametrize("name", ["items", "public.items; drop", 'public."x"', "a.b.c", ""])
def test_table_names_must_be_schema_dot_table(name):
    with pytest.raises(ProvisionRejected):
        split_table(name)
    assert split_column("public.items.card") == ("public", "items", "card")


def _row(status: str, age: float = 0):
    return SimpleNamespace(
        status=status, status_reason=None, created_at=utcnow() - timedelta(seconds=age)
    )


def test_running_is_not_available_until_the_slot_streams():
    running = ConnectorHealth("RUNNING", slot_active=False, lag_bytes=10)
    assert live_status(_row("creating"), running)[0] == "creating"
    streaming = ConnectorHealth("RUNNING", slot_active=True, lag_bytes=10)
    assert live_status(_row("creating"), streaming) == ("available", None, True)
    status, reason, streaming_now = live_status(_row("available"), running)
    assert status == "available" and reason and not streaming_now
    failed = ConnectorHealth("FAILED", reason="TopicAuthorizationException")
    assert live_status(_row("available"), failed)[:2] == ("error", "TopicAuthorizationException")
    lost = ConnectorHealth("RUNNING", slot_active=False, wal_status="lost")
    assert live_status(_row("available"), lost)[0] == "error"
    # Resumed: Kafka Connect starts the tasks a moment later; never "paused" again meanwhile
    # (Heroku's clients wait for paused -> available).
    status, reason, streaming_now = live_status(_row("available"), ConnectorHealth("STOPPED"))
    assert (status, streaming_now) == ("available", False) and "Resuming" in str(reason)
    assert live_status(_row("paused"), streaming)[0] == "paused"  # still stopping
    missing = ConnectorHealth("MISSING", reason="gone")
    assert live_status(_row("creating"), missing)[0] == "creating"
    assert live_status(_row("creating", age=3600), missing)[0] == "error"


def test_lag_in_words():
    assert human_bytes(None) == "unknown"
    assert human_bytes(1000) == "< 1 MB"
    assert human_bytes(5 * 1024**2) == "5.0 MB"


def test_a_paused_connector_past_the_lag_threshold_is_flagged():
    resource = SimpleNamespace(name="r", uuid="u", app_name="shop")
    row = SimpleNamespace(
        id="c",
        name="orders",
        status="paused",
        status_reason=None,
        created_at=utcnow(),
        tables=["public.items"],
        excluded_columns=[],
        settings={},
        kafka=resource,
        postgres=resource,
    )
    over = view_of(row, LOGIN, ConnectorHealth("STOPPED", lag_bytes=2_000), 1_000)
    under = view_of(row, LOGIN, ConnectorHealth("STOPPED", lag_bytes=500), 1_000)
    assert over.lag_exceeded and not under.lag_exceeded
    assert over.topics == (("public.items", "mkt_0123456789abcdef.orders.public.items"),)
    row.status = "available"
    running = view_of(
        row, LOGIN, ConnectorHealth("RUNNING", slot_active=True, lag_bytes=2_000), 1_000
    )
    assert not running.lag_exceeded
    body = as_json(running)
    assert body["kafka_app"] == body["postgres_app"] == {"name": "shop"}
