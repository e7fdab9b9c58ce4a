"""What the OpenAPI document shows that depends on the served adapters: per add-on examples.

One ``POST /heroku/resources`` serves every add-on (the Basic credentials say which), so a
single ``plan`` example would be wrong for all add-ons but one; the request bodies carry one
named example per add-on instead, built from its declared default plan and first region.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apispec import BasePlugin

from marketplace.adapters import AddonSpec

EXAMPLE_UUID = "01234567-89ab-cdef-0123-456789abcdef"
_AWS_REGIONS = {"us": "us-east-1", "eu": "eu-west-1"}


def _request_region(region: str) -> str:
    return f"amazon-web-services::{_AWS_REGIONS.get(region, region)}"


def provision_examples(specs: Iterable[AddonSpec]) -> dict[str, Any]:
    """One example provision request per add-on."""
    return {
        spec.slug: {
            "summary": f"{spec.name}, plan {spec.default_plan.slug}",
            "value": {
                "uuid": EXAMPLE_UUID,
                "plan": spec.default_plan.slug,
                "region": _request_region(spec.regions[0]),
                "name": f"acme-{spec.slug}",
                "callback_url": f"https://api.heroku.com/addons/{EXAMPLE_UUID}",
                "options": {},
            },
        }
        for spec in specs
    }


def plan_change_examples(specs: Iterable[AddonSpec]) -> dict[str, Any]:
    """One example plan change per add-on (to its most expensive plan)."""
    return {
        spec.slug: {
            "summary": f"{spec.name}, to plan {top.slug}",
            "value": {"plan": top.slug},
        }
        for spec in specs
        for top in [max(spec.plans, key=lambda plan: plan.price_cents)]
    }


class AddonExamples(BasePlugin):
    """An apispec plugin adding :func:`provision_examples` and :func:`plan_change_examples`
    to the Partner API's request bodies."""

    def __init__(self, specs: Iterable[AddonSpec]) -> None:
        self.specs = tuple(specs)

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        """Attach the examples when the Partner API's paths are added to the document."""
        targets = {
            ("/heroku/resources", "post"): provision_examples,
            ("/heroku/resources/{uuid}", "put"): plan_change_examples,
        }
        for (target_path, method), build in targets.items():
            operation = (operations or {}).get(method) if path == target_path else None
            if operation and "requestBody" in operation:
                content = operation["requestBody"]["content"]["application/json"]
                content["examples"] = build(self.specs)
