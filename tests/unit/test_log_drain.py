"""Add-on log lines for the app's log stream: framing, the bounded sender, and the flow through
the local platform's log input (in-memory adapter, no backend service)."""

from __future__ import annotations

import socket
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from prometheus_client import REGISTRY

from marketplace.adapters import ActionResult, AddonEvent, TickResult
from marketplace.context import broker, lifecycle
from marketplace.services.dashboard import perform_action, rotate_credentials
from marketplace.services.events import EXTENSION_KEY
from marketplace.services.log_drain import (
    LogDrainSender,
    LogLine,
    frame,
    post_batch,
    redacted,
    syslog_message,
)
from standins.platform.logs import parse_frames, parse_syslog
from tests.async_support import in_process_worker, local_platform
from tests.memory import MemoryAdapter, MemoryBackend, TickingAdapter
from tests.support import PartnerClient, build_app, live_server, wait_until

AT = datetime(2026, 11, 29, 23, 40, 1, 250000, tzinfo=UTC)


def _line(message: str, url: str = "http://token:t.1@127.0.0.1:9/logs/a") -> LogLine:
    return LogLine(url=url, token="d.0123", source="memory", message=message, at=AT)


def _lines_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("marketplace_addon_log_lines_total", {"outcome": outcome}) or 0


def test_lines_are_octet_counted_rfc5424_messages():
    body = frame([_line("event=provisioned addon=memory"), _line("état=ok ünïcode")])
    messages = parse_frames(body)
    assert len(messages) == 2
    assert body.startswith(f"{len(messages[0])} <190>1 ".encode())
    assert messages[0] == (
        b"<190>1 2026-11-29T23:40:01.250000+00:00 d.0123 app memory - - "
        b"event=provisioned addon=memory"
    )
    second = parse_syslog(messages[1])
    assert (second.hostname, second.app_name, second.procid) == ("d.0123", "app", "memory")
    assert second.message == "état=ok ünïcode"  # lengths count bytes, not characters
    assert b"\n" not in syslog_message(_line("two\nlines"))


def test_a_full_queue_drops_the_oldest_lines_and_counts_them():
    release = threading.Event()
    posted: list[list[str]] = []
    first_post = threading.Event()

    def post(url, lines, timeout):
        posted.append([line.message for line in lines])
        first_post.set()
        release.wait(30)

    sender = LogDrainSender(capacity=3, timeout=1.0, post=post)
    dropped = _lines_counted("dropped")
    sender.submit(_line("first"))
    assert first_post.wait(10)  # the thread holds "first" in a post that hangs
    for n in range(5):
        sender.submit(_line(f"queued-{n}"))
    assert sender.pending == 3
    assert _lines_counted("dropped") - dropped == 2
    release.set()
    assert sender.flush(10)
    sender.close()
    assert posted == [["first"], ["queued-2", "queued-3", "queued-4"]]


def test_a_failing_post_is_counted_and_the_sender_goes_on():
    calls: list[int] = []

    def post(url, lines, timeout):
        calls.append(len(lines))
        if len(calls) == 1:
            raise ConnectionError("refused")

    sender = LogDrainSender(capacity=10, post=post)
    failed, sent = _lines_counted("failed"), _lines_counted("sent")
    sender.submit(_line("lost"))
    assert sender.flush(10)
    sender.submit(_line("delivered"))
    assert sender.flush(10)
    sender.close()
    assert _lines_counted("failed") - failed == 1
    assert _lines_counted("sent") - sent == 1


def test_a_log_input_url_that_does_not_parse_costs_only_its_own_lines():
    bad = "http://token:t.1@127.0.0.1:99999/logs/a"  # requests and urllib refuse the port
    posted: list[list[str]] = []

    def post(url, lines, timeout):
        if url == bad:
            post_batch(url, lines, timeout)  # the real post: raises for this URL
        posted.append([line.message for line in lines])

    sender = LogDrainSender(capacity=10, post=post)
    failed = _lines_counted("failed")
    sender.submit(_line("other app, before"))
    sender.submit(_line("bad url", url=bad))
    sender.submit(_line("other app, same batch", url="http://token:t.2@127.0.0.1:9/logs/b"))
    assert sender.flush(10)  # the sender did not die holding the batch
    sender.submit(_line("later"))
    assert sender.flush(10)
    sender.close()
    assert sorted(m for batch in posted for m in batch) == [
        "later",
        "other app, before",
        "other app, same batch",
    ]
    assert _lines_counted("failed") - failed == 1
    assert redacted(bad) == "<unparsable URL>"
    assert "t.1" not in redacted(bad)


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


