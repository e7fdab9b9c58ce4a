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
        f"font-src 'self' data: {BOOMERANG_ORIGIN}",  # the header's icon font
        "img-src 'self' data: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


def security_headers(mimetype: str) -> list[tuple[str, str]]:
    """The headers above for a response of ``mimetype`` (also sent by the catalog's fast
    path, which answers before Flask's hooks run)."""
    headers = [("X-Content-Type-Options", "nosniff")]
    if mimetype == "text/html":
        headers += [
            ("Content-Security-Policy", PAGE_POLICY),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
        ]
    return headers


def add_security_headers(response: Response) -> Response:
    """Set the headers above on ``response`` (after every request); a policy the response
    already carries is kept."""
    for name, value in security_headers(response.mimetype or ""):
        if name == "Content-Security-Policy":
            response.headers.setdefault(name, value)
        else:
            response.headers[name] = value
    return response


def init_security_headers(app: Flask) -> None:
    """Send the headers above with every response of ``app``."""
    app.after_request(add_security_headers)
