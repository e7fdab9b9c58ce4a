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
    """Readiness: 200 when the store and every backend answer, else 503 with details."""
    checks = readiness(broker().registry)
    ready = all(check.ok for check in checks)
    response = jsonify(
        {
            "status": "ready" if ready else "unavailable",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
    )
    response.status_code = 200 if ready else 503
    return response
