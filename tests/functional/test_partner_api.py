"""Partner API v3 behaviour, on both broker stores, against the real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from tests.support import basic_auth, owned_postgres_objects

pytestmark = pytest.mark.backend


@pytest.fixture
def partner(any_store_partner):
    return any_store_partner


def test_provision_returns_id_config_and_message(partner):
    body = partner.provision_body()
    response = partner.client.post("/heroku/resources", json=body, headers=partner.headers)

    assert response.status_code == 200
    payload = response.get_json()
    assert payload["id"] == body["uuid"]
    assert set(payload["config"]) == {"DATABASE_URL"}
    assert payload["config"]["DATABASE_URL"].startswith("postgres://")
    assert payload["message"]


def test_same_uuid_again_gets_the_same_answer_and_no_second_database(partner):
    body = partner.provision_body()
    first = partner.client.post("/heroku/resources", json=body, headers=partner.headers)
    objects_after_first = owned_postgres_objects()
    second = partner.client.post("/heroku/resources", json=body, headers=partner.headers)

    assert (second.status_code, second.get_json()) == (first.status_code, first.get_json())
    assert owned_postgres_objects() == objects_after_first


def test_deprovisioned_uuid_is_gone_for_provision_plan_change_and_delete(partner):
    body = partner.provision_body()
    partner.client.post("/heroku/resources", json=body, headers=partner.headers)
    assert partner.deprovision(body["uuid"]).status_code == 204

    again = partner.client.post("/heroku/resources", json=body, headers=partner.headers)
    assert again.status_code == 410
    assert again.get_json()["id"] == "gone"
    assert partner.change_plan(body["uuid"], "essential-1").status_code == 410
    assert partner.deprovision(body["uuid"]).status_code == 410


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("plan", "platinum", "Unknown plan"),
        ("region", "amazon-web-services::ap-northeast-1", "not supported"),
    ],
)
def test_unknown_plan_or_region_is_422_and_creates_nothing(partner, field, value, needle):
    before = owned_postgres_objects()
    response = partner.provision(**{field: value})

    assert response.status_code == 422
    assert needle in response.get_json()["message"]
    assert owned_postgres_objects() == before


def test_plan_prefixed_with_the_addon_slug_is_accepted(partner):
    response = partner.provision(plan="postgres:essential-1")
    assert response.status_code == 200


def test_kensa_v1_body_is_accepted(partner):
    body = {
        "heroku_id": "app1234@kensa.heroku.com",
        "plan": "essential-0",
        "callback_url": "http://localhost:7779/callback/999",
        "logplex_token": None,
        "region": "amazon-web-services::us-east-1",
        "options": {"foo": True, "bar": "baz"},
        "uuid": str(uuid.uuid4()),
        "some_future_field": {"nested": 1},
    }
    response = partner.client.post(
        "/heroku/resources", json=body, headers={**partner.headers, "Accept": "application/json"}
    )
    assert response.status_code == 200
    assert "1234" not in response.get_json()["id"].replace(body["uuid"], "")


@pytest.mark.parametrize(
    "accept", ["application/vnd.heroku-addons+json; version=3", "*/*", None, "text/html"]
)
def test_answers_json_whatever_the_accept_header(partner, accept):
    headers = dict(partner.headers)
    if accept:
        headers["Accept"] = accept
    response = partner.client.post(
        "/heroku/resources", json=partner.provision_body(), headers=headers
    )
    assert response.status_code == 200
    assert response.is_json


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/heroku/resources"),
        ("PUT", "/heroku/resources/x"),
        ("DELETE", "/heroku/resources/x"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic_auth("wrong", "secret"),
        basic_auth("postgres", "secret"),
        {"Authorization": "Bearer x"},
    ],
)
def test_missing_or_wrong_credentials_are_401_before_anything_else(partner, method, path, headers):
    before = owned_postgres_objects()
    response = partner.client.open(path, method=method, data="{not json", headers=headers)

    assert response.status_code == 401
    assert response.get_json()["id"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="Add-on Partner API"')
    assert owned_postgres_objects() == before


def test_wrong_credentials_after_delete_are_still_401(partner):
    uuid_ = partner.provision().get_json()["id"]
    partner.deprovision(uuid_)
    response = partner.client.delete(
        f"/heroku/resources/{uuid_}", headers=basic_auth("wrong", "secret")
    )
    assert response.status_code == 401


def test_plan_change_applies_and_is_idempotent(partner):
    uuid_ = partner.provision().get_json()["id"]

    changed = partner.change_plan(uuid_, "essential-2")
    assert changed.status_code == 200
    assert "essential-2" in changed.get_json()["message"]
    again = partner.change_plan(uuid_, "essential-2")
    assert again.status_code == 200


def test_plan_change_to_unknown_plan_is_422(partner):
    uuid_ = partner.provision().get_json()["id"]
    response = partner.change_plan(uuid_, "foo")
    assert response.status_code == 422
    assert "Unknown plan" in response.get_json()["message"]


def test_plan_change_of_an_unknown_uuid_is_404(partner):
    response = partner.change_plan(str(uuid.uuid4()), "essential-1")
    assert response.status_code == 404
    assert set(response.get_json()) == {"id", "message"}


def test_deprovision_of_an_unknown_uuid_is_410_as_the_partner_api_specifies(partner):
    """Heroku's docs: 410 Gone for a resource already deprovisioned *or* unknown, so the
    platform can finish a removal the broker has no record of."""
    response = partner.deprovision(str(uuid.uuid4()))
    assert response.status_code == 410
    assert response.get_json()["id"] == "gone"


def test_the_path_uuid_is_read_like_the_body_uuid(partner):
    """A uuid the provision accepted (any case) names the resource in PUT and DELETE too."""
    upper = str(uuid.uuid4()).upper()
    assert partner.provision(uuid=upper).get_json()["id"] == upper.lower()

    assert partner.change_plan(upper, "essential-1").status_code == 200
    assert partner.deprovision(upper).status_code == 204
    assert owned_postgres_objects() == set()


def test_deprovision_is_204_and_removes_database_and_role(partner):
    uuid_ = partner.provision().get_json()["id"]
    created = owned_postgres_objects()

    response = partner.deprovision(uuid_)

    assert response.status_code == 204
    assert response.data == b""
    remaining = owned_postgres_objects()
    assert len(created - remaining) == 2
