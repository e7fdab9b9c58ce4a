"""Who may read the operator's endpoints: ``GET /metrics`` and ``GET /api/usage``.

* With a token configured (``METRICS_TOKEN``, ``OPERATOR_TOKEN``), only a request carrying
  ``Authorization: Bearer <token>`` (compared in constant time).
* ``/metrics`` without ``METRICS_TOKEN``: only a client on this host (a loopback address),
  and only when the request did not come through a proxy (no ``Forwarded``,
  ``X-Forwarded-For`` or ``X-Real-IP`` header): a proxy on the same host would otherwise let
  the whole internet in as 127.0.0.1.
* ``/api/usage`` without ``OPERATOR_TOKEN``: nobody (billing data is never open).
"""

from __future__ import annotations

import ipaddress

from flask import request

from marketplace.errors import Forbidden, Unauthorized
from marketplace.services.crypto import secrets_equal

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def require_bearer(expected: str, realm: str) -> None:
    """The request must carry ``Authorization: Bearer <expected>``.

    :raises Unauthorized: missing or wrong token.
    """
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not given or not secrets_equal(given, expected):
        raise Unauthorized(
            f"Send the {realm} token as a Bearer token.",
            headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )


def is_local_unproxied() -> bool:
    """Whether the client is on this host and talks to us directly."""
    if any(request.headers.get(name) for name in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def require_metrics_reader(token: str) -> None:
    """``/metrics``: the bearer token when one is set, else a local, unproxied client.

    :raises Unauthorized: a token is set and the request lacks it.
    :raises Forbidden: no token is set and the client is remote or proxied.
    """
    if token:
        require_bearer(token, "metrics")
    elif not is_local_unproxied():
        raise Forbidden("Metrics are readable from this host only; set METRICS_TOKEN to scrape.")


def require_operator(token: str) -> None:
    """Operator endpoints: the operator's bearer token.

    :raises Forbidden: no ``OPERATOR_TOKEN`` is configured.
    :raises Unauthorized: the request lacks it.
    """
    if not token:
        raise Forbidden("Set OPERATOR_TOKEN to use the operator's API.")
    require_bearer(token, "operator")
