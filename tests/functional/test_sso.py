"""SSO from the platform into a resource's dashboard (kensa's checks included)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from marketplace.services.sso import resource_token, user_scoped_token
from tests.support import csrf_token

pytestmark = pytest.mark.backend


@pytest.fixture
def resource_id(partner):
    response = partner.provision()
    assert response.status_code == 200
    return response.get_json()["id"]


def _login(partner, form):
    return partner.client.post("/sso/login", data=form)


def test_valid_resource_token_redirects_sets_cookies_and_shows_dashboard(partner, resource_id):
    form = partner.sso_form(resource_id)
    response = _login(partner, form)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/{resource_id}"
    cookies = response.headers.getlist("Set-Cookie")
    nav = next(c for c in cookies if c.startswith("heroku-nav-data="))
    assert nav.startswith(f"heroku-nav-data={form['nav-data']};") and "Path=/" in nav
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", session_cookie).group(1))
    lifetime = expires - datetime.now(UTC)
    assert timedelta(minutes=85) < lifetime <= timedelta(minutes=90)

    page = partner.client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "PostgreSQL" in html and "essential-0" in html and "provisioned" in html
    assert "DATABASE_URL" in html
    # Masked: the value reaches the browser only when the customer asks for it.
    assert "••••••••" in html and "Reveal" in html
    assert "postgres://" not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert re.search(r'<script src="[^"]*boomerang[^"]*"', html)


def test_user_scoped_token_is_accepted(partner, resource_id):
    timestamp = str(int(time.time()))
    salt = partner.manifest["api"]["sso_salt"]
    user_id, email = "fedcba98-7654-3210-fedc-ba9876543210", "user@example.com"
    form = {
        "resource_id": resource_id,
        "user_scoped_resource_token": user_scoped_token(
            resource_id, salt, timestamp, user_id, email
        ),
        "timestamp": timestamp,
        "user_id": user_id,
        "email": email,
        "nav-data": "x",
    }
    assert _login(partner, form).status_code == 302


def test_user_scoped_token_for_another_user_is_refused(partner, resource_id):
    timestamp = str(int(time.time()))
    salt = partner.manifest["api"]["sso_salt"]
    token = user_scoped_token(resource_id, salt, timestamp, "someone", "a@example.com")
    form = {
        "resource_id": resource_id,
        "user_scoped_resource_token": token,
        "timestamp": timestamp,
        "user_id": "someone",
        "email": "b@example.com",
    }
    assert _login(partner, form).status_code == 403


def test_legacy_id_and_token_as_kensa_sends_them(partner, resource_id):
    timestamp = str(int(time.time()))
    token = resource_token(resource_id, partner.manifest["api"]["sso_salt"], timestamp)
    form = {
        "id": resource_id,
        "token": token,
        "timestamp": timestamp,
        "nav-data": "abc",
        "email": "username@example.com",
        "app": "myapp",
    }
    response = partner.client.post("/sso/login", data=form, follow_redirects=True)
    assert response.status_code == 200
    assert partner.client.get_cookie("heroku-nav-data").value == "abc"


@pytest.mark.parametrize(
    "tamper",
    [
        {"resource_token": "invalid"},
        {"resource_token": ""},
        {"timestamp": "not-a-number"},
    ],
)
def test_bad_token_is_403(partner, resource_id, tamper):
    form = partner.sso_form(resource_id) | tamper
    response = _login(partner, form)
    assert response.status_code == 403


@pytest.mark.parametrize(("age", "status"), [(360, 403), (301, 403), (-120, 403), (240, 302)])
def test_timestamp_window(partner, resource_id, age, status):
    assert _login(partner, partner.sso_form(resource_id, age_seconds=age)).status_code == status


def test_a_token_works_once(partner, resource_id):
    form = partner.sso_form(resource_id)
    assert _login(partner, form).status_code == 302
    assert _login(partner, form).status_code == 403


def test_unknown_and_deprovisioned_resources_are_refused(partner, resource_id):
    assert _login(partner, partner.sso_form(str(uuid.uuid4()))).status_code == 403
    partner.deprovision(resource_id)
    assert _login(partner, partner.sso_form(resource_id)).status_code == 403


def test_session_reaches_only_its_own_resource(partner, resource_id):
    other = partner.provision().get_json()["id"]
    _login(partner, partner.sso_form(resource_id))

    assert partner.client.get(f"/dashboard/{resource_id}").status_code == 200
    assert partner.client.get(f"/dashboard/{other}").status_code == 403


def test_dashboard_without_a_session_is_403(partner, resource_id):
    response = partner.client.get(f"/dashboard/{resource_id}", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "text/html" in response.content_type


def test_logout_needs_csrf_and_ends_the_session(partner, resource_id):
    _login(partner, partner.sso_form(resource_id))
    assert partner.client.post("/dashboard/logout").status_code == 400

    page = partner.client.get(f"/dashboard/{resource_id}").get_data(as_text=True)
    token = csrf_token(page)
    assert partner.client.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    assert partner.client.get(f"/dashboard/{resource_id}").status_code == 403


def _every_token_form(partner, resource_id, user_id="fedcba98-7654-3210-fedc-ba9876543210"):
    """What the platform posts: the v3, user-scoped and legacy tokens side by side."""
    form = partner.sso_form(resource_id, user_id=user_id)
    salt, timestamp = partner.manifest["api"]["sso_salt"], form["timestamp"]
    form["user_scoped_resource_token"] = user_scoped_token(
        resource_id, salt, timestamp, user_id, form["email"]
    )
    form["id"], form["token"] = resource_id, form["resource_token"]
    return form


@pytest.mark.parametrize(
    "kept",
    [("resource_token",), ("token",), ("user_scoped_resource_token",)],
)
def test_a_used_form_cannot_be_replayed_with_another_of_its_tokens(any_store_partner, kept):
    partner = any_store_partner
    resource_id = partner.provision().get_json()["id"]
    form = _every_token_form(partner, resource_id)
    assert _login(partner, form).status_code == 302

    tokens = {"resource_token", "token", "user_scoped_resource_token"}
    replay = {k: v for k, v in form.items() if k not in tokens - set(kept)}
    assert _login(partner, replay).status_code == 403


def test_two_users_signing_in_within_one_second_both_get_in(any_store_partner):
    partner = any_store_partner
    resource_id = partner.provision().get_json()["id"]
    first = _every_token_form(partner, resource_id, user_id="11111111-1111-1111-1111-111111111111")
    second = _every_token_form(partner, resource_id, user_id="22222222-2222-2222-2222-222222222222")
    second["timestamp"] = first["timestamp"]
    salt = partner.manifest["api"]["sso_salt"]
    second["user_scoped_resource_token"] = user_scoped_token(
        resource_id, salt, first["timestamp"], second["user_id"], second["email"]
    )
    second["resource_token"] = second["token"] = first["resource_token"]

    assert _login(partner, first).status_code == 302
    assert _login(partner, second).status_code == 302


def test_the_same_fields_in_a_get_query_string_sign_in_once(partner, resource_id):
    form = partner.sso_form(resource_id)
    assert partner.client.head("/sso/login", query_string=form).status_code == 405

    response = partner.client.get("/sso/login", query_string=form)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/{resource_id}"
    assert response.headers["Cache-Control"] == "no-store"
    assert partner.client.get_cookie("heroku-nav-data").value == form["nav-data"]
    assert partner.client.get(f"/dashboard/{resource_id}").status_code == 200

    assert partner.client.get("/sso/login", query_string=form).status_code == 403
    stale = partner.sso_form(resource_id, age_seconds=360)
    assert partner.client.get("/sso/login", query_string=stale).status_code == 403


def test_a_form_posted_after_the_session_ended_says_so(partner, resource_id):
    _login(partner, partner.sso_form(resource_id))
    token = csrf_token(partner.client.get(f"/dashboard/{resource_id}").get_data(as_text=True))
    partner.client.delete_cookie("session")  # expired, or signed out in another tab

    html = {"Accept": "text/html"}
    for path in ("credentials/rotate", "config/DATABASE_URL/reveal", "data-connectors"):
        response = partner.client.post(
            f"/dashboard/{resource_id}/{path}", data={"csrf_token": token}, headers=html
        )
        assert response.status_code == 403, path
        assert "Your session has ended" in response.get_data(as_text=True), path
    signed_out = partner.client.post("/dashboard/logout", data={"csrf_token": token})
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"] == "/dashboard/signed-out"
