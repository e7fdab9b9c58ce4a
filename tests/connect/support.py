"""Driving a Connect resource in tests: provision with a Postgres resource of the same app,
link, authorize against the Salesforce stand-in, map, and run ticks deterministically."""

from __future__ import annotations

import re
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import requests
from flask import Flask
from sqlalchemy import update

from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.models._types import utcnow
from marketplace.services.api_tokens import issue
from marketplace.services.jobs import tick_resource
from standins.salesforce import StandIn
from tests.support import PartnerClient

API = "/connect/api/v3"


def set_app(app: Flask, uuid: str, app_id: str = "app-1", app_name: str = "demo") -> None:
    """What the worker learns from the platform's add-on info."""
    with app.app_context():
        db.session.execute(
            update(Resource).where(Resource.uuid == uuid).values(app_id=app_id, app_name=app_name)
        )
        db.session.commit()


def drive(app: Flask, uuid: str) -> str:
    """Run the resource's tick now, as the worker would (lease, state write-back)."""
    with app.app_context():
        db.session.execute(
            update(Resource).where(Resource.uuid == uuid).values(next_tick_at=utcnow())
        )
        db.session.commit()
        return tick_resource(uuid)


def consent(authorize_url: str, decision: str = "allow") -> dict[str, str]:
    """Play the user on the stand-in's login page; return the callback's query parameters."""
    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text
        form = re.search(r'<form method="post" action="([^"]+)"', page.text)
        nonce = re.search(r'name="consent" value="([^"]+)"', page.text)
        assert form and nonce, page.text
        base = f"{urlparse(authorize_url).scheme}://{urlparse(authorize_url).netloc}"
        answer = browser.post(
            base + form.group(1),
            data={"consent": nonce.group(1), "username": "x", "decision": decision},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlparse(answer.headers["Location"]).query).items()}


@dataclass
class Connection:
    """A Connect resource and its database, with a Bearer token for the API."""

    app: Flask
    standin: StandIn
    uuid: str
    db_uuid: str
    token: str
    client: Any = None
    schema: str = "salesforce"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.open(f"{API}{path}", method=method, headers=self.headers, **kwargs)

    def database_url(self) -> str:
        from tests.support import decrypt_config

        with self.app.app_context():
            resource = db.session.scalar(db.select(Resource).where(Resource.uuid == self.db_uuid))
            token = resource.config_encrypted
        return decrypt_config(self.app, token)["DATABASE_URL"]

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run SQL as the app would (its own role, a normal session: changes are captured)."""
        with psycopg.connect(self.database_url(), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def tick(self) -> str:
        return drive(self.app, self.uuid)

    def until(self, condition: Any, what: str = "the sync catches up") -> Any:
        """Tick until ``condition()`` holds (polls are due only once their interval passed)."""
        from tests.support import wait_until

        return wait_until(lambda: (self.tick(), condition())[1], timeout=30, what=what)

    def state(self) -> dict[str, Any]:
        body = self.api("GET", f"/connections/{self.uuid}?deep=true")
        assert body.status_code == 200, body.get_json()
        return body.get_json()

    def mapping(self, name: str) -> dict[str, Any]:
        return next(m for m in self.state()["mappings"] if m["object_name"] == name)

    def authorize(self) -> None:
        answer = self.api("POST", f"/connections/{self.uuid}/authorize_url", json={})
        assert answer.status_code == 200, answer.get_json()
        back = consent(answer.get_json()["redirect"])
        done = self.client.get("/connect/oauth/callback", query_string=back)
        assert done.status_code == 200, done.get_data(as_text=True)

    def map(self, name: str, **config: Any) -> dict[str, Any]:
        answer = self.api(
            "POST",
            f"/connections/{self.uuid}/mappings",
            json={"object_name": name, "config": config},
        )
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def sync(self, ticks: int = 5) -> None:
        """Tick until nothing is loading (initial loads finish within a few ticks)."""
        for _ in range(ticks):
            self.tick()
            if all(
                m["state"] not in ("INITIAL", "RELOAD_TABLE", "WAIT_BULK_LOAD")
                for m in self.state().get("mappings", [])
            ):
                return


def provision(
    app: Flask, plan: str = "shield", name: str | None = None, app_id: str = "app-1"
) -> tuple[str, str]:
    """A Connect resource and a Postgres resource of the same app; ``(connect, postgres)``."""
    pg = PartnerClient(app.test_client(), app, "postgres")
    db_uuid = pg.provision(name=f"db-{uuid_module.uuid4().hex[:6]}").get_json()["id"]
    connect = PartnerClient(app.test_client(), app, "connect")
    answer = connect.provision(plan=plan, name=name or f"connect-{uuid_module.uuid4().hex[:6]}")
    assert answer.status_code == 200, answer.get_json()
    uuid = answer.get_json()["id"]
    set_app(app, uuid, app_id)
    set_app(app, db_uuid, app_id)
    return uuid, db_uuid


def token_for(app: Flask, uuid: str) -> str:
    with app.app_context():
        return issue(uuid)


def set_up(
    app: Flask, standin: StandIn, *, plan: str = "shield", link: bool = True, authorize: bool = True
) -> Connection:
    """Provision, link the database and authorize the org."""
    uuid, db_uuid = provision(app, plan)
    conn = Connection(app, standin, uuid, db_uuid, token_for(app, uuid), app.test_client())
    if link:
        answer = conn.api(
            "PATCH", f"/connections/{uuid}", json={"db_key": db_uuid, "schema_name": "salesforce"}
        )
        assert answer.status_code == 200, answer.get_json()
    if authorize:
        conn.authorize()
    return conn


def tear_down(conn: Connection) -> None:
    """Deprovision both resources (the database last)."""
    connect = PartnerClient(conn.app.test_client(), conn.app, "connect")
    pg = PartnerClient(conn.app.test_client(), conn.app, "postgres")
    assert connect.deprovision(conn.uuid).status_code in (204, 410)
    assert pg.deprovision(conn.db_uuid).status_code in (204, 410)


def sso(app: Flask, uuid: str) -> tuple[Any, str]:
    """A test client signed in to ``uuid``'s dashboard, and the page's CSRF token."""
    partner = PartnerClient(app.test_client(), app, "connect")
    answer = partner.client.post("/sso/login", data=partner.sso_form(uuid))
    assert answer.status_code == 302
    page = partner.client.get(f"/dashboard/{uuid}").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, page
    return partner.client, match.group(1)


#: The Contact fields the write-path tests map (``External_Id__c`` is the upsert key).
CONTACT_FIELDS = {"LastName": {}, "Email": {}, "External_Id__c": {}}


def map_contacts(conn: Connection) -> None:
    """Map Contact read-write (upserts on ``External_Id__c``), polling every second."""
    conn.map(
        "Contact",
        access="read_write",
        fields=CONTACT_FIELDS,
        upsert_field="External_Id__c",
        sf_polling_seconds=1,
    )
