"""``/api/addon-services``: the catalog in the Platform API's shape."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from marketplace.api import ApiBlueprint
from marketplace.errors import NotFound, quoted
from marketplace.schemas.catalog import AddonServiceSchema, PlanSchema
from marketplace.services.catalog import get_addon, list_addons, public_plans

blp = ApiBlueprint(
    "catalog_api",
    __name__,
    url_prefix="/api/addon-services",
    description="The add-on catalog, shaped like the Platform API's add-on services and plans.",
)


@blp.route("")
class AddonServices(MethodView):
    @blp.response(200, AddonServiceSchema(many=True))
    @blp.errors(400, 500)
    def get(self) -> Any:
        """List add-on services."""
        return list_addons()


@blp.route("/<string:slug>")
class AddonService(MethodView):
    @blp.response(200, AddonServiceSchema)
    @blp.errors(400, 404, 500, e404="Unknown add-on")
    def get(self, slug: str) -> Any:
        """Show one add-on service."""
        return get_addon(slug)


@blp.route("/<string:slug>/plans")
class AddonPlans(MethodView):
    @blp.response(200, PlanSchema(many=True))
    @blp.errors(400, 404, 500, e404="Unknown add-on")
    def get(self, slug: str) -> Any:
        """List an add-on's plans, cheapest first."""
        return public_plans(get_addon(slug))


@blp.route("/<string:slug>/plans/<string:plan>")
class AddonPlan(MethodView):
    @blp.response(200, PlanSchema)
    @blp.errors(400, 404, 500, e404="Unknown add-on or plan")
    def get(self, slug: str, plan: str) -> Any:
        """Show one plan (``essential-0`` or ``postgres:essential-0``)."""
        addon = get_addon(slug)
        found = addon.plan(plan.removeprefix(f"{slug}:"))
        if found is None or found.state != "public":
            raise NotFound(f"No plan {quoted(plan)} for {slug}.")
        return found
