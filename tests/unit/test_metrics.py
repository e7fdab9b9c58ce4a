"""``GET /metrics``: protection, and counters that move with real traffic (in-memory adapter,
SQLite store and queue: no backend service)."""

from __future__ import annotations

import pytest

from marketplace.context import broker
from tests.memory import MemoryAdapter, MemoryBackend
from tests.metrics_support import scrape
from tests.support import PartnerClient, build_app


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def memory_app(sqlite_url, tmp_path, backend):
    return build_app(
        sqlite_url,
        adapters=[MemoryAdapter(backend)],
        QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
    )


@pytest.fixture
def platform(memory_app) -> PartnerClient:
    return PartnerClient(memory_app.test_client(), memory_app, "memory")


def test_operations_sso_and_requests_move_their_counters(memory_app, platform):
    client = memory_app.test_client()
    before = scrape(client)

    uuid_ = platform.provision(plan="small").get_json()["id"]
    assert platform.change_plan(uuid_, "big").status_code == 200
    assert platform.change_plan(uuid_, "nope").status_code == 422
    assert client.post("/sso/login", data=platform.sso_form(uuid_)).status_code == 302
    stale = platform.sso_form(uuid_, age_seconds=3600)
    assert client.post("/sso/login", data=stale).status_code == 403
    middle = scrape(client)
    assert platform.deprovision(uuid_).status_code == 204
    assert platform.deprovision(uuid_).status_code == 410
    after = scrape(client)

    ops = "marketplace_partner_api_operations_total"
    provisioned = {"operation": "provision", "outcome": "provisioned"}
    assert after.moved(before, ops, addon="memory", **provisioned) == 1
    assert after.moved(before, ops, operation="plan_change", outcome="plan_changed") == 1
    assert after.moved(before, ops, operation="plan_change", outcome="unprocessable_entity") == 1
    assert after.moved(before, ops, operation="deprovision", outcome="removed") == 1
    assert after.moved(before, ops, operation="deprovision", outcome="gone") == 1
    duration = "marketplace_partner_api_operation_duration_seconds_count"
    assert after.moved(before, duration, addon="memory", operation="provision") == 1
    backend_part = "marketplace_partner_api_backend_duration_seconds_count"
    assert after.moved(before, backend_part, addon="memory", operation="deprovision") == 2
    calls = "marketplace_adapter_calls_total"
    assert after.moved(before, calls, addon="memory", call="provision", outcome="ok") == 1
    assert after.moved(before, calls, call="deprovision", outcome="ok") == 1

    sso = "marketplace_sso_logins_total"
    assert after.moved(before, sso, outcome="ok") == 1
    assert after.moved(before, sso, outcome="bad_timestamp") == 1

    # Requests are counted by URL rule, so resource ids never become label values.
    requests = "marketplace_http_requests_total"
    rule = "/heroku/resources/<string:uuid>"
    assert after.moved(before, requests, route=rule, method="PUT", status="200") == 1
    assert after.moved(before, requests, route=rule, method="DELETE", status="410") == 1
    assert uuid_ not in after.text
    assert after.moved(before, "marketplace_http_request_duration_seconds_count", route=rule) == 4

    # Gauges read at scrape time: resources by add-on and state.
    resources = "marketplace_resources"
    assert middle.value(resources, addon="memory", state="provisioned") == 1
    assert after.value(resources, addon="memory", state="provisioned") == 0
    assert after.value(resources, addon="memory", state="deprovisioned") == 1


def test_a_client_cannot_invent_label_values_with_made_up_methods(memory_app):
    client = memory_app.test_client()
    before = scrape(client)
    for i in range(20):
        assert client.open("/heroku/resources", method=f"HACK{i}").status_code == 405
        assert client.open(f"/nowhere/{i}", method=f"ZAP{i}").status_code in (404, 405)
    after = scrape(client)
    assert "HACK" not in after.text and "ZAP" not in after.text
    requests = "marketplace_http_requests_total"
    assert after.moved(before, requests, route="unmatched", method="other") == 40
    assert after.moved(before, "marketplace_http_request_duration_seconds_count", method="other")


def test_queue_depth_and_age_and_backend_health_are_read_at_scrape_time(memory_app, backend):
    client = memory_app.test_client()
    with memory_app.app_context():
        name = broker().queue.huey.name
        broker().queue.enqueue_drive("some-uuid")
        broker().queue.enqueue_tick("other-uuid", delay=600)
    first = scrape(client)
    assert first.value("marketplace_queue_depth", queue=name) == 1
    assert first.value("marketplace_queue_depth", queue=f"{name}-ticks") == 1
    assert first.value("marketplace_queue_oldest_job_age_seconds", queue=name) >= 0
    # The tick is due in ten minutes: nothing on its queue is waiting yet.
    assert first.value("marketplace_queue_oldest_job_age_seconds", queue=f"{name}-ticks") == 0
    assert first.value("marketplace_backend_up", backend="memory") == 1
    assert first.value("marketplace_backend_up", backend="store") == 1

    backend.down = True
    assert client.get("/readyz").status_code == 503  # readiness refreshes the cached health
    assert scrape(client).value("marketplace_backend_up", backend="memory") == 0


def test_without_a_token_only_local_unproxied_clients_may_read(memory_app):
    client = memory_app.test_client()
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403
    assert remote.get_json()["id"] == "forbidden"
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_with_a_token_every_client_needs_it(sqlite_url, tmp_path):
    app = build_app(
        sqlite_url,
        adapters=[MemoryAdapter()],
        QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
        METRICS_TOKEN="scrape-me",
    )
    client = app.test_client()
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    remote = client.get(
        "/metrics",
        headers={"Authorization": "Bearer scrape-me"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert remote.status_code == 200
    assert "marketplace_resources" in remote.get_data(as_text=True)


def test_catalog_answers_from_the_fast_path_are_counted_like_any_other(memory_app):
    # The catalog's WSGI fast path answers rendered documents before Flask: its hits (most
    # catalog traffic) must count under the view's URL rule all the same.
    client = memory_app.test_client()
    before = scrape(client)
    etag = client.get("/api/addon-services/memory").headers["ETag"]
    for _ in range(4):
        assert client.get("/api/addon-services/memory").status_code == 200
    unchanged = client.get("/api/addon-services/memory", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert client.head("/").status_code == 200
    after = scrape(client)

    requests = "marketplace_http_requests_total"
    rule = "/api/addon-services/<string:slug>"
    assert after.moved(before, requests, route=rule, method="GET", status="200") == 5
    assert after.moved(before, requests, route=rule, method="GET", status="304") == 1
    assert after.moved(before, requests, route="/", method="HEAD", status="200") == 1
    duration = "marketplace_http_request_duration_seconds_count"
    assert after.moved(before, duration, route=rule, method="GET") == 6
