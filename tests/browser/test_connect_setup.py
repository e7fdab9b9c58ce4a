"""Connect set up the way a customer does it: in a real browser, from the dashboard, through
the Salesforce stand-in's login page, to rows synced into the linked database."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from standins.salesforce import StandIn, serve
from tests.browser.conftest import screenshot
from tests.connect.conftest import connect_app
from tests.connect.support import drive, set_app
from tests.support import PartnerClient, free_port, live_server, remove_leftovers

pytestmark = pytest.mark.backend


@pytest.fixture
def standin(tmp_path, monkeypatch) -> Iterator[StandIn]:
    running = serve(":memory:", cert_dir=tmp_path / "certs", seed=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", running.ca_bundle)  # the broker's side checks it
    try:
        yield running
    finally:
        running.stop()


def test_connect_is_set_up_from_the_dashboard_in_a_browser(browser, sqlite_url, standin):
    port = free_port()  # the adapter sends Salesforce's login back to the broker's URL
    app = connect_app(sqlite_url, standin, MARKETPLACE_URL=f"http://127.0.0.1:{port}")
    postgres = PartnerClient(app.test_client(), app, "postgres")
    connect = PartnerClient(app.test_client(), app, "connect")
    database = postgres.provision(name="orders-db").get_json()["id"]
    connection = connect.provision(plan="demo", name="crm-sync").get_json()["id"]
    for uuid_ in (database, connection):
        set_app(app, uuid_)
    # The stand-in's certificate is a throwaway one: the browser may skip its check, the
    # broker's server side never does (REQUESTS_CA_BUNDLE).
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.route("https://s3.amazonaws.com/**", lambda route: route.abort())
    try:
        with live_server(app, port) as url:
            form = connect.sso_form(connection)
            inputs = "".join(
                f'<input type="hidden" name="{k}" value="{v}">' for k, v in form.items()
            )
            page.set_content(
                f'<form method="post" action="{url}/sso/login">{inputs}</form>'
                "<script>document.forms[0].submit()</script>"
            )
            page.wait_for_url(f"{url}/dashboard/{connection}")

            page.get_by_label("postgres resource of this app").select_option(value=database)
            page.get_by_role("button", name="Link", exact=True).click()
            expect(page.locator(".notice.ok")).to_contain_text("orders-db")

            page.get_by_role("button", name="Authorize Salesforce").click()
            page.wait_for_url(re.compile(re.escape(standin.url)))
            page.get_by_role("button", name=re.compile("allow", re.I)).click()
            page.wait_for_url(f"{url}/dashboard/{connection}")
            expect(page.get_by_role("button", name="Authorize again")).to_be_visible()

            page.get_by_label("Object", exact=True).fill("Account")
            page.get_by_label("Fields (comma-separated)").fill("Name, AccountNumber")
            page.get_by_role("button", name="Create or edit a mapping").click()
            expect(page.locator(".notice.ok")).to_contain_text("Mapping Account created")

            accounts = len(standin.admin.list_records("Account"))
            for _ in range(5):  # as the worker would: load, then settle
                drive(app, connection)
            page.reload()
            mapping = page.locator("tr", has_text="Account").first
            # Object, access, state label (OK once DATA_SYNCED), rows in Postgres and in Salesforce
            expect(mapping).to_contain_text(
                re.compile(rf"Account\s*read_only\s*OK\s*{accounts}\s*{accounts}")
            )
            screenshot(page, "connect-dashboard")
    finally:
        context.close()
        connect.deprovision(connection)
        postgres.deprovision(database)
        remove_leftovers(app)
