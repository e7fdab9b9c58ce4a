"""The catalog served like a static document.

Every catalog document (the JSON catalog, an add-on, its plans, a plan, and the catalog pages
for one query string) is rendered once per catalog version and kept as bytes with a strong
``ETag`` (a digest of the bytes, so every process serving the same catalog gives the same
tag). A process compares the catalog version in the store (see
:func:`marketplace.services.catalog.catalog_version`) with the one its documents were made
from at most every ``CATALOG_CHECK_SECONDS``, and drops them all when it changed.

Two ways in:

* the views call :meth:`DocumentCache.document` inside the app: it checks the version when it
  is due, renders on a miss and answers ``If-None-Match`` with 304;
* :class:`FastPath`, a WSGI middleware in front of Flask, answers a ``GET`` or ``HEAD`` whose
  document is already rendered and whose version was checked recently, without building a
  request context; anything else (a miss, a due check, an error) goes on to Flask. It writes
  the same access-log line and ``X-Request-Id`` as Flask's request hooks, and counts the
  request in the HTTP metrics under the URL rule the document was rendered for.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, Response, current_app, request

from marketplace.metrics.http import UNMATCHED, observe_request
from marketplace.security_headers import security_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

EXTENSION_KEY = "catalog_documents"
JSON_CACHE_CONTROL = "public, max-age=60"
PAGE_CACHE_CONTROL = "public, max-age=60"
MAX_DOCUMENTS = 256
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_PREFIXES = ("/api/addon-services", "/addons")
_EXACT = ("/",)

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Document:
    """A rendered document: its bytes and the headers every answer for it carries.

    ``route`` is the URL rule of the view that rendered it (the fast path counts its hits
    under that rule, as the app's own hooks would).
    """

    body: bytes
    mimetype: str
    cache_control: str
    etag: str = ""
    route: str = ""

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", hashlib.sha256(self.body).hexdigest()[:32])

    @property
    def content_type(self) -> str:
        """The Content-Type header (UTF-8 for text)."""
        return f"{self.mimetype}; charset=utf-8" if self.mimetype.startswith("text/") else (
            self.mimetype
        )

    def matches(self, if_none_match: str) -> bool:
        """Whether an ``If-None-Match`` header names this document (weak comparison)."""
        if not if_none_match:
            return False
        if if_none_match.strip() == "*":
            return True
        quoted = f'"{self.etag}"'
        return any(tag.strip().removeprefix("W/") == quoted for tag in if_none_match.split(","))

    def headers(self, not_modified: bool) -> list[tuple[str, str]]:
        """The response headers (no Content-Type or length on a 304)."""
        common = [
            ("ETag", f'"{self.etag}"'),
            ("Cache-Control", self.cache_control),
            *security_headers(self.mimetype),
        ]
        if not_modified:
            return common
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *common,
        ]


class DocumentCache:
    """Rendered documents of one app, keyed by (script root, path, query string), bounded
    LRU, valid for one catalog version. Thread-safe."""

    def __init__(
        self,
        read_version: Callable[[], str],
        check_seconds: float,
        max_documents: int = MAX_DOCUMENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_version = read_version
        self._check_seconds = check_seconds
        self._max = max_documents
        self._clock = clock
        self._lock = threading.Lock()
        self._documents: OrderedDict[Key, Document] = OrderedDict()
        self._version: str | None = None
        self._checked_at = float("-inf")

    def fresh(self, key: Key) -> Document | None:
        """The document for ``key`` if it is rendered and the version was checked recently;
        None otherwise (the caller then goes through :meth:`document`). No store access."""
        with self._lock:
            if self._clock() - self._checked_at >= self._check_seconds:
                return None
            found = self._documents.get(key)
            if found is not None:
                self._documents.move_to_end(key)
            return found

    def document(self, key: Key, render: Callable[[], Document]) -> Document:
        """The document for ``key``: checks the catalog version when due, renders on a miss.

        Must run in an app context (the version is read from the store).
        """
        self._check_version()
        with self._lock:
            found = self._documents.get(key)
            if found is not None:
                self._documents.move_to_end(key)
                return found
        rendered = render()  # outside the lock: rendering reads the store
        with self._lock:
            self._documents[key] = rendered
            self._documents.move_to_end(key)
            while len(self._documents) > self._max:
                self._documents.popitem(last=False)
        return rendered

    def _check_version(self) -> None:
        now = self._clock()
        with self._lock:
            if now - self._checked_at < self._check_seconds:
                return
        version = self._read_version()
        with self._lock:
            if version != self._version:
                self._documents.clear()
                self._version = version
            self._checked_at = now

    def __len__(self) -> int:
        return len(self._documents)


def documents() -> DocumentCache:
    """The current app's :class:`DocumentCache`."""
    return cast(DocumentCache, current_app.extensions[EXTENSION_KEY])


def request_key() -> Key:
    """The cache key of the current request."""
    environ = request.environ
    return (environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), _query(environ))


