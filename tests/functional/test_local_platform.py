"""The local platform is as strict as the real one, and its CLI parses like Heroku's."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.models import Resource
from standins.platform.cli import parse_options
from standins.platform.server import sso_params
from tests.async_support import CLIENT_SECRET, local_platform
from tests.support import live_server

VENDOR = {"Accept": "application/vnd.heroku+json; version=3"}


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        platform.store.put_manifest(
            {
                "id": "postgres",
                "api": {
                    "config_vars": ["DATABASE_URL"],
                    "sso_salt": "s",
                    "test": {"sso_url": "http://x/sso/login"},
                },
            }
        )
        yield platform


def _exchange(platform, code, client_secret=CLIENT_SECRET):
    return requests.post(
        f"{platform.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "client_secret": client_secret},
        timeout=10,
    )


def _grant_and_token(platform, slug="postgres"):
    addon = platform.store.create_addon(slug, "essential-0", "demo", grant_ttl=300)
    response = _exchange(platform, addon["grant"]["code"])
    assert response.status_code == 200
    return addon, response.json()


def test_grant_exchanges_once_and_refresh_works(platform):
    addon, tokens = _grant_and_token(platform)
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]

    again = _exchange(platform, addon["grant"]["code"])
    assert again.status_code == 400

    refreshed = requests.post(
        f"{platform.url}/oauth/token",
        params={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_secret": CLIENT_SECRET,
        },
        timeout=10,
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != tokens["access_token"]


def test_wrong_client_secret_is_401(platform):
    addon = platform.store.create_addon("postgres", "essential-0", "demo", grant_ttl=300)
    response = _exchange(platform, addon["grant"]["code"], client_secret="wrong")
    assert response.status_code == 401


def test_platform_api_checks_token_addon_and_accept_header(platform):
    addon, tokens = _grant_and_token(platform)
    other, _ = _grant_and_token(platform)
    bearer = {**VENDOR, "Authorization": f"Bearer {tokens['access_token']}"}
    config_url = f"{platform.url}/addons/{addon['uuid']}/config"

    assert requests.get(config_url, headers=bearer, timeout=10).status_code == 200
    assert (
        requests.get(
            config_url, headers={**VENDOR, "Authorization": "Bearer nope"}, timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.get(
            f"{platform.url}/addons/00000000-0000-0000-0000-000000000000/config",
            headers=bearer,
            timeout=10,
        ).status_code
        == 404
    )
    assert (
        requests.get(
            f"{platform.url}/addons/{other['uuid']}/config", headers=bearer, timeout=10
        ).status_code
        == 403
    )
    assert (
        requests.get(
            config_url, headers={"Authorization": bearer["Authorization"]}, timeout=10
        ).status_code
        == 406
    )


def test_config_patch_accepts_only_declared_vars(platform):
    addon, tokens = _grant_and_token(platform)
    bearer = {**VENDOR, "Authorization": f"Bearer {tokens['access_token']}"}
    url = f"{platform.url}/addons/{addon['uuid']}/config"

    bad = requests.patch(
        url, json={"config": [{"name": "OTHER_URL", "value": "x"}]}, headers=bearer, timeout=10
    )
    assert bad.status_code == 422
    good = requests.patch(
        url,
        json={"config": [{"name": "DATABASE_URL", "value": "postgres://h/d"}]},
        headers=bearer,
        timeout=10,
    )
    assert good.json() == [{"name": "DATABASE_URL", "value": "postgres://h/d"}]
    provision = requests.post(
        f"{url.removesuffix('/config')}/actions/provision", headers=bearer, timeout=10
    )
    assert provision.json()["state"] == "provisioned"


def test_sso_page_posts_a_valid_token_to_the_broker(platform):
    addon = platform.store.create_addon("postgres", "essential-0", "demo", grant_ttl=300)
    page = requests.get(f"{platform.url}/addons/{addon['uuid']}/sso", timeout=10).text
    assert 'action="http://x/sso/login"' in page and "document.forms[0].submit()" in page
    for field in ("resource_id", "resource_token", "user_scoped_resource_token", "id", "token"):
        assert f'name="{field}"' in page


@pytest.mark.parametrize("token", ["resource_token", "user_scoped_resource_token", "token"])
def test_each_token_the_platform_sends_signs_in_to_the_broker(partner, token):
    """The stand-in's SSO fields are Heroku's: each token form alone passes the broker's check."""
    resource_id = partner.provision().get_json()["id"]
    addon = {"uuid": resource_id, "provider_id": resource_id, "slug": "postgres", "app": "demo"}
    params = sso_params(addon, partner.manifest["api"]["sso_salt"], int(time.time()))
    others = {"resource_token", "user_scoped_resource_token", "token"} - {token}
    form = {k: v for k, v in params.items() if k not in others}

    response = partner.client.post("/sso/login", data=form)
    assert response.status_code == 302
    assert partner.client.get_cookie("heroku-nav-data").value == params["nav-data"]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ((), {}),
        (("--foo", "bar", "--baz"), {"foo": "bar", "baz": "true"}),
        (("--size=10", "--flag"), {"size": "10", "flag": "true"}),
        (("--a", "--b", "2"), {"a": "true", "b": "2"}),
    ],
)
def test_cli_options_parse_like_heroku(words, expected):
    assert parse_options(words) == expected


def test_app_page_lists_its_addons_with_sso_links(platform):
    addon = platform.store.create_addon("postgres", "essential-0", "shop", grant_ttl=300)
    page = requests.get(f"{platform.url}/apps/shop", timeout=10).text
    assert f'href="/addons/{addon["uuid"]}/sso"' in page
    assert "No add-ons" in requests.get(f"{platform.url}/apps/empty", timeout=10).text


@pytest.mark.parametrize(("requires", "gets_log_input"), [([], False), (["log_input"], True)])
def test_the_platform_sends_a_log_input_only_when_the_manifest_requires_it(
    app, tmp_path, requires, gets_log_input
):
    with local_platform(tmp_path) as platform, live_server(app) as broker_url:
        platform.register(app, broker_url)
        registered = platform.store.manifest("postgres")
        api = {**registered["api"], "requires": requires}
        platform.store.put_manifest({**registered, "api": api})
        addon_uuid = platform.create()["addon"]["uuid"]
        with app.app_context():
            resource = db.session.scalar(select(Resource).where(Resource.uuid == addon_uuid))
            assert (resource.log_input_url_encrypted is not None) is gets_log_input
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")
