"""Helpers shared by the test suite: app building, a partner client, SSO forms, a live server."""

from __future__ import annotations

import base64
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import make_server

from addons.postgres import PostgresAdapter
from addons.postgres.plans import DEFAULT_ADMIN_URL as DEFAULT_POSTGRES_ADMIN_URL
from marketplace import MIGRATIONS_DIR, create_app
from marketplace.adapters import AddonAdapter, BackendObject, ResourceRef
from marketplace.context import broker
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.services.catalog import get_addon, sync_catalog
from marketplace.services.manifest import build_manifest
from marketplace.services.sso import resource_token

ENCRYPTION_KEY = Fernet.generate_key().decode()
CREATED_APPS: list[Flask] = []  # disposed after each test by conftest


SESSION_PREFIX = f"mkt_t{uuid.uuid4().hex[:4]}"


class _TestPrefix:
    """Each test names its backend objects with a prefix of its own (set by conftest), so
    before/after comparisons see only that test's objects, whatever else runs on the server.
    Every prefix of one test session starts with :data:`SESSION_PREFIX`."""

    value = f"{SESSION_PREFIX}0000_"


def name_prefix() -> str:
    """The current test's backend name prefix (it starts with ``mkt_``)."""
    return _TestPrefix.value


def build_app(
    store_url: str,
    adapters: Iterable[AddonAdapter] | None = None,
    **overrides: Any,
) -> Flask:
    """An app on ``store_url`` with migrations applied and the catalog seeded."""
    config = {
        "TESTING": True,
        "DATABASE_URL": store_url,
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEYS": [ENCRYPTION_KEY],
        "MARKETPLACE_URL": "http://localhost",
        "LOG_LEVEL": "INFO",
        "POSTGRES_ADMIN_URL": admin_url(),
        "BACKEND_NAME_PREFIX": name_prefix(),
        **overrides,
    }
    app = create_app(config, adapters=adapters)
    CREATED_APPS.append(app)
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        sync_catalog(broker().registry, broker().vault, app.config["PROVISIONING_MODES"])
    return app


def admin_url() -> str:
    """The adapter's admin URL (the local stack unless POSTGRES_ADMIN_URL says otherwise)."""
    return os.environ.get("POSTGRES_ADMIN_URL", DEFAULT_POSTGRES_ADMIN_URL)


def manifest(app: Flask, slug: str) -> dict[str, Any]:
    """The add-on's manifest (password and salt included)."""
    with app.app_context():
        return build_manifest(get_addon(slug), app.config["MARKETPLACE_URL"], broker().vault)


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class PartnerClient:
    """Plays the platform against the Partner API of one add-on."""

    def __init__(self, client: FlaskClient, app: Flask, slug: str) -> None:
        self.client = client
        self.slug = slug
        self.manifest = manifest(app, slug)
        self.headers = basic_auth(slug, self.manifest["api"]["password"])

    def provision_body(self, **fields: Any) -> dict[str, Any]:
        body = {
            "uuid": str(uuid.uuid4()),
            "plan": fields.pop("plan", "essential-0"),
            "region": "amazon-web-services::us-east-1",
            "name": "acme-inc-primary-database",
            "callback_url": "https://api.example.com/addons/x",
            "options": {},
            "oauth_grant": None,
            "log_input_url": None,
            "log_drain_token": None,
        }
        body.update(fields)
        return body

    def provision(self, **fields: Any) -> Any:
        return self.client.post(
            "/heroku/resources", json=self.provision_body(**fields), headers=self.headers
        )

    def change_plan(self, uuid_: str, plan: str) -> Any:
        return self.client.put(
            f"/heroku/resources/{uuid_}", json={"plan": plan}, headers=self.headers
        )

    def deprovision(self, uuid_: str) -> Any:
        return self.client.delete(f"/heroku/resources/{uuid_}", headers=self.headers)

    def sso_form(
        self, resource_id: str, *, age_seconds: int | None = None, **extra: str
    ) -> dict[str, str]:
        """A signed SSO login form; without ``age_seconds``, one whose token no earlier form in
        this run used (tokens are single use, and two forms within a second would collide)."""
        if age_seconds is None:
            age_seconds = _fresh_sso_age(resource_id)
        timestamp = str(int(time.time()) - age_seconds)
        salt = self.manifest["api"]["sso_salt"]
        return {
            "resource_id": resource_id,
            "resource_token": resource_token(resource_id, salt, timestamp),
            "timestamp": timestamp,
            "nav-data": "eyJhZGRvbiI6IlBvc3RncmVTUUwifQ",
            "email": "user@example.com",
            "user_id": "fedcba98-7654-3210-fedc-ba9876543210",
            "app": "acme-web",
            **extra,
        }