def serve(render: Callable[[], Document]) -> Response:
    """Answer the current request with its cached document (rendered by ``render`` on a
    miss): 304 when ``If-None-Match`` names it, the bytes otherwise."""
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    found = documents().document(request_key(), lambda: replace(render(), route=route))
    not_modified = found.matches(request.headers.get("If-None-Match", ""))
    response = Response(b"" if not_modified else found.body, status=304 if not_modified else 200)
    for name, value in found.headers(not_modified):
        response.headers[name] = value
    return response


def json_document(data: Any) -> Document:
    """``data`` as the JSON bytes Flask's own JSON responses carry."""
    body = cast(Response, current_app.json.response(data)).get_data()
    return Document(body, "application/json", JSON_CACHE_CONTROL)


def html_document(page: str) -> Document:
    """A rendered page as a document."""
    return Document(page.encode(), "text/html", PAGE_CACHE_CONTROL)


def _query(environ: WSGIEnvironment) -> str:
    return str(environ.get("QUERY_STRING", ""))


class FastPath:
    """WSGI middleware answering fresh, already-rendered catalog documents before Flask.

    Only ``GET`` and ``HEAD`` on catalog paths are looked at; everything else goes straight
    on. A hit writes the same access-log line and ``X-Request-Id`` as the app's hooks.
    """

    def __init__(self, app: WSGIApplication, cache: DocumentCache) -> None:
        self._app = app
        self._cache = cache
        from marketplace.logging import access_log

        self._log = access_log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        path = str(environ.get("PATH_INFO", ""))
        if method not in ("GET", "HEAD") or not (
            path in _EXACT or path.startswith(_PREFIXES)
        ):
            return self._app(environ, start_response)
        started = time.perf_counter()
        key = (str(environ.get("SCRIPT_NAME", "")), path, _query(environ))
        found = self._cache.fresh(key)
        if found is None:
            return self._app(environ, start_response)
        not_modified = found.matches(str(environ.get("HTTP_IF_NONE_MATCH", "")))
        given = str(environ.get("HTTP_X_REQUEST_ID", ""))
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = 304 if not_modified else 200
        start_response(
            "304 Not Modified" if not_modified else "200 OK",
            [*found.headers(not_modified), ("X-Request-Id", request_id)],
        )
        elapsed = time.perf_counter() - started
        observe_request(found.route or UNMATCHED, method, status, elapsed)
        self._log.info(
            "request",
            request_id=request_id,
            method=method,
            path=path,
            status=status,
            duration_ms=round(elapsed * 1000, 1),
            remote_addr=environ.get("REMOTE_ADDR"),
        )
        return [] if not_modified or method == "HEAD" else [found.body]


def init_documents(app: Flask, read_version: Callable[[], str]) -> None:
    """Give ``app`` its document cache and put the fast path in front of it."""
    cache = DocumentCache(read_version, float(app.config["CATALOG_CHECK_SECONDS"]))
    app.extensions[EXTENSION_KEY] = cache
    app.wsgi_app = FastPath(app.wsgi_app, cache)  # type: ignore[method-assign]
