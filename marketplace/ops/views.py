"""``/healthz`` (the process answers), ``/readyz`` (store and backends answer) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from marketplace.context import broker
from marketplace.metrics.exposition import health_cache, render
from marketplace.ops.auth import require_metrics_reader
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
    health_cache(current_app).record(checks)
    response = jsonify(
        {
            "status": status,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
    )
    response.status_code = 200 if serving else 503
    return response


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus' text format; see :mod:`marketplace.ops.auth` for who may read it."""
    require_metrics_reader(str(current_app.config["METRICS_TOKEN"] or ""))
    body, content_type = render(current_app._get_current_object())  # type: ignore[attr-defined]
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
