"""The serving model: an event loop reads requests, threads run the app on complete ones.

A WSGI server that gives each connection a thread (gunicorn's ``sync`` and ``gthread``
workers) gives a slow client that thread for as long as it takes to send its headers and
body: ten clients sending a byte at a time take a small pool down. :class:`BufferingBridge`
is an ASGI application (served by gunicorn's asyncio ``asgi`` worker, see
``gunicorn.conf.py``) that reads each request completely on the event loop, where a slow
connection costs a coroutine and a socket, and only then hands it to the Flask app on a
bounded thread pool, with the body in memory. The response is collected on that thread and
written back by the event loop, so a slow reader holds no thread either.

Nothing is monkey-patched: the app, psycopg, SQLite and confluent-kafka run on ordinary
threads exactly as under any threaded WSGI server. The bridge is what a buffering reverse
proxy would be, inside the web process.

A body is read up to the app's ``MAX_CONTENT_LENGTH``: a longer one (announced by
``Content-Length`` or found while reading a chunked body) is not read further, and the app is
told a length over its limit, so it answers 413 as it does behind any server (and the
connection closes). A body that does not arrive within ``body_timeout`` seconds ends the
connection without an answer.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Disconnected(Exception):
    """The client went away before its request was complete."""


class BufferingBridge:
    """Serve a WSGI app to an ASGI server, one complete request at a time per thread.

    :param app: the WSGI app (the Flask app).
    :param max_body: the largest body read; more is not read and the app answers 413.
    :param threads: how many requests the app serves at once in this process.
    :param body_timeout: seconds a client has to send its whole body.
    """

    def __init__(
        self, app: WSGIApp, *, max_body: int, threads: int, body_timeout: float = 60.0
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.threads = threads
        self.body_timeout = body_timeout
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        # Made on first use, in the worker process (never before gunicorn forks).
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="web")
        return self._executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: lifespan and HTTP; other protocols are refused."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._executor is not None:
                    self._executor.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(self.body_timeout):
                body, too_large = await self._read_body(scope, receive)
        except (_Disconnected, TimeoutError):
            return  # nobody is waiting for an answer, or the client is too slow to deserve one
        environ = wsgi_environ(scope, body)
        if too_large:
            environ["CONTENT_LENGTH"] = str(self.max_body + 1)  # the app answers 413
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(self._pool(), _run, self.app, environ)
        if too_large:  # the rest of the body was never read: the connection cannot be reused
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes, bool]:
        """The whole body, or what was read when it proved larger than ``max_body``."""
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return b"", True
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", True
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP ``scope`` whose body has been read.

    The path is taken from ``raw_path`` and percent-decoded to bytes, then carried as a
    latin-1 string, exactly as a WSGI server does. ``CONTENT_LENGTH`` is the buffered
    body's length and ``Transfer-Encoding`` is dropped: the app sees a plain body whether
    the client sent it chunked or not (as behind a buffering proxy).
    """
    root_path = scope.get("root_path", "")
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    path = unquote_to_bytes(bytes(raw_path)).decode("latin-1")
    root = root_path.encode("utf-8").decode("latin-1")
    if root and path.startswith(root):
        path = path[len(root) :]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root,
        "PATH_INFO": path,
        "QUERY_STRING": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if len(server) > 1 and server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = str(client[0]), str(client[1])
    for raw_name, raw_value in scope["headers"]:
        name = bytes(raw_name).decode("latin-1").upper().replace("-", "_")
        value = bytes(raw_value).decode("latin-1")
        if name in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is buffered: its length above is the truth, chunked or not
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = f"{environ[key]}{separator}{value}"
        else:
            environ[key] = value
    return environ


_Response = tuple[int, list[tuple[bytes, bytes]], list[bytes]]


def _run(app: WSGIApp, environ: dict[str, Any]) -> _Response:
    """Call the WSGI app on a pool thread; return its status, headers and whole body."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda _data: None  # the legacy write() callable; Flask never uses it

    result = app(environ, start_response)
    try:
        chunks = [bytes(chunk) for chunk in result]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return int(status.split(" ", 1)[0]), encoded, chunks
