"""Catalog and dashboard in a real browser, including the full SSO flow and rotation."""

from __future__ import annotations

import json

import psycopg
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.backend


def test_catalog_lists_every_addon_and_search_narrows_it(page, served):
    url, _, _ = served
    page.goto(f"{url}/")
    cards = page.locator("[data-addon]")
    expect(cards).to_have_count(2)
    screenshot(page, "catalog-list")

    page.get_by_label("Search add-ons").fill("postgres")
    expect(page.locator("[data-addon]:visible")).to_have_count(1)
    expect(page.locator("[data-result-count]")).to_have_text("1 add-on")

    page.get_by_label("Search add-ons").fill("no-such-thing")
    expect(page.locator("[data-addon]:visible")).to_have_count(0)


def test_search_works_without_javascript(browser, served):
    url, _, _ = served
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{url}/addons")
    page.get_by_label("Search add-ons").fill("rabbit")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("[data-addon]")).to_have_count(1)
    expect(page.locator("[data-addon] h3")).to_have_text("RabbitMQ")
    context.close()


def test_detail_page_shows_plans_and_docs(page, served):
    url, _, _ = served
    page.goto(f"{url}/")
    page.get_by_role("link", name="PostgreSQL").click()
    expect(page).to_have_title("PostgreSQL · Marketplace")
    expect(page.locator("table.plans tbody tr")).to_have_count(4)
    expect(page.locator("tr.default-plan")).to_contain_text("essential-0")
    expect(page.locator("pre.cli")).to_have_text("heroku addons:create postgres:essential-0")
    expect(page.get_by_role("heading", name="Ruby (pg)")).to_be_visible()
    screenshot(page, "catalog-detail")


def test_sso_reveal_rotate_in_the_browser(page, served):
    url, _, partner = served
    body = partner.provision().get_json()
    old_url = body["config"]["DATABASE_URL"]
    form = partner.sso_form(body["id"])
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in form.items())
    # What the platform serves: a form that posts itself to the broker's sso_url.
    page.set_content(
        f'<form method="post" action="{url}/sso/login">{inputs}</form>'
        "<script>document.forms[0].submit()</script>"
    )
    page.wait_for_url(f"{url}/dashboard/{body['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("acme-inc-primary-database")
    secret = page.locator("[data-secret-value]")
    expect(secret).to_be_hidden()
    screenshot(page, "dashboard")

    page.get_by_text("Reveal").click()
    expect(secret).to_be_visible()
    assert secret.inner_text() == old_url

    page.get_by_label("I understand the current credentials stop working at once").check()
    page.get_by_role("button", name="Rotate credentials").click()
    expect(page.locator(".notice.info")).to_contain_text("New credentials issued")
    page.get_by_text("Reveal").click()
    new_url = page.locator("[data-secret-value]").inner_text()

    assert new_url != old_url
    with psycopg.connect(new_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(old_url).close()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed out")
    page.goto(f"{url}/dashboard/{body['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("You don't have access to this page")


def test_phone_layout_has_no_horizontal_scroll(browser, served):
    url, _, _ = served
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    # A long unbroken query is shown back on the empty result: it must wrap.
    for path in ("/", "/addons/postgres", "/addons?q=" + "x" * 100):
        page.goto(f"{url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    screenshot(page, "catalog-phone")
    context.close()


def test_unknown_page_is_a_friendly_404(page, served):
    url, _, _ = served
    response = page.goto(f"{url}/nope")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn't find that page")
    expect(page.get_by_role("link", name="Browse add-ons")).to_be_visible()
    assert json.dumps(page.title())


def test_dashboard_runs_the_platform_header_under_its_content_security_policy(page, served):
    url, _, partner = served
    form = partner.sso_form(partner.provision().get_json()["id"])
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Refused" in message.text else None,
    )
    # A stand-in for Heroku's Boomerang: it records how the dashboard initialises it.
    page.route(
        "https://s3.amazonaws.com/assets.heroku.com/boomerang/boomerang.js",
        lambda route: route.fulfill(
            content_type="text/javascript",
            body="window.Boomerang = {init: function (o) { window.booted = o; }};",
        ),
    )
    sign_in(page, url, form)
    page.wait_for_function("window.booted !== undefined")
    assert page.evaluate("window.booted") == {"app": "acme-web", "addon": "postgres"}
    assert refused == [], "the policy blocked one of the page's own resources"
    # An injected inline script would not run.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
        " document.body.append(s); }"
    )
    assert page.evaluate("window.injected") is None


def test_phone_dashboard_has_no_horizontal_scroll(browser, served):
    url, _, partner = served
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.route("https://s3.amazonaws.com/**", lambda route: route.abort())
    sign_in(page, url, partner.sso_form(partner.provision().get_json()["id"]))
    # Its tables scroll inside their own box; their hidden "Actions" headers must not widen
    # the page.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the dashboard scrolls sideways by {overflow}px"
    screenshot(page, "dashboard-phone")
    context.close()


def sign_in(page, url: str, form: dict[str, str]) -> None:
    """Post the platform's SSO form from the browser, as the platform does; wait for the
    dashboard."""
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in form.items())
    page.set_content(
        f'<form method="post" action="{url}/sso/login">{inputs}</form>'
        "<script>document.forms[0].submit()</script>"
    )
    page.wait_for_url(f"{url}/dashboard/{form['resource_id']}")
