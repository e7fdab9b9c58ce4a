"""Issue 11, input by input: each hostile request the fuzzing run turned into a 500 gets a
clear 4xx JSON error, on a SQLite and a PostgreSQL store, and leaves nothing behind.

The numbers in the test names are the issue's. Slow clients (7) are in
``test_slow_clients.py``; the OpenAPI document (11) in ``test_openapi_document.py``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
import requests
from sqlalchemy import text

from marketplace.extensions import db
from marketplace.untrusted import MAX_JSON_DEPTH
from tests.support import build_app, live_server, owned_postgres_objects

pytestmark = pytest.mark.backend

UUID = "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1"


def _post_raw(partner, body: str):
    return partner.client.post(
        "/heroku/resources",
        data=body,
        headers={**partner.headers, "Content-Type": "application/json"},
    )


def _assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert isinstance(body["id"], str) and isinstance(body["message"], str)
    if code:
        assert body["id"] == code
    return body


def _resource_count(app) -> int:
    with app.app_context():
        return db.session.scalar(text("SELECT count(*) FROM resources"))


def test_1_deeply_nested_body_is_400(any_store_partner, any_store_app):
    before = owned_postgres_objects()
    body = _assert_error(_post_raw(any_store_partner, "[" * 1000 + "]" * 1000), 400)

    assert "nested" in body["message"]
    assert _resource_count(any_store_app) == 0 and owned_postgres_objects() == before


def test_1_nesting_inside_a_valid_body_is_400_past_the_limit(partner):
    def nested(levels: int) -> dict:
        value: object = "x"
        for _ in range(levels):
            value = {"k": value}
        return partner.provision_body(options=value)

    too_deep = nested(MAX_JSON_DEPTH)  # the options object itself sits one level down
    response = _post_raw(partner, json.dumps(too_deep))
    assert _assert_error(response, 400)["message"].startswith("The JSON body is nested")
    # nesting within the limit parses (in a field the broker ignores: option values are flags)
    shallow = partner.provision_body(extension={"k": {"k": "x"}})
    response = _post_raw(partner, json.dumps(shallow))
    assert response.status_code == 200
    assert partner.deprovision(shallow["uuid"]).status_code == 204


def test_2_integer_of_4301_digits_is_400(any_store_partner, any_store_app):
    body = json.dumps(any_store_partner.provision_body(options={"n": 1}))
    body = body.replace('"n": 1', '"n": ' + "9" * 4301)
    message = _assert_error(_post_raw(any_store_partner, body), 400)["message"]

    assert "digits" in message and "9999" not in message
    assert _resource_count(any_store_app) == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_2_non_json_constants_are_400(partner, constant):
    body = json.dumps(partner.provision_body(options={"n": 1})).replace(
        '"n": 1', f'"n": {constant}'
    )
    assert _assert_error(_post_raw(partner, body), 400)["message"].endswith("not allow.")


def test_3_lone_surrogate_in_name_is_400(any_store_partner, any_store_app):
    body = json.dumps(any_store_partner.provision_body(name="PLACEHOLDER"))
    body = body.replace("PLACEHOLDER", "acme\\ud800db")
    message = _assert_error(_post_raw(any_store_partner, body), 400)["message"]

    assert "surrogate" in message
    assert _resource_count(any_store_app) == 0


def test_4_grant_expiry_past_the_datetime_range_is_422(any_store_partner, any_store_app):
    before = owned_postgres_objects()
    response = any_store_partner.provision(
        oauth_grant={"code": "abc", "expires_at": "9999-12-31T23:59:59-01:00"}
    )
    body = _assert_error(response, 422, "unprocessable_entity")

    assert "expires_at" in body["message"]
    assert _resource_count(any_store_app) == 0 and owned_postgres_objects() == before


def test_4_grant_without_code_is_422(partner):
    body = _assert_error(partner.provision(oauth_grant={}), 422)
    assert "code" in body["message"]


@pytest.mark.parametrize(
    "nav_data",
    ["eyJhIjoiYiJ9\x1b[31m", "a\r\nSet-Cookie: x=y", "x" * 100_000, "ä-not-base64"],
    ids=["escape", "crlf", "100k", "non-ascii"],
)
def test_5_hostile_nav_data_is_dropped_and_the_login_still_works(partner, nav_data):
    resource_id = partner.provision().get_json()["id"]
    form = partner.sso_form(resource_id, **{"nav-data": nav_data})
    response = partner.client.post("/sso/login", data=form)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/{resource_id}"
    for name, value in response.headers.items():
        assert value.isprintable() and len(value) < 8192, name
    assert not any(
        c.startswith("heroku-nav-data=") and not c.startswith("heroku-nav-data=;")
        for c in response.headers.getlist("Set-Cookie")
    )
    assert partner.client.get(f"/dashboard/{resource_id}").status_code == 200
    # The token was spent once, by this successful sign-in: a replay is refused.
    assert partner.client.post("/sso/login", data=form).status_code == 403


def test_5_a_bad_nav_data_does_not_spend_a_token_that_then_fails(partner):
    """Reverse order: the token is rejected for its own reason; nav-data changes nothing."""
    resource_id = partner.provision().get_json()["id"]
    form = partner.sso_form(resource_id, **{"nav-data": "\x1b"})
    form["resource_token"] = "0" * 40
    assert partner.client.post("/sso/login", data=form).status_code == 403


def test_5_display_values_of_the_form_are_bounded(partner):
    resource_id = partner.provision().get_json()["id"]
    form = partner.sso_form(resource_id, app="Evil App", email="e" * 10_000)
    response = partner.client.post("/sso/login", data=form)
    assert response.status_code == 302
    page = partner.client.get(f"/dashboard/{resource_id}").get_data(as_text=True)
    assert "e" * 300 not in page and "/apps/Evil App" not in page


@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("GET", "/api/addon-services/%00", False),
        ("GET", "/api/addon-services/postgres/plans/%00", False),
        ("GET", "/addons/%00", False),
        ("GET", "/addons?q=%00", False),
        ("GET", "/resources/%00", False),
        ("PUT", "/heroku/resources/%00", True),
        ("DELETE", "/heroku/resources/%00", True),
        ("DELETE", "/heroku/resources/%00", False),
    ],
)
def test_6_nul_in_path_or_query_is_400(any_store_partner, method, path, authenticated):
    headers = any_store_partner.headers if authenticated else {}
    response = any_store_partner.client.open(
        path, method=method, json={"plan": "x"}, headers=headers
    )
    assert "NUL" in _assert_error(response, 400, "bad_request")["message"]


@pytest.mark.parametrize("field", ["name", "callback_url", "region", "plan"])
def test_6_nul_in_json_fields_is_400(any_store_partner, any_store_app, field):
    response = any_store_partner.provision(**{field: "acme\u0000db"})
    assert "NUL" in _assert_error(response, 400)["message"]
    assert _resource_count(any_store_app) == 0


def test_6_nul_in_sso_form_is_400(any_store_partner):
    resource_id = any_store_partner.provision().get_json()["id"]
    form = any_store_partner.sso_form(resource_id)
    form["resource_id"] = resource_id + "\x00"
    response = any_store_partner.client.post("/sso/login", data=form)
    assert "NUL" in _assert_error(response, 400)["message"]


@pytest.mark.parametrize(
    ("field", "length"),
    [("name", 256), ("callback_url", 2049), ("region", 65), ("plan", 65)],
)
def test_6_values_longer_than_their_columns_are_422(
    any_store_partner, any_store_app, field, length
):
    before = owned_postgres_objects()
    response = any_store_partner.provision(**{field: "a" * length})
    body = _assert_error(response, 422)

    assert field in body["errors"]["json"]
    assert _resource_count(any_store_app) == 0 and owned_postgres_objects() == before


def test_6_a_name_of_255_characters_is_stored(any_store_partner):
    body = any_store_partner.provision_body(name="n" * 255)
    assert (
        any_store_partner.client.post(
            "/heroku/resources", json=body, headers=any_store_partner.headers
        ).status_code
        == 200
    )
    assert any_store_partner.deprovision(body["uuid"]).status_code == 204


def test_8_chunked_body_over_the_limit_is_413_like_a_declared_one(app, partner):
    body = json.dumps(partner.provision_body(options={"blob": "x" * (1024 * 1024)})).encode()

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    with live_server(app) as base:
        url = f"{base}/heroku/resources"
        headers = {**partner.headers, "Content-Type": "application/json"}
        chunked = requests.post(url, data=chunks(), headers=headers, timeout=30)
        declared = requests.post(url, data=body, headers=headers, timeout=30)
        small = partner.provision_body()
        accepted = requests.post(
            url, data=iter([json.dumps(small).encode()]), headers=headers, timeout=30
        )

    assert "Content-Length" not in chunked.request.headers
    assert chunked.status_code == declared.status_code == 413
    assert chunked.json()["id"] == declared.json()["id"] == "payload_too_large"
    assert accepted.status_code == 200  # a small chunked body is read whole
    assert partner.deprovision(small["uuid"]).status_code == 204


def test_9_messages_quote_a_short_escaped_prefix(any_store_partner):
    huge = any_store_partner.provision(plan="p" * 500_000)
    _assert_error(huge, 422)
    assert len(huge.get_data()) < 2000

    unknown = any_store_partner.provision(plan="\x1b" + "q" * 60)
    message = _assert_error(unknown, 422)["message"]
    assert "\x1b" not in message and "\\x1b" in message
    assert "q" * 40 not in message and "…" in message


def test_9_path_values_are_quoted_briefly_too(partner):
    response = partner.client.get("/api/addon-services/" + "z" * 3000)
    message = _assert_error(response, 404)["message"]
    assert len(message) < 200 and "z" * 41 not in message


def test_10_a_failing_statement_logs_no_request_value(any_store_app, caplog):
    secret = f"hostile-{uuid.uuid4().hex}"

    def failing() -> str:
        db.session.execute(text("SELECT * FROM no_such_table WHERE name = :n"), {"n": secret})
        return "unreachable"

    app = build_app(any_store_app.config["SQLALCHEMY_DATABASE_URI"])
    app.add_url_rule("/boom", "boom", failing)
    logging.getLogger().addHandler(caplog.handler)  # create_app replaced the root's handlers
    caplog.set_level(logging.DEBUG)
    response = app.test_client().get("/boom?token=" + secret)

    assert _assert_error(response, 500, "internal_error")["message"] == (
        "Something went wrong on our side."
    )
    assert secret not in caplog.text and secret not in response.get_data(as_text=True)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    logged = errors[0].getMessage()
    assert re.search(r"unhandled sqlalchemy\.exc\.\w+Error on GET /boom", logged)
    assert "no_such_table" in logged  # the stack's code lines are kept
    assert errors[0].exc_info is None  # no exception message rides along


def test_10_statement_errors_hide_their_parameters(any_store_app):
    secret = f"hostile-{uuid.uuid4().hex}"
    with any_store_app.app_context():
        with pytest.raises(Exception) as caught:
            db.session.execute(text("SELECT * FROM no_such_table WHERE n = :n"), {"n": secret})
        db.session.rollback()
    assert secret not in str(caught.value)
    assert "hidden" in str(caught.value)
