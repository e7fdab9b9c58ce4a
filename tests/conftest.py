"""Fixtures: apps on a SQLite or PostgreSQL store, against the real local service stack."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis
from flask import Flask
from psycopg import sql

from marketplace.adapters import AddonAdapter, Reconciliation, discover_adapter_factories
from marketplace.config import load_config
from marketplace.context import broker
from marketplace.extensions import db
from tests import support
from tests.async_support import QUEUE_KINDS, REDIS_QUEUE_URL, flush_redis_queues
from tests.support import (
    CREATED_APPS,
    PartnerClient,
    admin_url,
    build_app,
    owned_names,
    owned_postgres_objects,
    remove_leftovers,
)


@pytest.fixture(scope="session")
def installed_adapters() -> list[AddonAdapter]:
    """Every installed adapter, configured for the local stack."""
    # Scoped to this session's prefix, so other processes using the same servers (another
    # suite, `make run`) cannot make this session's leak check fail.
    config = load_config(
        "/nonexistent",
        {
            "SECRET_KEY": "x",
            "ENCRYPTION_KEYS": ["x"],
            "BACKEND_NAME_PREFIX": support.SESSION_PREFIX,
        },
    )
    return [factory(config) for _, factory in sorted(discover_adapter_factories().items())]


def _is_unit(path: object) -> bool:
    """Unit tests run with every backend service stopped (``pytest tests/unit``)."""
    return f"{os.sep}tests{os.sep}unit{os.sep}" in str(path)


@pytest.fixture(scope="session")
def _needs_backends(request) -> bool:
    return not all(_is_unit(item.path) for item in request.session.items)


@pytest.fixture(scope="session", autouse=True)
def _service_stack(_needs_backends, installed_adapters) -> None:
    """Fail loudly (not skip) when a backend is down: `make test` starts them all."""
    if not _needs_backends:
        return
    for adapter in installed_adapters:
        status = adapter.check()
        if not status.ok:
            pytest.exit(
                f"{adapter.spec.slug} backend is not reachable ({status.detail}); "
                "run `make services`",
                returncode=3,
            )
    client = redis.Redis.from_url(REDIS_QUEUE_URL, socket_connect_timeout=5)
    try:  # the job queue tests run on Redis too
        client.ping()
    except redis.RedisError as error:
        pytest.exit(f"Redis is not reachable ({error}); run `make services`", returncode=3)
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_behind(_service_stack, _needs_backends, installed_adapters) -> Iterator[None]:
    """The whole suite must leave no tenant object on any backend."""
    if not _needs_backends:
        yield
        return
    owning = [a for a in installed_adapters if isinstance(a, Reconciliation)]
    before = {a.spec.slug: owned_names(a) for a in owning}
    yield
    leaked = {a.spec.slug: sorted(owned_names(a) - before[a.spec.slug]) for a in owning}
    assert not any(leaked.values()), f"the suite left tenant objects behind: {leaked}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_store_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the broker's own store, dropped afterwards."""
    name = f"broker_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = psycopg.conninfo.conninfo_to_dict(admin_url())
    yield (
        f"postgresql://{base['user']}:{base['password']}@{base.get('host', '127.0.0.1')}:"
        f"{base.get('port', 5432)}/{name}"
    )
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(autouse=True)
def _own_name_prefix(request) -> Iterator[None]:
    """Give the test its own backend name prefix; afterwards, nothing may carry it."""
    support._TestPrefix.value = f"{support.SESSION_PREFIX}{uuid.uuid4().hex[:4]}_"
    yield
    if _is_unit(request.node.path):
        return
    left = owned_postgres_objects()
    assert not left, f"this test left PostgreSQL objects behind: {sorted(left)}"


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close every store connection the test's apps opened."""
    yield
    while CREATED_APPS:
        app = CREATED_APPS.pop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
            broker().queue.close()
        app.extensions["marketplace_events"].sender.close(timeout=1.0)


@pytest.fixture(params=QUEUE_KINDS)
def any_queue_url(request, tmp_path) -> Iterator[str]:
    """Job queue storage of each kind the broker supports: SQLite (one machine), PostgreSQL
    (a database of the test's own) and Redis (the test's own queue names, flushed after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
    elif request.param == "postgres":
        yield request.getfixturevalue("postgres_store_url")
    else:
        yield REDIS_QUEUE_URL
        flush_redis_queues()


@pytest.fixture
def app(sqlite_url) -> Iterator[Flask]:
    app = build_app(sqlite_url)
    yield app
    remove_leftovers(app)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store_app(request) -> Iterator[Flask]:
    """The same app on each store the broker supports."""
    url = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_store_url"
    )
    app = build_app(url)
    yield app
    remove_leftovers(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def partner(app) -> PartnerClient:
    return PartnerClient(app.test_client(), app, "postgres")


@pytest.fixture
def any_store_partner(any_store_app) -> PartnerClient:
    return PartnerClient(any_store_app.test_client(), any_store_app, "postgres")
