"""``/healthz`` (the process answers) and ``/readyz`` (store and backends answer)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from marketplace.context import broker
from marketplace.services.health import readiness

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: no dependency is checked."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness, with every dependency's status in the body.

    503 when the store is down or no backend answers (nothing can be served); 200 with status
    ``degraded`` when some backends are down: one backend's trouble is that add-on's (its
    calls answer 503), not a reason to take the whole broker out of rotation.
    """
    checks = readiness(broker().registry)
    store = next(c for c in checks if c.name == "store")
    backends = [c for c in checks if c.name != "store"]
    serving = store.ok and (not backends or any(c.ok for c in backends))
    status = "ready" if all(c.ok for c in checks) else "degraded" if serving else "unavailable"
    response = jsonify(
        {
            "status": status,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
    )
    response.status_code = 200 if serving else 503
    return response
