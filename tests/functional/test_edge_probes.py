"""Inputs an outside probe of the public surfaces turned into 500s or wrong answers: each one
replayed, on a SQLite and a PostgreSQL store, with the clear 4xx it deserves and nothing left
behind."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from sqlalchemy import text

from marketplace.extensions import db
from marketplace.models import Resource

pytestmark = pytest.mark.backend


def _resource_count(app) -> int:
    with app.app_context():
        return db.session.scalar(text("SELECT count(*) FROM resources"))


def _basic(raw: str) -> dict[str, str]:
    return {"Authorization": raw}


def _encoded(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "header",
    [
        "Basic \xe9\xe9",  # non-ASCII base64: werkzeug's parser raised ValueError
        "Basic \u00e9t\u00e9",
        "basic \xff",
    ],
    ids=["latin-1", "accented", "lowercase-scheme"],
)
def test_undecodable_basic_header_is_401(any_store_partner, any_store_app, header):
    partner = any_store_partner
    body = partner.provision_body()
    for response in (
        partner.client.post("/heroku/resources", json=body, headers=_basic(header)),
        partner.client.put(
            f"/heroku/resources/{body['uuid']}",
            json={"plan": "essential-1"},
            headers=_basic(header),
        ),
        partner.client.delete(f"/heroku/resources/{body['uuid']}", headers=_basic(header)),
    ):
        assert response.status_code == 401, response.get_data(as_text=True)[:200]
        assert response.get_json()["id"] == "unauthorized"
    assert _resource_count(any_store_app) == 0


@pytest.mark.parametrize(
    ("username", "password"),
    [("postgres\x00", "x"), ("postgres", "pw\x00"), ("\x00", "\x00")],
    ids=["nul-username", "nul-password", "nul-both"],
)
def test_nul_in_basic_credentials_is_401(any_store_partner, any_store_app, username, password):
    partner = any_store_partner
    header = _basic(_encoded(username, password))
    response = partner.client.post(
        "/heroku/resources", json=partner.provision_body(), headers=header
    )
    assert response.status_code == 401, response.get_data(as_text=True)[:200]
    assert response.get_json()["id"] == "unauthorized"
    response = partner.client.delete(f"/heroku/resources/{uuid.uuid4()}", headers=header)
    assert response.status_code == 401
    assert _resource_count(any_store_app) == 0


def test_a_password_with_a_colon_still_authenticates_by_its_first_colon(any_store_partner):
    partner = any_store_partner
    password = partner.manifest["api"]["password"]
    response = partner.client.delete(
        f"/heroku/resources/{uuid.uuid4()}", headers=_basic(_encoded("postgres", password + ":x"))
    )
    assert response.status_code == 401  # wrong password, not a parse failure
    response = partner.client.delete(
        f"/heroku/resources/{uuid.uuid4()}", headers=_basic(_encoded("postgres", password))
    )
    assert response.status_code == 410  # authenticated: an unknown uuid is gone


def _row_id(app, resource_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            text("SELECT id FROM resources WHERE uuid = :u").bindparams(u=resource_id)
        )


@pytest.mark.parametrize(
    "options",
    [
        {"size": {"nested": 1}},
        {"size": [1, 2]},
        {"": "x"},
        {"size": "x" * 1025},
        {f"k{i}": "v" for i in range(65)},
    ],
    ids=["object", "array", "empty-key", "long-value", "too-many"],
)
def test_options_that_are_not_flags_are_422_and_create_nothing(
    any_store_partner, any_store_app, options
):
    response = any_store_partner.provision(options=options)

    assert response.status_code == 422, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["id"] == "unprocessable_entity" and "options" in body["message"]
    assert _resource_count(any_store_app) == 0


def test_option_values_are_stored_as_the_platform_would_send_them(partner, app):
    body = partner.provision_body(
        options={"flag": True, "off": False, "count": 3, "ratio": 1.5, "gone": None, "s": "x"}
    )
    response = partner.client.post("/heroku/resources", json=body, headers=partner.headers)

    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    with app.app_context():
        stored = db.session.get(Resource, _row_id(app, body["uuid"])).options
    # JSON's false is "false" (it was Python's "False"), never a repr of a Python value
    assert stored == {"flag": "true", "off": "false", "count": "3", "ratio": "1.5", "s": "x"}


@pytest.mark.parametrize("field", ["options", "region", "name", "callback_url", "oauth_grant"])
def test_a_null_optional_field_is_taken_as_absent(partner, app, field):
    """Like a missing field (kensa sends ``logplex_token: null``; ``options`` may be empty)."""
    body = partner.provision_body(**{field: None})
    response = partner.client.post("/heroku/resources", json=body, headers=partner.headers)

    assert response.status_code == 200, response.get_data(as_text=True)[:200]
    with app.app_context():
        resource = db.session.get(Resource, _row_id(app, body["uuid"]))
        assert (resource.options, resource.region) == ({}, "us")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_a_json_content_type_is_named_as_such(
    any_store_partner, any_store_app, content_type
):
    partner = any_store_partner
    headers = dict(partner.headers)
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps(partner.provision_body())
    for response in (
        partner.client.post("/heroku/resources", data=body, headers=headers),
        partner.client.put(f"/heroku/resources/{uuid.uuid4()}", data=body, headers=headers),
    ):
        # it said "uuid: Missing data for required field" for a body that has a uuid
        assert response.status_code == 422, response.get_data(as_text=True)[:200]
        assert "Content-Type: application/json" in response.get_json()["message"]
    assert _resource_count(any_store_app) == 0


def test_the_vendor_json_type_is_json(partner):
    headers = {**partner.headers, "Content-Type": "application/vnd.heroku-addons+json; version=3"}
    response = partner.client.post(
        "/heroku/resources", data=json.dumps(partner.provision_body()), headers=headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:200]


@pytest.mark.parametrize("field", ["callback_url", "log_input_url"])
@pytest.mark.parametrize(
    "value", ["", "not a url", "file:///etc/passwd", "javascript:alert(1)", "//host/path"]
)
def test_urls_the_broker_would_call_must_be_http_urls(
    any_store_partner, any_store_app, field, value
):
    # a log input URL of "file:///etc/passwd" was stored, then failed in the sender thread
    response = any_store_partner.provision(**{field: value, "log_drain_token": "d.1"})

    assert response.status_code == 422, response.get_data(as_text=True)[:200]
    assert field in response.get_json()["message"]
    assert _resource_count(any_store_app) == 0