def _sender(app) -> LogDrainSender:
    return app.extensions[EXTENSION_KEY].sender


def test_events_reach_the_apps_log_stream_with_the_drain_token_and_no_secret(
    sqlite_url, tmp_path, platform, caplog
):
    caplog.set_level("DEBUG")
    backend = MemoryBackend()
    app = build_app(
        sqlite_url, adapters=[MemoryAdapter(backend)], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}"
    )
    with live_server(app) as broker_url:
        platform.register(app, broker_url, slug="memory")
        created = platform.create(plan="small", slug="memory")
        addon_uuid = created["addon"]["uuid"]
        assert created["status"] == 200
        platform.admin("POST", f"/_admin/addons/{addon_uuid}/plan", json={"plan": "big"})
        with app.app_context():
            rotated, _ = rotate_credentials(addon_uuid, lifecycle(), broker().queue)
        platform.admin("DELETE", f"/_admin/addons/{addon_uuid}")
        assert _sender(app).flush(10)

    lines = platform.store.log_lines("demo")
    assert [line["message"].split()[0] for line in lines] == [
        "event=provisioned",
        "event=plan_changed",
        "event=credentials_rotated",
        "event=deprovisioned",
    ]
    assert lines[0]["message"] == (
        f"event=provisioned addon_id={addon_uuid} addon=memory plan=small state=provisioned"
    )
    assert "plan=big state=provisioned previous_plan=small" in lines[1]["message"]
    assert "config_vars=MEMORY_URL" in lines[2]["message"]
    assert lines[3]["message"].endswith("state=deprovisioned")
    handed_out = platform.store.log_input(addon_uuid)
    token, drain = handed_out["token"], handed_out["drain_token"]
    assert {line["hostname"] for line in lines} == {drain}
    assert {line["procid"] for line in lines} == {"memory"}

    secrets = [created["addon"]["config"]["MEMORY_URL"], rotated["MEMORY_URL"], token]
    text = "\n".join(line["message"] for line in lines)
    for secret in secrets:
        assert secret not in text
        assert secret not in caplog.text


