"""The JSON catalog, the OpenAPI document, and the add-on manifest (kensa's ManifestCheck)."""

from __future__ import annotations

import json
import re

import pytest

from marketplace.context import broker
from marketplace.services.catalog import sync_catalog
from tests.support import manifest

pytestmark = pytest.mark.backend


def test_addon_services_list_and_detail(app, client):
    listed = client.get("/api/addon-services")
    assert listed.status_code == 200
    names = [service["name"] for service in listed.get_json()]
    with app.app_context():
        assert sorted(names) == broker().registry.slugs

    detail = client.get("/api/addon-services/postgres").get_json()
    assert detail["human_name"] == "PostgreSQL"
    assert detail["state"] == "ga"
    assert detail["config_vars"] == ["DATABASE_URL"]
    assert {"id", "description", "category", "regions", "created_at"} <= set(detail)


def test_plans_are_shaped_like_the_platform_api(client):
    plans = client.get("/api/addon-services/postgres/plans").get_json()

    assert len(plans) >= 3
    assert plans[0]["name"] == "postgres:essential-0"
    assert sum(p["default"] for p in plans) == 1
    prices = [p["price"]["cents"] for p in plans]
    assert prices == sorted(prices) and all(isinstance(c, int) and c > 0 for c in prices)
    for plan in plans:
        assert plan["price"]["unit"] == "month"
        assert plan["state"] == "public"
        assert plan["limits"]["max_connections"] > 0
        assert plan["limits"]["storage_bytes"] > 0
        assert plan["addon_service"]["name"] == "postgres"


def test_plans_carry_every_field_of_the_platform_api_plan(client):
    plan = client.get("/api/addon-services/postgres/plans/essential-0").get_json()

    assert {
        key: plan[key]
        for key in (
            "visible",
            "space_default",
            "installable_inside_private_network",
            "installable_outside_private_network",
            "compliance",
        )
    } == {
        "visible": True,
        "space_default": False,
        "installable_inside_private_network": False,
        "installable_outside_private_network": True,
        "compliance": None,
    }
    assert set(plan["price"]) == {"cents", "unit", "contract"}


def test_services_and_plans_are_found_by_id_as_by_name(client):
    """The Platform API's paths take ``{addon_service_id_or_name}`` and ``{plan_id_or_name}``."""
    service = client.get("/api/addon-services/postgres").get_json()
    plan = client.get("/api/addon-services/postgres/plans/essential-1").get_json()

    assert client.get(f"/api/addon-services/{service['id']}").get_json() == service
    by_id = client.get(f"/api/addon-services/{service['id']}/plans")
    assert [p["name"] for p in by_id.get_json()][1] == "postgres:essential-1"
    assert client.get(f"/api/addon-services/postgres/plans/{plan['id']}").get_json() == plan
    assert client.get(f"/api/addon-services/{service['id']}/plans/{plan['id']}").status_code == 200
    other = client.get("/api/addon-services/kafka").get_json()["id"]
    assert client.get(f"/api/addon-services/{other}/plans/{plan['id']}").status_code == 404


def test_one_plan_by_either_name(client):
    assert client.get("/api/addon-services/postgres/plans/essential-1").status_code == 200
    assert client.get("/api/addon-services/postgres/plans/postgres:essential-1").status_code == 200
    assert client.get("/api/addon-services/postgres/plans/nope").status_code == 404


def test_unknown_addon_is_404_json(client):
    response = client.get("/api/addon-services/nope")
    assert response.status_code == 404
    assert response.get_json() == {"id": "not_found", "message": "No add-on called 'nope'."}
    assert client.get("/api/addon-services/nope/plans").status_code == 404