_SSO_TIMESTAMPS_USED: set[tuple[str, int]] = set()


def _fresh_sso_age(resource_id: str) -> int:
    now, age = int(time.time()), 0
    while (resource_id, now - age) in _SSO_TIMESTAMPS_USED:
        age += 1
    _SSO_TIMESTAMPS_USED.add((resource_id, now - age))
    return age


def owned_postgres_objects() -> set[str]:
    """This test's tenant databases and roles, read with the admin role."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %(p)s)"
            " UNION ALL SELECT rolname FROM pg_roles WHERE starts_with(rolname, %(p)s)",
            {"p": name_prefix()},
        ).fetchall()
    return {row[0] for row in rows}


def postgres_adapter(admin: str | None = None) -> PostgresAdapter:
    """A Postgres adapter on the local server (or ``admin``) with this test's prefix."""
    return PostgresAdapter(admin or admin_url(), name_prefix=name_prefix())


@contextmanager
def live_server(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on loopback (``port``, or a free one) in a thread; yield its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def free_port() -> int:
    """A loopback port nobody listens on (for an app that must know its URL up front)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def decrypt_config(app: Flask, token: str | None) -> Mapping[str, str]:
    with app.app_context():
        return broker().vault.decrypt_mapping(token)


def wait_until(
    condition: Callable[[], Any], timeout: float = 30, what: str = "the condition holds"
) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that; fail the test
    after ``timeout`` seconds. For state no event announces (a backend's, another process's)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting until {what}"
        time.sleep(0.05)


def remove_leftovers(app: Flask) -> None:
    """Remove backend objects of resources a test left provisioned."""
    with app.app_context():
        for resource in db.session.scalars(
            select(Resource).where(Resource.state != ResourceState.DEPROVISIONED)
        ):
            adapter = broker().registry.get(resource.addon.slug)
            if adapter is not None:
                plan = adapter.spec.plan(resource.plan.slug) or adapter.spec.default_plan
                adapter.deprovision(ResourceRef(resource.uuid, plan, resource.region))
        db.session.remove()


def owned_names(adapter: Any) -> set[str]:
    """The adapter's owned backend objects as ``kind:name`` strings."""
    return {str(obj) for obj in adapter.owned()}


def names_of(adapter: Any, resource_id: str) -> set[str]:
    """A resource's backend objects as ``kind:name`` strings."""
    ref = ResourceRef(resource_id, adapter.spec.default_plan, "us")
    return {str(obj) for obj in adapter.objects_of(ref)}


def as_object(name: str) -> BackendObject:
    """The :class:`BackendObject` a ``kind:name`` string stands for."""
    kind, _, bare = name.partition(":")
    return BackendObject(kind, bare)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    """The CSRF token in a dashboard page's forms."""
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def rotate_on_dashboard(client: FlaskClient, resource_uuid: str) -> str:
    """Rotate the resource's credentials with its dashboard's confirmed form, as the signed-in
    ``client``; return the page shown afterwards."""
    page = client.get(f"/dashboard/{resource_uuid}").get_data(as_text=True)
    return str(
        client.post(
            f"/dashboard/{resource_uuid}/credentials/rotate",
            data={"csrf_token": csrf_token(page), "confirm": "rotate"},
            follow_redirects=True,
        ).get_data(as_text=True)
    )
