"""External Objects before Connect exists: a test-only add-on whose resources link to a real
Postgres resource and serve its tables through :class:`ExternalObjects`, and a world with
both provisioned in one app, linked, with tables made through the tenant's DATABASE_URL."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import psycopg
from flask import Flask
from sqlalchemy import update

from addons.connect.external_objects import ExternalObjects
from addons.postgres.dataservice import close_idle_connections
from marketplace.adapters import (
    ActionResult,
    AddonSpec,
    BackendStatus,
    LinkedResource,
    LinkSpec,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceRef,
)
from marketplace.context import lifecycle
from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.odata.credentials import CLOCK_EXTENSION
from marketplace.services import api_tokens, links
from tests.support import PartnerClient, build_app, decrypt_config, postgres_adapter

XO_SPEC = AddonSpec(
    slug="xotest",
    name="XO Test",
    summary="A data-service add-on for tests.",
    description="Serves the tables of its linked Postgres resource.",
    category="Testing",
    config_vars_prefix="XOTEST",
    config_vars=("XOTEST_URL",),
    plans=(
        PlanSpec("demo", "Demo", "No External Objects.", 0, {"external_objects": 0}, default=True),
        PlanSpec("enterprise", "Enterprise", "External Objects.", 100, {"external_objects": 1}),
    ),
    links=(LinkSpec("database", "postgres", "The database whose tables are served."),),
)


class XoTestAdapter(ExternalObjects):
    """Core contract plus the data service; owns nothing on any backend."""

    spec = XO_SPEC

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        return ProvisionResult({"XOTEST_URL": f"xo://{request.resource_id}"})

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        return ProvisionResult({})

    def deprovision(self, resource: ResourceRef) -> None:
        return None

    def check(self) -> BackendStatus:
        return BackendStatus(True)

    def link_attached(self, resource: ResourceRef, target: LinkedResource) -> ActionResult:
        return ActionResult(f"Linked to {target.resource.name}.")

    def link_removed(self, resource: ResourceRef, link: str) -> ActionResult:
        return ActionResult("The database was removed.")


@dataclass
class Clock:
    """An injectable clock (``app.extensions["odata_clock"]``)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """One app with a Postgres resource and an xotest resource linked to it."""

    app: Flask
    pg_uuid: str
    xo_uuid: str
    database_url: str
    token: str
    clock: Clock

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def enable(self) -> dict[str, str]:
        answer = self.app.test_client().post(
            f"/connect/api/v3/connections/{self.xo_uuid}/odata", headers=self.bearer
        )
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def share(self, *tables: str) -> Any:
        return self.app.test_client().put(
            f"/connect/api/v3/connections/{self.xo_uuid}/odata/tables",
            json={"tables": list(tables)},
            headers=self.bearer,
        )


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


_NAMES = itertools.count()


@contextmanager
def odata_world(store_url: str, *, plan: str = "enterprise", **config: Any) -> Iterator[World]:
    """Provision, link and hand over a world; remove everything afterwards."""
    app = build_app(store_url, adapters=[postgres_adapter(), XoTestAdapter()], **config)
    clock = Clock()
    app.extensions[CLOCK_EXTENSION] = clock
    app_id = str(uuid.uuid4())
    pg = PartnerClient(app.test_client(), app, "postgres")
    xo = PartnerClient(app.test_client(), app, "xotest")
    n = next(_NAMES)
    pg_answer = pg.provision(plan="essential-0", name=f"db-{n}")
    assert pg_answer.status_code == 200, pg_answer.get_json()
    pg_uuid = pg_answer.get_json()["id"]
    xo_uuid = xo.provision(plan=plan, name=f"xo-{n}").get_json()["id"]
    try:
        with app.app_context():
            db.session.execute(
                update(Resource)
                .where(Resource.uuid.in_([pg_uuid, xo_uuid]))
                .values(app_id=app_id, app_name="demo")
            )
            db.session.commit()
            links.attach(xo_uuid, "database", pg_uuid, lifecycle())
            token = api_tokens.issue(xo_uuid)
            stored = db.session.get(Resource, _row_id(pg_uuid)).config_encrypted
        url = decrypt_config(app, stored)["DATABASE_URL"]
        yield World(app, pg_uuid, xo_uuid, url, token, clock)
    finally:
        close_idle_connections()
        xo.deprovision(xo_uuid)
        pg.deprovision(pg_uuid)


def _row_id(uuid_: str) -> str:
    from sqlalchemy import select

    return db.session.scalar(select(Resource.id).where(Resource.uuid == uuid_))


@contextmanager
def module_world(store_url: str, tag: str, schema: str, *tables: str) -> Iterator[World]:
    """A world for a whole test module: its own name prefix (so each test's leftover check
    does not see it), ``schema`` run in the tenant database, External Objects on and
    ``tables`` shared; ``credentials``, ``auth`` and ``root`` (the service path) set."""
    from tests import support

    saved = support._TestPrefix.value
    support._TestPrefix.value = f"{support.SESSION_PREFIX}{tag}_"
    try:
        with odata_world(store_url) as world:
            support.CREATED_APPS.remove(world.app)
            world.sql(schema)
            credentials = world.enable()
            shared = world.share(*tables)
            assert shared.status_code == 200, shared.get_json()
            world.credentials = credentials
            world.auth = basic(credentials["username"], credentials["password"])
            world.root = "/odata/v4/" + credentials["url"].split("/odata/v4/")[1]
            yield world
    finally:
        support._TestPrefix.value = saved


def odata_get(world: World, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    """GET ``path`` below the world's service root with its Basic credentials."""
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    return world.app.test_client().get(
        world.root + path + ("?" + query if query else ""),
        headers={**world.auth, **(headers or {})},
    )


def odata_send(world: World, method: str, path: str, body: Any = None) -> Any:
    """``method`` on ``path`` below the service root with a JSON body."""
    client = world.app.test_client()
    return client.open(world.root + path, method=method, json=body, headers=world.auth)


def strict_json(answer: Any) -> Any:
    """The body parsed as strict JSON (no NaN/Infinity tokens)."""

    def refuse(token: str) -> None:
        raise AssertionError(f"invalid JSON token {token}")

    return json.loads(answer.get_data(as_text=True), parse_constant=refuse)


def error_message(answer: Any, status: int = 400) -> str:
    """The message of an OData error answer with ``status`` (which it asserts)."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = strict_json(answer)
    assert set(body["error"]) == {"code", "message"}
    return body["error"]["message"]
