"""The OpenAPI document tells the truth about errors, grants and plans (issue 11, input 11)."""

from __future__ import annotations

import flask_smorest
import pytest

from marketplace.api import ApiBlueprint

pytestmark = pytest.mark.backend

BODY_OPERATIONS = {("/heroku/resources", "post"), ("/heroku/resources/{uuid}", "put")}


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/openapi.json").get_json()


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                yield path, method, operation


def test_the_error_component_is_the_broker_s_error_body(document):
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"id", "message", "errors"}
    assert sorted(error["required"]) == ["id", "message"]
    # Exactly these fields: the fuzz run checks every error response against it.
    assert error["additionalProperties"] is False
    default = document["components"]["responses"]["DEFAULT_ERROR"]
    assert default["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_every_operation_documents_its_errors_with_that_body(document):
    operations = list(_operations(document))
    assert len(operations) >= 7
    for path, method, operation in operations:
        responses = operation["responses"]
        expected = {"400", "500"}
        if path.startswith("/heroku"):
            expected |= {"401", "503"}
        if (path, method) in BODY_OPERATIONS:
            expected |= {"413", "415", "422"}
        assert expected <= set(responses), (path, method, sorted(responses))
        assert responses["default"]["$ref"].endswith("/DEFAULT_ERROR")
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/Error"), (path, method, status)


def test_an_oauth_grant_needs_its_code_in_the_document_and_in_behaviour(document, partner):
    grant = document["components"]["schemas"]["OAuthGrant"]
    assert grant["required"] == ["code"]
    assert grant["properties"]["expires_at"]["format"] == "date-time"
    response = partner.provision(oauth_grant={"expires_at": "2030-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert "oauth_grant" in response.get_json()["errors"]["json"]


def test_each_add_on_has_its_own_plan_example(document, app):
    body = document["paths"]["/heroku/resources"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    plan_change = document["paths"]["/heroku/resources/{uuid}"]["put"]["requestBody"]
    changes = plan_change["content"]["application/json"]["examples"]
    from marketplace.context import broker

    with app.app_context():
        specs = {adapter.spec.slug: adapter.spec for adapter in broker().registry}
    assert set(examples) == set(changes) == set(specs)
    for slug, spec in specs.items():
        plans = {plan.slug for plan in spec.plans}
        assert examples[slug]["value"]["plan"] in plans
        assert changes[slug]["value"]["plan"] in plans
    assert (
        "example" not in document["components"]["schemas"]["ProvisionRequest"]["properties"]["plan"]
    )


def test_every_api_blueprint_decodes_json_through_the_edge(app):
    """A flask-smorest blueprint that is not an ApiBlueprint would parse bodies with webargs'
    own ``json.loads``, past the edge's checks."""
    smorest = [bp for bp in app.blueprints.values() if isinstance(bp, flask_smorest.Blueprint)]
    assert smorest and all(isinstance(bp, ApiBlueprint) for bp in smorest)
