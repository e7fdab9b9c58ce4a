"""openbrokerapi's broker serving the same catalog as ours, for ``bench/catalog.py``.

``gunicorn bench.openbroker_app:app`` with ``BENCH_CATALOG_JSON`` naming a JSON file that
holds our add-on services, each with its ``plans`` (written by ``bench/catalog.py`` from our
own JSON catalog), so both brokers describe the same three add-ons and their plans.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from flask import Flask
from openbrokerapi.api import get_blueprint
from openbrokerapi.catalog import ServicePlan, ServicePlanCost, ServicePlanMetadata
from openbrokerapi.service_broker import Service, ServiceBroker


def _service(addon: dict[str, Any]) -> Service:
    plans = [
        ServicePlan(
            id=plan["id"],
            name=plan["name"].split(":", 1)[1],
            description=plan["description"],
            free=plan["price"]["cents"] == 0,
            metadata=ServicePlanMetadata(
                displayName=plan["human_name"],
                bullets=[f"{key}: {value}" for key, value in plan["limits"].items()],
                costs=[ServicePlanCost({"usd": plan["price"]["cents"] / 100}, "MONTHLY")],
            ),
        )
        for plan in addon["plans"]
    ]
    return Service(
        id=addon["id"],
        name=addon["name"],
        description=addon["summary"],
        bindable=True,
        plans=plans,
        tags=[addon["category"]],
        requires=[],
        plan_updateable=True,
    )


class CatalogOnlyBroker(ServiceBroker):
    """A broker whose catalog is ours; nothing else is called by the benchmark."""

    def __init__(self, services: list[Service]) -> None:
        self._services = services

    def catalog(self) -> list[Service]:  # type: ignore[override]
        """The services, as openbrokerapi's own brokers return them."""
        return self._services


def build_app(path: str) -> Flask:
    """openbrokerapi's blueprint on a Flask app, without broker credentials (like ours)."""
    with open(path) as handle:
        services = [_service(addon) for addon in json.load(handle)]
    flask_app = Flask("openbroker_bench")
    logger = logging.getLogger("openbroker_bench")
    logger.setLevel(logging.ERROR)
    flask_app.register_blueprint(get_blueprint(CatalogOnlyBroker(services), None, logger))
    return flask_app


app = build_app(os.environ["BENCH_CATALOG_JSON"]) if "BENCH_CATALOG_JSON" in os.environ else None
