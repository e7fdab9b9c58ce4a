"""External Objects' management: turning on and off, credentials (reset overlap with an
injected clock, revocation), shared tables, plan limits, the rate limit, the dashboard
panel, and an independent OData 4.0 client library (python-odata) reading and writing."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import requests
from odata import ODataService

from tests.odata_support import basic, odata_world
from tests.support import PartnerClient, csrf_token, live_server


@pytest.fixture
def world(sqlite_url):
    with odata_world(sqlite_url) as world:
        world.sql(
            "CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL, price numeric);"
            "CREATE TABLE public.nokey (a int);"
            "CREATE VIEW public.noid AS SELECT name FROM public.items;"
            "CREATE VIEW public.items_view AS SELECT id, name FROM public.items;"
            "INSERT INTO public.items (name, price)"
            " SELECT 'n' || g, g FROM generate_series(1, 25) g"
        )
        yield world


def _root(credentials):
    return "/odata/v4/" + credentials["url"].split("/odata/v4/")[1]


def _get(world, credentials, password=None, path="public$items"):
    headers = basic(credentials["username"], password or credentials["password"])
    return world.app.test_client().get(_root(credentials) + path, headers=headers)


def test_turning_on_answers_the_credentials_once_and_the_state_never_shows_the_password(world):
    api = f"/connect/api/v3/connections/{world.xo_uuid}/odata"
    client = world.app.test_client()
    assert client.get(api, headers=world.bearer).get_json() == {
        "state": "disabled",
        "url": None,
        "username": None,
        "tables": [],
    }
    credentials = world.enable()
    assert set(credentials) == {"url", "username", "password"}
    assert re.fullmatch(r"[0-9a-f]{32}", credentials["username"])
    assert re.fullmatch(r"[A-Za-z0-9]{32}", credentials["password"])
    assert re.fullmatch(r"http://localhost/odata/v4/[0-9a-f]{32}/", credentials["url"])
    again = client.post(api, headers=world.bearer)
    assert again.status_code == 409
    assert world.share("public.items").get_json() == {"tables": ["public.items"]}
    state = client.get(api, headers=world.bearer)
    assert state.get_json() == {
        "state": "enabled",
        "url": credentials["url"],
        "username": credentials["username"],
        "tables": ["public.items"],
    }
    assert credentials["password"] not in state.get_data(as_text=True)
    assert _get(world, credentials).status_code == 200
    assert client.get(api).status_code == 403  # neither session nor token
    other = client.get(api, headers={"Authorization": "Bearer mkt_rt_nope"})
    assert other.status_code == 401


def test_tables_that_cannot_be_shared_are_refused_by_name(world):
    world.enable()
    listed = (
        world.app.test_client()
        .get(f"/connect/api/v3/connections/{world.xo_uuid}/odata/tables", headers=world.bearer)
        .get_json()["tables"]
    )
    assert {t["name"]: t["reason"] for t in listed} == {
        "public.items": None,
        "public.items_view": None,
        "public.nokey": "it has no primary key",
        "public.noid": "a view needs a column named id",
    }
    refused = world.share("public.items", "public.nokey", "public.noid", "public.ghost")
    assert refused.status_code == 422
    message = refused.get_json()["message"]
    for part in (
        "public.nokey: it has no primary key",
        "public.noid: a view needs a column",
        "public.ghost: no such table",
    ):
        assert part in message
    assert "public.items:" not in message
    assert world.share("public.items", "public.items_view").status_code == 200
    bad = world.app.test_client().put(
        f"/connect/api/v3/connections/{world.xo_uuid}/odata/tables",
        json={"tables": "public.items"},
        headers=world.bearer,
    )
    assert bad.status_code == 400


def test_a_plan_without_external_objects_cannot_turn_them_on(sqlite_url):
    with odata_world(sqlite_url, plan="demo") as world:
        answer = world.app.test_client().post(
            f"/connect/api/v3/connections/{world.xo_uuid}/odata", headers=world.bearer
        )
        assert answer.status_code == 422
        assert "does not include External Objects" in answer.get_json()["message"]


def test_after_a_reset_old_and_new_passwords_work_for_ten_minutes(world):
    old = world.enable()
    world.share("public.items")
    reset = world.app.test_client().post(
        f"/connect/api/v3/connections/{world.xo_uuid}/odata/actions/reset-credentials",
        headers=world.bearer,
    )
    assert reset.status_code == 200
    new = reset.get_json()
    assert new["username"] == old["username"] and new["password"] != old["password"]
    assert _get(world, new).status_code == 200
    assert _get(world, old).status_code == 200
    world.clock.now += timedelta(minutes=9, seconds=59)
    assert _get(world, old).status_code == 200
    world.clock.now += timedelta(seconds=2)
    assert _get(world, old).status_code == 401
    assert _get(world, new).status_code == 200


def test_revoked_credentials_get_401(world):
    credentials = world.enable()
    world.share("public.items")
    assert _get(world, credentials).status_code == 200
    api = f"/connect/api/v3/connections/{world.xo_uuid}/odata"
    assert world.app.test_client().delete(api, headers=world.bearer).status_code == 204
    revoked = _get(world, credentials)
    assert revoked.status_code == 401
    assert revoked.headers["WWW-Authenticate"].startswith("Basic realm=")
    fresh = world.enable()  # on again: new credentials, same tables; the old ones stay dead
    assert _get(world, fresh).status_code == 200
    assert _get(world, credentials).status_code == 401


def test_the_rate_limit_answers_429_with_retry_after(sqlite_url):
    with odata_world(sqlite_url, ODATA_RATE_LIMIT_PER_HOUR=3) as world:
        world.sql("CREATE TABLE public.items (id int PRIMARY KEY)")
        credentials = world.enable()
        world.share("public.items")
        world.clock.now = world.clock.now.replace(minute=59, second=30, microsecond=0)
        assert [_get(world, credentials).status_code for _ in range(3)] == [200, 200, 200]
        limited = _get(world, credentials)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "30"
        assert limited.get_json()["error"]["code"] == "rate_limited"
        world.clock.now += timedelta(seconds=31)  # the next hour's window
        assert _get(world, credentials).status_code == 200


def test_the_page_size_setting_drives_next_links(sqlite_url):
    with odata_world(sqlite_url, ODATA_PAGE_SIZE=10) as world:
        world.sql(
            "CREATE TABLE public.t (id int PRIMARY KEY);"
            "INSERT INTO public.t SELECT generate_series(1, 25)"
        )
        credentials = world.enable()
        world.share("public.t")
        client, url, seen = world.app.test_client(), _root(credentials) + "public$t", []
        auth = basic(credentials["username"], credentials["password"])
        while url:
            body = client.get(url, headers=auth).get_json()
            seen += [row["id"] for row in body["value"]]
            url = body.get("@odata.nextLink")
        assert seen == list(range(1, 26))


def test_the_dashboard_panel_turns_on_shows_the_password_once_and_picks_tables(world):
    partner = PartnerClient(world.app.test_client(), world.app, "xotest")
    client = partner.client
    assert client.post("/sso/login", data=partner.sso_form(world.xo_uuid)).status_code == 302
    page = client.get(f"/dashboard/{world.xo_uuid}").get_data(as_text=True)
    assert "External Objects" in page and "Turn on External Objects" in page
    csrf = csrf_token(page)
    shown = client.post(f"/dashboard/{world.xo_uuid}/odata", data={"csrf_token": csrf})
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    password = unescape(re.search(r"<code data-odata-password>([^<]+)</code>", html).group(1))
    username = unescape(re.search(r"<code data-odata-username>([^<]+)</code>", html).group(1))
    assert "cannot be shared: it has no primary key" in html
    assert "cannot be shared: a view needs a column named id" in html
    later = client.get(f"/dashboard/{world.xo_uuid}").get_data(as_text=True)
    assert password not in later and username in later
    saved = client.post(
        f"/dashboard/{world.xo_uuid}/odata/tables",
        data={"csrf_token": csrf, "tables": ["public.items", "public.items_view"]},
    )
    assert saved.status_code == 302
    assert "2 tables shared" in client.get(f"/dashboard/{world.xo_uuid}").get_data(as_text=True)
    root = re.search(r"<code data-odata-url>([^<]+)</code>", later).group(1).split("localhost")[1]
    answer = world.app.test_client().get(
        root + "public$items_view", headers=basic(username, password)
    )
    assert answer.status_code == 200 and len(answer.get_json()["value"]) == 25
    assert client.post(f"/dashboard/{world.xo_uuid}/odata", data={}).status_code == 400  # CSRF
    revoked = client.post(f"/dashboard/{world.xo_uuid}/odata/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 302
    assert world.app.test_client().get(root, headers=basic(username, password)).status_code == 401


def test_an_independent_odata_client_reads_and_writes_the_service(world):
    credentials = world.enable()
    world.share("public.items", "public.items_view")
    with live_server(world.app) as base:
        session = requests.Session()
        session.auth = (credentials["username"], credentials["password"])
        service = ODataService(
            base + _root(credentials), session=session, reflect_entities=True, quiet_progress=True
        )
        assert set(service.entities) == {"public$items", "public$items_view"}
        items = service.entities["public$items"]
        query = service.query(items)
        rows = query.filter(items.price > 20).order_by(items.name.desc()).all()
        assert [(row.id, row.name) for row in rows] == [(i, f"n{i}") for i in (25, 24, 23, 22, 21)]
        assert query.count() == 25
        assert query.get(3).name == "n3"
        created = items()
        created.name = "fresh"
        service.save(created)
        assert world.sql("SELECT name FROM public.items WHERE id = %s", (created.id,)) == [
            ("fresh",)
        ]
        created.name = "fresher"
        service.save(created)
        assert world.sql("SELECT name FROM public.items WHERE id = %s", (created.id,)) == [
            ("fresher",)
        ]
        service.delete(created)
        assert world.sql("SELECT count(*) FROM public.items") == [(25,)]
