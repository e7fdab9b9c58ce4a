"""Dashboards: credentials, rotation against the real backend, usage, actions, JSON twin."""

from __future__ import annotations

import re
from html import unescape

import psycopg
import pytest

from tests.support import PartnerClient, build_app, csrf_token, postgres_adapter

pytestmark = pytest.mark.backend


@pytest.fixture
def signed_in(partner):
    """A provisioned Postgres resource and a client signed in to its dashboard."""
    body = partner.provision().get_json()
    assert partner.client.post("/sso/login", data=partner.sso_form(body["id"])).status_code == 302
    return body


def _csrf(partner, uuid_):
    page = partner.client.get(f"/dashboard/{uuid_}").get_data(as_text=True)
    return csrf_token(page)


def test_usage_and_connection_details_are_shown(partner, signed_in):
    with psycopg.connect(signed_in["config"]["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE orders (id int)")
        conn.commit()
        html = unescape(partner.client.get(f"/dashboard/{signed_in['id']}").get_data(as_text=True))
    assert "Storage" in html and "<meter" in html
    assert 'psql "$DATABASE_URL"' in html
    assert "public.orders" in html


def test_rotation_needs_confirmation(partner, signed_in):
    token = _csrf(partner, signed_in["id"])
    response = partner.client.post(
        f"/dashboard/{signed_in['id']}/credentials/rotate",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Tick the confirmation box" in response.get_data(as_text=True)
    with psycopg.connect(signed_in["config"]["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_rotation_replaces_credentials_on_the_real_backend(partner, signed_in):
    old_url = signed_in["config"]["DATABASE_URL"]
    token = _csrf(partner, signed_in["id"])
    page = partner.client.post(
        f"/dashboard/{signed_in['id']}/credentials/rotate",
        data={"csrf_token": token, "confirm": "rotate"},
        follow_redirects=True,
    ).get_data(as_text=True)

    assert "New credentials issued (DATABASE_URL)" in page
    assert "heroku config:set" in page  # no platform grant: the customer must set them
    assert "postgres://" not in page  # secrets reach the page only when asked for
    revealed = partner.client.post(
        f"/dashboard/{signed_in['id']}/config/DATABASE_URL/reveal", data={"csrf_token": token}
    )
    assert revealed.headers["Cache-Control"] == "no-store"
    new_url = re.search(
        r"<code data-secret-value>(postgres://[^<]+)</code>", revealed.get_data(as_text=True)
    ).group(1)
    assert new_url != old_url
    with psycopg.connect(new_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(old_url).close()


def test_secrets_are_in_no_page_until_revealed(partner, signed_in):
    url = signed_in["config"]["DATABASE_URL"]
    page = partner.client.get(f"/dashboard/{signed_in['id']}").get_data(as_text=True)
    assert url not in page and "Reveal" in page
    token = _csrf(partner, signed_in["id"])
    as_json = partner.client.post(
        f"/resources/{signed_in['id']}/config-vars/DATABASE_URL/reveal",
        headers={"X-CSRFToken": token},
    )
    assert as_json.get_json() == {"name": "DATABASE_URL", "value": url}
    missing = partner.client.post(
        f"/resources/{signed_in['id']}/config-vars/NOPE/reveal", headers={"X-CSRFToken": token}
    )
    assert missing.status_code == 404


def test_json_twin_and_actions(partner, signed_in):
    data = partner.client.get(f"/resources/{signed_in['id']}").get_json()
    assert data["state"] == "provisioned" and data["config_vars"] == ["DATABASE_URL"]
    assert {m["name"] for m in data["usage"]} >= {"storage_bytes", "connections"}
    assert "postgres://" not in str(data)

    token = _csrf(partner, signed_in["id"])
    unknown = partner.client.post(
        f"/resources/{signed_in['id']}/actions/explode", json={}, headers={"X-CSRFToken": token}
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["message"] == "Unknown action 'explode'."
    no_token = partner.client.post(f"/resources/{signed_in['id']}/actions/explode", json={})
    assert no_token.status_code == 400
    bad_body = partner.client.post(
        f"/resources/{signed_in['id']}/actions/explode", json=["x"], headers={"X-CSRFToken": token}
    )
    assert bad_body.status_code == 400


def test_other_resources_stay_closed(partner, signed_in):
    other = partner.provision().get_json()["id"]
    assert partner.client.get(f"/resources/{other}").status_code == 403
    token = _csrf(partner, signed_in["id"])
    rotate = partner.client.post(
        f"/dashboard/{other}/credentials/rotate", data={"csrf_token": token, "confirm": "rotate"}
    )
    assert rotate.status_code == 403


def test_dashboard_survives_a_backend_outage(sqlite_url):
    app = build_app(sqlite_url, MARKETPLACE_ADDONS=["postgres"])
    partner = PartnerClient(app.test_client(), app, "postgres")
    body = partner.provision().get_json()
    try:
        down = build_app(sqlite_url, adapters=[postgres_adapter("postgresql://u:x@127.0.0.1:1/db")])
        client = PartnerClient(down.test_client(), down, "postgres")
        assert client.client.post("/sso/login", data=client.sso_form(body["id"])).status_code == 302
        page = client.client.get(f"/dashboard/{body['id']}")
        assert page.status_code == 200
        assert "Live figures are unavailable" in page.get_data(as_text=True)
    finally:
        partner.deprovision(body["id"])