def test_an_unknown_addon_page_is_an_html_404_unless_json_is_preferred(client):
    for accept in ("*/*", "text/html", "text/html,application/xhtml+xml,*/*;q=0.8"):
        page = client.get("/addons/nope", headers={"Accept": accept})
        assert page.status_code == 404 and page.mimetype == "text/html", accept
    as_json = client.get("/addons/nope", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.get_json()["id"] == "not_found"


def test_openapi_document_covers_the_json_api(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/heroku/resources",
        "/heroku/resources/{uuid}",
        "/api/addon-services",
        "/api/addon-services/{slug}/plans",
    } <= set(spec["paths"])
    provision = spec["paths"]["/heroku/resources"]["post"]
    assert {"200", "401", "410", "422", "503"} <= set(provision["responses"])
    assert "ProvisionRequest" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["basicAuth"]["scheme"] == "basic"


def test_catalog_sync_is_idempotent_and_keeps_credentials(app):
    before = manifest(app, "postgres")

    with app.app_context():
        sync_catalog(broker().registry, broker().vault)
        sync_catalog(broker().registry, broker().vault)
    assert manifest(app, "postgres") == before
    plans = app.test_client().get("/api/addon-services/postgres/plans").get_json()
    assert len({p["id"] for p in plans}) == len(plans)


KENSA_REGIONS = {"us", "eu", "frankfurt", "oregon", "tokyo", "virginia", "*"}


def kensa_manifest_errors(data: dict) -> list[str]:
    """kensa's ManifestCheck rules (reference §6.3), plus the v3 fields."""
    errors = []
    api = data.get("api", {})
    if not isinstance(data.get("id"), str) or not data["id"]:
        errors.append("id")
    regions = api.get("regions")
    if not regions or not ({"us", "*"} & set(regions)) or set(regions) - KENSA_REGIONS:
        errors.append("regions")
    if not api.get("password"):
        errors.append("password")
    if not api.get("sso_salt"):
        errors.append("sso_salt")
    for env in ("production", "test"):
        if not {"base_url", "sso_url"} <= set(api.get(env, {})):
            errors.append(env)
    prefix = api.get("config_vars_prefix") or data["id"].upper().replace("-", "_")
    for name in api.get("config_vars", []):
        if not re.match(r"^[A-Z][0-9A-Z_]+$", name) or not name.startswith(prefix + "_"):
            errors.append(f"config var {name}")
    if "username" in api:
        errors.append("username")
    if api.get("version") != "3":
        errors.append("version")
    return errors


def test_manifest_command_prints_a_manifest_kensa_accepts(app):
    result = app.test_cli_runner().invoke(args=["addons", "manifest", "postgres"])
    assert result.exit_code == 0
    data = json.loads(result.output)

    assert kensa_manifest_errors(data) == []
    assert data["api"]["config_vars_prefix"] == "DATABASE"
    assert data["api"]["production"]["base_url"] == "http://localhost/heroku/resources"
    assert data["api"]["test"]["sso_url"] == "http://localhost/sso/login"
    assert data == manifest(app, "postgres")


def test_manifest_urls_follow_marketplace_url(sqlite_url):
    from tests.support import build_app

    app = build_app(sqlite_url, MARKETPLACE_URL="https://broker.example.com/")
    data = json.loads(app.test_cli_runner().invoke(args=["addons", "manifest", "postgres"]).output)
    assert data["api"]["production"]["base_url"] == "https://broker.example.com/heroku/resources"


def test_addons_list_and_unknown_manifest(app):
    runner = app.test_cli_runner()
    with app.app_context():
        listed = runner.invoke(args=["addons", "list"]).output.split()
        assert sorted(listed) == broker().registry.slugs
    assert runner.invoke(args=["addons", "manifest", "nope"]).exit_code != 0


def test_every_manifest_requires_the_log_input_the_broker_writes_to(app):
    """The broker posts each add-on's events to ``log_input_url``; the platform sends that URL
    only to add-ons whose manifest requires ``log_input``."""
    with app.app_context():
        slugs = broker().registry.slugs
    for slug in slugs:
        requires = manifest(app, slug)["api"]["requires"]
        assert "log_input" in requires, slug
        assert len(requires) == len(set(requires)), slug
