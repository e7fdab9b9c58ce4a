"""Malformed, mistyped, oversized and hostile requests: a 4xx JSON error and nothing created."""

from __future__ import annotations

import json

import pytest

from tests.support import owned_postgres_objects

pytestmark = pytest.mark.backend


def _post(partner, data: str | bytes, content_type: str = "application/json"):
    return partner.client.post(
        "/heroku/resources", data=data, headers={**partner.headers, "Content-Type": content_type}
    )


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ("{not json", 400),
        ("", 422),
        ("[]", 422),
        ('"a string"', 422),
        ("null", 422),
        (json.dumps({"plan": "essential-0"}), 422),
        (json.dumps({"uuid": "not-a-uuid", "plan": "essential-0"}), 422),
        (json.dumps({"uuid": 12, "plan": "essential-0"}), 422),
        (json.dumps({"uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1", "plan": ["x"]}), 422),
        (json.dumps({"uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1", "plan": None}), 422),
        (
            json.dumps(
                {
                    "uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1",
                    "plan": "essential-0",
                    "options": "nope",
                }
            ),
            422,
        ),
        (
            json.dumps(
                {
                    "uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1",
                    "plan": "essential-0",
                    "oauth_grant": {"expires_at": 5},
                }
            ),
            422,
        ),
        (
            json.dumps(
                {
                    "uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1",
                    "plan": "'; DROP DATABASE postgres; --",
                }
            ),
            422,
        ),
        (
            json.dumps(
                {
                    "uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1",
                    "plan": "essential-0",
                    "region": "\u202e../../etc",
                }
            ),
            422,
        ),
        (
            json.dumps(
                {
                    "uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1",
                    "plan": "essential-0",
                    "region": "\u0000\u202e../../etc",
                }
            ),
            400,
        ),
    ],
)
def test_malformed_provision_requests_get_json_4xx_and_create_nothing(partner, data, status):
    before = owned_postgres_objects()
    response = _post(partner, data)

    assert response.status_code == status
    body = response.get_json()
    assert isinstance(body["id"], str) and body["message"]
    assert owned_postgres_objects() == before


def test_form_encoded_body_is_422_not_500(partner):
    response = _post(partner, "uuid=x&plan=y", "application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert response.is_json


def test_huge_body_is_413_json(partner):
    before = owned_postgres_objects()
    huge = json.dumps(
        {
            "uuid": "0b6f1a52-0b44-4f1e-8a4b-44b1a1d6b0c1",
            "plan": "essential-0",
            "options": {"blob": "x" * (2 * 1024 * 1024)},
        }
    )
    response = _post(partner, huge)

    assert response.status_code == 413
    assert response.get_json()["id"] == "payload_too_large"
    assert owned_postgres_objects() == before


def test_plan_change_with_wrong_types_is_422(partner):
    uuid_ = partner.provision().get_json()["id"]
    response = partner.client.put(
        f"/heroku/resources/{uuid_}", json={"plan": 5}, headers=partner.headers
    )
    assert response.status_code == 422
    assert "plan" in response.get_json()["message"]


def test_hostile_uuid_in_path_is_unknown_json(partner):
    path = "/heroku/resources/%27%3B%20DROP%20TABLE%20resources%3B--"
    response = partner.client.delete(path, headers=partner.headers)
    assert response.status_code == 410  # unknown, as far as a DELETE goes
    assert response.is_json
    response = partner.client.put(path, json={"plan": "essential-1"}, headers=partner.headers)
    assert response.status_code == 404
    assert response.is_json


def test_unknown_route_and_wrong_method_are_json(partner):
    assert partner.client.get("/heroku/nope", headers=partner.headers).status_code == 404
    response = partner.client.get("/heroku/resources", headers=partner.headers)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["id"] == "method_not_allowed"