class Blackhole:
    """A TCP server that accepts connections and never answers until released."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        self.server.close()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()


def test_a_log_input_that_never_answers_delays_no_api_call(sqlite_url, tmp_path):
    hole = Blackhole()
    app = build_app(
        sqlite_url,
        adapters=[MemoryAdapter()],
        QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}",
        LOG_DRAIN_TIMEOUT_SECONDS=120.0,  # a post waits on the blackhole until it is closed
    )
    partner = PartnerClient(app.test_client(), app, "memory")
    url = f"http://token:t.secret@127.0.0.1:{hole.port}/logs/demo"
    failed = _lines_counted("failed")
    try:
        body = partner.provision_body(plan="small", log_input_url=url, log_drain_token="d.1")
        created = partner.client.post("/heroku/resources", json=body, headers=partner.headers)
        assert created.status_code == 200
        wait_until(lambda: hole.accepted, what="the sender is stuck posting to the blackhole")
        # With the sender stuck in that post, the next calls answer at once, and their lines
        # wait in the queue behind it.
        assert partner.change_plan(body["uuid"], "big").status_code == 200
        assert partner.deprovision(body["uuid"]).status_code == 204
        assert _sender(app).pending == 2
        assert len(hole.accepted) == 1 and _lines_counted("failed") == failed
    finally:
        hole.close()  # the stuck post fails now; the queued lines go to a closed port
    assert _sender(app).flush(30)
    assert _lines_counted("failed") - failed == 3


def test_an_unreachable_log_input_fails_quietly(sqlite_url, tmp_path):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connections are refused
    app = build_app(
        sqlite_url, adapters=[MemoryAdapter()], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}"
    )
    partner = PartnerClient(app.test_client(), app, "memory")
    failed = _lines_counted("failed")
    response = partner.provision(
        plan="small", log_input_url=f"http://token:x@127.0.0.1:{port}/logs/a", log_drain_token="d"
    )
    assert response.status_code == 200
    assert _sender(app).flush(30)
    assert _lines_counted("failed") - failed == 1
    partner.deprovision(response.get_json()["id"])
    assert _sender(app).flush(30)


def _provision_logging_to(platform, partner: PartnerClient, app_name: str) -> str:
    """Provision (plan ``small``) with a log input of the local platform's app ``app_name``,
    as Heroku's provision request carries one; return the add-on's uuid."""
    addon_uuid = str(uuid.uuid4())
    log_input = platform.store.create_log_input(addon_uuid, app_name)
    host = platform.url.removeprefix("http://")
    created = partner.provision(
        uuid=addon_uuid,
        plan="small",
        log_input_url=f"http://token:{log_input['token']}@{host}/logs/{app_name}",
        log_drain_token=log_input["drain_token"],
    )
    assert created.status_code == 200
    return addon_uuid


class ReportingAdapter(TickingAdapter):
    """Reports a sync from each tick and a state change from an action (as Connect and the
    data connectors will)."""

    def tick(self, resource):
        result = super().tick(resource)
        return TickResult(None, result.state, events=(AddonEvent("sync_completed", {"rows": "3"}),))

    def perform(self, resource, action, params):
        if action == "pause":
            paused = AddonEvent("connector_state", {"to": "paused"})
            return ActionResult("Paused.", events=(paused,))
        return super().perform(resource, action, params)


def test_adapters_report_events_from_ticks_and_actions(sqlite_url, tmp_path, platform):
    app = build_app(
        sqlite_url, adapters=[ReportingAdapter()], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}"
    )
    partner = PartnerClient(app.test_client(), app, "ticking")
    with in_process_worker(app):
        addon_uuid = _provision_logging_to(platform, partner, "demo")

        def messages() -> list[str]:
            return [line["message"] for line in platform.store.log_lines("demo")]

        wait_until(lambda: any("sync_completed" in m for m in messages()), what="the tick's line")
        with app.app_context():
            perform_action(addon_uuid, "pause", {}, lifecycle(), broker().queue)
        assert partner.deprovision(addon_uuid).status_code == 204
        assert _sender(app).flush(10)
    assert [m.split()[0] for m in messages()] == [
        "event=provisioned",
        "event=sync_completed",
        "event=connector_state",
        "event=deprovisioned",
    ]
    assert messages()[1].endswith("state=provisioned rows=3")
    assert messages()[2].endswith("to=paused")


class LeakyAdapter(MemoryAdapter):
    """An adapter whose config is a URL with a password, and whose action reports that
    password (alone, then percent-encoded as in the URL) in an event."""

    PASSWORD = "s3cret/pass word"

    def provision(self, request):
        result = super().provision(request)
        url = f"memory://tenant:{quote(self.PASSWORD, safe='')}@db.internal/{request.resource_id}"
        return replace(result, config={"MEMORY_URL": url})

    def perform(self, resource, action, params):
        if action == "pause":
            encoded = quote(self.PASSWORD, safe="")
            return ActionResult(
                "Paused.",
                events=(
                    AddonEvent("oops", {"password": self.PASSWORD}),
                    AddonEvent("oops", {"encoded": encoded}),
                    AddonEvent("connector_state", {"to": "paused"}),
                ),
            )
        return super().perform(resource, action, params)


def test_a_line_holding_the_password_of_a_config_url_is_withheld(sqlite_url, tmp_path, platform):
    app = build_app(
        sqlite_url, adapters=[LeakyAdapter()], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}"
    )
    partner = PartnerClient(app.test_client(), app, "memory")
    withheld = _lines_counted("withheld")
    addon_uuid = _provision_logging_to(platform, partner, "demo")
    with app.app_context():
        perform_action(addon_uuid, "pause", {}, lifecycle(), broker().queue)
    assert _sender(app).flush(10)

    messages = [line["message"] for line in platform.store.log_lines("demo")]
    assert [m.split()[0] for m in messages] == ["event=provisioned", "event=connector_state"]
    assert _lines_counted("withheld") - withheld == 2
    text = "\n".join(messages)
    assert LeakyAdapter.PASSWORD not in text
    assert quote(LeakyAdapter.PASSWORD, safe="") not in text
