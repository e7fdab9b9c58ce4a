"""The buffering bridge (marketplace/serving.py) without a server: requests are complete
before the app sees them, over-long bodies are cut and refused, environs follow PEP 3333."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from marketplace.serving import BufferingBridge, wsgi_environ


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with what it was given: the body and a few environ values."""
    body = environ["wsgi.input"].read()
    limit_exceeded = int(environ["CONTENT_LENGTH"]) > 16
    status = "413 Content Too Large" if limit_exceeded else "200 OK"
    start_response(status, [("Content-Type", "text/plain"), ("X-Path", environ["PATH_INFO"])])
    return [b"got:", body]


def _scope(**overrides: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "raw_path": b"/x",
        "query_string": b"a=1",
        "headers": [(b"content-type", b"text/plain")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 5000),
        "client": ("127.0.0.2", 40000),
    }
    scope.update(overrides)
    return scope


def _call(scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bridge = BufferingBridge(_echo, max_body=16, threads=2)
    pending = messages  # consumed in place: a test can see what was never received
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # On a thread of its own: a test elsewhere in the session may leave this thread's loop running.
    with ThreadPoolExecutor(1) as runner:
        runner.submit(asyncio.run, bridge(scope, receive, send)).result()
    return sent


def _chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts)
    ]


def test_a_body_in_pieces_reaches_the_app_whole():
    sent = _call(_scope(), _chunks(b"abc", b"def", b"g"))
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"got:abcdefg"
    assert (b"x-path", b"/x") in sent[0]["headers"]


def test_a_chunked_body_over_the_limit_is_not_read_further_and_is_refused():
    messages = _chunks(b"a" * 10, b"b" * 10, b"never read")
    sent = _call(_scope(headers=[(b"transfer-encoding", b"chunked")]), messages)
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert sent[1]["body"] == b"got:"  # the app never sees the cut body
    assert len(messages) == 1  # the last message was never received


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    messages = _chunks(b"x" * 17)
    sent = _call(_scope(headers=[(b"content-length", b"17")]), messages)
    assert sent[0]["status"] == 413 and len(messages) == 1


def test_a_client_that_leaves_gets_no_answer():
    sent = _call(
        _scope(),
        [{"type": "http.request", "body": b"a", "more_body": True}, {"type": "http.disconnect"}],
    )
    assert sent == []


def test_the_environ_follows_pep_3333():
    scope = _scope(
        path="/api/é\x00",
        raw_path=b"/api/%C3%A9%00",
        headers=[
            (b"content-type", b"application/json"),
            (b"content-length", b"999"),
            (b"transfer-encoding", b"chunked"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"x-forwarded-for", b"10.0.0.1"),
        ],
    )
    environ = wsgi_environ(scope, b"{}")
    assert environ["PATH_INFO"] == "/api/é\x00".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "a=1"
    assert environ["CONTENT_LENGTH"] == "2" and "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.2" and environ["SERVER_PORT"] == "5000"
    assert environ["wsgi.input"].read() == b"{}"


def test_lifespan_is_acknowledged():
    sent = _call(
        {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
