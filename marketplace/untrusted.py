"""The edge where request input enters: every kind of hostile input is refused here, once.

Whatever a client sends passes these checks before any view, service or store sees it:

* JSON bodies (``request.get_json`` and flask-smorest's webargs parser alike) are decoded by
  :func:`loads_untrusted`: at most :data:`MAX_JSON_DEPTH` levels of nesting, integers of at
  most :data:`MAX_INTEGER_DIGITS` digits, no ``NaN``/``Infinity``, and no string (key or
  value) holding NUL or a lone UTF-16 surrogate. Each refusal is a 400 with a message that
  names the problem, never the value.
* The path, the query string and form fields may not hold NUL (400): PostgreSQL text cannot
  store it, and no legitimate caller sends it.
* A body longer than ``MAX_CONTENT_LENGTH`` is 413 whether it was announced by
  ``Content-Length`` or sent chunked (werkzeug alone would cut a chunked body at the limit
  and let the app read the truncated bytes).
* HTTP Basic credentials are read with :func:`basic_credentials`: a header werkzeug cannot
  decode (non-ASCII base64), or a username or password holding NUL or a lone surrogate,
  counts as no credentials at all (the caller answers 401), never as a 500.
"""

from __future__ import annotations

from typing import IO, Any, cast

import flask
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from marketplace.adapters.json_input import (
    FORBIDDEN_CHARACTERS,
    MAX_INTEGER_DIGITS,
    MAX_JSON_DEPTH,
    UntrustedInput,
    check_json_value,
    check_text,
    loads_bounded,
)
from marketplace.errors import BadRequest, Unprocessable

__all__ = [
    "MAX_INTEGER_DIGITS",
    "MAX_JSON_DEPTH",
    "UntrustedInput",
    "basic_credentials",
    "check_json_value",
    "check_text",
    "loads_untrusted",
]


def loads_untrusted(data: str | bytes | bytearray) -> Any:
    """Decode a JSON document from a client, refusing what would hurt later
    (:func:`~marketplace.adapters.json_input.loads_bounded`'s bounds).

    :raises UntrustedInput: syntax errors (a ``json.JSONDecodeError``, itself a subclass of
        ValueError, is wrapped), nesting deeper than :data:`MAX_JSON_DEPTH`, an integer of
        more than :data:`MAX_INTEGER_DIGITS` digits, ``NaN``/``Infinity``, NUL or a lone
        surrogate in a string.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8-sig" if data[:3] == b"\xef\xbb\xbf" else "utf-8")
        except UnicodeDecodeError as error:
            raise UntrustedInput("The body is not valid UTF-8.") from error
    else:
        text = data
    try:
        return loads_bounded(text)
    except UntrustedInput:
        raise
    except ValueError as error:
        raise UntrustedInput("The body is not valid JSON.") from error


def basic_credentials() -> tuple[str, str] | None:
    """The request's HTTP Basic username and password, or None when there are none usable.

    werkzeug's parser raises ``ValueError`` for a Basic header with non-ASCII characters; a
    NUL cannot be compared against the store (PostgreSQL text refuses it). Both are treated
    as missing credentials.
    """
    try:
        auth = request.authorization
    except ValueError:
        return None
    if auth is None or auth.type != "basic":
        return None
    username, password = auth.username or "", auth.password or ""
    if FORBIDDEN_CHARACTERS.search(username) or FORBIDDEN_CHARACTERS.search(password):
        return None
    return username, password


class UntrustedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider whose ``loads`` is :func:`loads_untrusted` (so is
    ``request.get_json``); dumping is unchanged."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Decode like :func:`loads_untrusted` (``kwargs`` are not supported and ignored)."""
        return loads_untrusted(s)


class CheckedRequest(flask.Request):
    """The request class: JSON and form input are checked when first read, and a chunked
    body over the limit is 413 (see the module docstring)."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """A refused JSON body is 400 with the refusal's own (value-free) message; a body
        that is not JSON at all keeps Flask's 415."""
        if isinstance(e, UntrustedInput):
            raise BadRequest(str(e))
        return super().on_json_loading_failed(e)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = cast(MultiDict[str, str], self.__dict__["form"])
        try:
            for key, value in form.items(multi=True):
                check_text(key, "A form field name")
                check_text(value, "A form field")
        except UntrustedInput as error:
            self.__dict__["form"] = MultiDict()  # nothing later reads the refused values
            raise BadRequest(str(error)) from error

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body stream; one without ``Content-Length`` that runs past the limit is 413."""
        limit = self.max_content_length
        if (
            limit is not None
            and self.content_length is None
            and "wsgi.input_terminated" in self.environ
        ):
            return cast(IO[bytes], _StrictLimitedStream(self.environ["wsgi.input"], limit))
        return get_input_stream(self.environ, max_content_length=limit)


class _StrictLimitedStream(LimitedStream):
    """Reads one byte past ``limit``: if that byte exists the body is too large (413).

    werkzeug's own maximum stream stops at the limit and returns what it read, which makes a
    chunked body over the limit look like a complete, truncated one.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)
        self._allowed = limit

    def readinto(self, b: Any) -> int | None:
        size = super().readinto(b)
        if self._pos > self._allowed:
            raise RequestEntityTooLarge()
        return size


class CheckedParser(FlaskParser):
    """webargs' Flask parser (flask-smorest's ``@blp.arguments``) decoding JSON with
    :func:`loads_untrusted`; a refusal is 400 with its message. A body sent without a JSON
    ``Content-Type`` is 422 saying so (webargs alone would ignore it and report every
    required field as missing)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            if req.get_data(cache=True):
                raise Unprocessable(
                    "The body is not declared as JSON: send it with "
                    "Content-Type: application/json."
                )
            return missing
        data = req.get_data(cache=True)
        if not data:
            return missing  # as webargs: an empty body is no body (fields are then missing)
        try:
            return loads_untrusted(data)
        except UntrustedInput as error:
            raise BadRequest(str(error)) from error


def init_input_checks(app: Flask) -> None:
    """Install the checks on ``app``: request class, JSON provider, path and query checks,
    and the early 413 for an announced body over the limit."""
    app.request_class = CheckedRequest
    app.json = UntrustedJSONProvider(app)
    app.before_request(_check_request_line)


def _check_request_line() -> None:
    """Path and query string: no NUL anywhere; an announced body over the limit is 413
    before anything reads it."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    try:
        check_text(request.path, "The path")
        for key, value in request.args.items(multi=True):
            check_text(key, "A query parameter name")
            check_text(value, "A query parameter")
    except UntrustedInput as error:
        raise BadRequest(str(error)) from error
