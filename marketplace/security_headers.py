"""The headers a browser gets with every response: what it may sniff, frame, load and refer.

* Every response: ``X-Content-Type-Options: nosniff`` (a JSON body or a logo is never run as
  a script or a page).
* HTML pages (catalog, dashboards, error pages): a Content-Security-Policy that lets them run
  only the broker's own scripts and Heroku's Boomerang header script, never an inline one nor
  one injected into the markup; no page may be framed (``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``: the platform opens dashboards top-level through SSO, never in a
  frame); and ``Referrer-Policy: same-origin``.

A response that already carries a Content-Security-Policy (an add-on's logo) keeps its own.
"""

from __future__ import annotations

from flask import Flask, Response

#: Where Heroku's Boomerang header (script, stylesheet) is served from.
BOOMERANG_ORIGIN = "https://s3.amazonaws.com/assets.heroku.com/"

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' {BOOMERANG_ORIGIN}",
        f"style-src 'self' 'unsafe-inline' {BOOMERANG_ORIGIN}",
        "img-src 'self' data: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


def add_security_headers(response: Response) -> Response:
    """Set the headers above on ``response`` (after every request)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
    return response


def init_security_headers(app: Flask) -> None:
    """Send the headers above with every response of ``app``."""
    app.after_request(add_security_headers)
