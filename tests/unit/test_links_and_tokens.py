"""Linked resources (same app only, dependants told on removal) and resource API tokens."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from sqlalchemy import select, update

from marketplace.extensions import db
from marketplace.models import Resource, ResourceLink
from tests.memory import LinkingAdapter, MemoryAdapter, MemoryBackend
from tests.support import PartnerClient, build_app, csrf_token

APP_A, APP_B = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def world(sqlite_url):
    linking = LinkingAdapter(MemoryBackend())
    app = build_app(sqlite_url, adapters=[MemoryAdapter(MemoryBackend()), linking])
    return app, linking


def _partner(app, slug: str) -> PartnerClient:
    return PartnerClient(app.test_client(), app, slug)


def _provision(app, slug: str, name: str, app_id: str | None) -> str:
    uuid_ = _partner(app, slug).provision(plan="small", name=name).get_json()["id"]
    with app.app_context():  # what the worker learns from the platform's add-on info
        db.session.execute(
            update(Resource).where(Resource.uuid == uuid_).values(app_id=app_id, app_name="demo")
        )
        db.session.commit()
    return uuid_


def _signed_in(app, uuid_: str) -> tuple[PartnerClient, str]:
    partner = _partner(app, "linking")
    assert partner.client.post("/sso/login", data=partner.sso_form(uuid_)).status_code == 302
    page = partner.client.get(f"/dashboard/{uuid_}").get_data(as_text=True)
    return partner, csrf_token(page)


def _issue_token(app, uuid_: str) -> str:
    partner, csrf = _signed_in(app, uuid_)
    page = partner.client.post(f"/dashboard/{uuid_}/api-token", data={"csrf_token": csrf})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    found = re.search(r"<code data-api-token>([^<]+)</code>", page.get_data(as_text=True))
    return unescape(found.group(1))


def _links(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(ResourceLink)).all()
        return [(link.source.uuid, link.target.uuid) for link in rows]


def test_a_link_resolves_by_name_within_the_same_app_only(world):
    app, _ = world
    source = _provision(app, "linking", "sync", APP_A)
    mine = _provision(app, "memory", "primary-db", APP_A)
    _provision(app, "memory", "other-db", APP_B)
    token = _issue_token(app, source)
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()

    foreign = client.put(
        f"/resources/{source}/links/database", json={"target": "other-db"}, headers=bearer
    )
    assert foreign.status_code == 422
    assert "no memory resource called 'other-db'" in foreign.get_json()["message"]
    assert _links(app) == []

    linked = client.put(
        f"/resources/{source}/links/database", json={"target": "primary-db"}, headers=bearer
    )
    assert linked.status_code == 200, linked.get_json()
    assert _links(app) == [(source, mine)]
    view = client.get(f"/resources/{source}", headers=bearer).get_json()
    assert view["links"] == [
        {"name": "database", "addon": "memory", "target": {"id": mine, "name": "primary-db"}}
    ]


def test_a_resource_whose_app_is_unknown_cannot_link(world):
    app, _ = world
    source = _provision(app, "linking", "sync", None)
    _provision(app, "memory", "primary-db", APP_A)
    token = _issue_token(app, source)
    answer = app.test_client().put(
        f"/resources/{source}/links/database",
        json={"target": "primary-db"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422
    assert "app is not known" in answer.get_json()["message"]


def test_removing_a_link_target_is_never_refused_and_its_dependant_is_told(world):
    app, linking = world
    source = _provision(app, "linking", "sync", APP_A)
    target = _provision(app, "memory", "primary-db", APP_A)
    token = _issue_token(app, source)
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert (
        client.put(
            f"/resources/{source}/links/database", json={"target": target}, headers=bearer
        ).status_code
        == 200
    )

    assert _partner(app, "memory").deprovision(target).status_code == 204

    assert linking.removed == [(source, "database")]
    assert _links(app) == []
    view = client.get(f"/resources/{source}", headers=bearer).get_json()
    assert "was removed; sync has stopped" in view["condition"]
    assert view["links"][0]["target"] is None


def test_an_api_token_opens_its_own_resource_only(world):
    app, _ = world
    first = _provision(app, "linking", "one", APP_A)
    second = _provision(app, "linking", "two", APP_A)
    token = _issue_token(app, first)
    client = app.test_client()

    assert (
        client.get(f"/resources/{first}", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    other = client.get(f"/resources/{second}", headers={"Authorization": f"Bearer {token}"})
    assert other.status_code == 403
    wrong = client.get(f"/resources/{first}", headers={"Authorization": "Bearer mkt_rt_nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(f"/resources/{first}").status_code == 403  # neither session nor token

    with app.app_context():
        stored = db.session.scalar(select(Resource.api_token_hash).where(Resource.uuid == first))
    assert stored and token not in stored and len(stored) == 64


def test_a_token_is_shown_once_and_can_be_replaced_and_revoked(world):
    app, _ = world
    uuid_ = _provision(app, "linking", "one", APP_A)
    first = _issue_token(app, uuid_)
    partner, csrf = _signed_in(app, uuid_)
    later_page = partner.client.get(f"/dashboard/{uuid_}").get_data(as_text=True)
    assert first not in later_page and "A token was issued" in later_page

    second = _issue_token(app, uuid_)
    client = app.test_client()
    assert (
        client.get(f"/resources/{uuid_}", headers={"Authorization": f"Bearer {first}"}).status_code
        == 401
    )
    assert (
        client.get(f"/resources/{uuid_}", headers={"Authorization": f"Bearer {second}"}).status_code
        == 200
    )

    partner, csrf = _signed_in(app, uuid_)
    partner.client.post(f"/dashboard/{uuid_}/api-token/revoke", data={"csrf_token": csrf})
    assert (
        client.get(f"/resources/{uuid_}", headers={"Authorization": f"Bearer {second}"}).status_code
        == 401
    )


def test_session_writes_need_the_csrf_header_and_bearer_writes_do_not(world):
    app, _ = world
    uuid_ = _provision(app, "linking", "one", APP_A)
    token = _issue_token(app, uuid_)
    partner, csrf = _signed_in(app, uuid_)

    bare = partner.client.post(f"/resources/{uuid_}/actions/add_item", json={"count": 1})
    assert bare.status_code == 400
    assert "X-CSRFToken" in bare.get_json()["message"]
    with_header = partner.client.post(
        f"/resources/{uuid_}/actions/add_item", json={"count": 1}, headers={"X-CSRFToken": csrf}
    )
    assert with_header.status_code == 200 and with_header.get_json()["message"] == "1 items."
    by_token = app.test_client().post(
        f"/resources/{uuid_}/actions/add_item",
        json={"count": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert by_token.status_code == 200 and by_token.get_json()["message"] == "2 items."


def test_an_action_can_redirect_the_browser(world):
    app, _ = world
    uuid_ = _provision(app, "linking", "one", APP_A)
    partner, csrf = _signed_in(app, uuid_)
    answer = partner.client.post(f"/dashboard/{uuid_}/actions/login", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "https://login.example.com/authorize?x=1"
    as_json = app.test_client().post(
        f"/resources/{uuid_}/actions/login",
        json={},
        headers={"Authorization": f"Bearer {_issue_token(app, uuid_)}"},
    )
    assert as_json.get_json()["redirect"] == "https://login.example.com/authorize?x=1"


def test_credentials_rotate_through_the_json_api(world):
    app, _ = world
    uuid_, other = (_provision(app, "linking", name, APP_A) for name in ("one", "two"))
    bearer = {"Authorization": f"Bearer {_issue_token(app, uuid_)}"}
    client = app.test_client()
    [name] = client.get(f"/resources/{uuid_}", headers=bearer).get_json()["config_vars"]

    def value() -> str:
        answer = client.post(f"/resources/{uuid_}/config-vars/{name}/reveal", headers=bearer)
        return str(answer.get_json()["value"])

    before = value()
    rotated = client.post(f"/resources/{uuid_}/credentials/rotate", headers=bearer)
    assert rotated.status_code == 200
    assert rotated.headers["Cache-Control"] == "no-store"
    body = rotated.get_json()
    assert body["config_vars"] == [name] and body["pushed_to_platform"] is False
    assert before not in rotated.get_data(as_text=True)  # values only when revealed
    assert value() not in (before, "")
    assert client.post(f"/resources/{other}/credentials/rotate", headers=bearer).status_code == 403
    partner, _ = _signed_in(app, uuid_)
    unsafe = partner.client.post(f"/resources/{uuid_}/credentials/rotate")
    assert unsafe.status_code == 400  # a session write needs the X-CSRFToken header
