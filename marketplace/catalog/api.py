"""``/api/addon-services``: the catalog in the Platform API's shape.

As there, an add-on service is named by its slug or its id, and a plan by ``<slug>:<plan>``,
``<plan>`` or its id.

Every answer is a cached document (:mod:`marketplace.catalog.cache`): rendered once per
catalog version, served with a strong ``ETag`` and ``Cache-Control: public, max-age=60``,
``If-None-Match`` answered with 304.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from marketplace.api import ApiBlueprint
from marketplace.catalog.cache import Document, json_document, serve
from marketplace.errors import NotFound, quoted
from marketplace.schemas.catalog import AddonServiceSchema, PlanSchema
from marketplace.services.catalog import (
    find_public_plan,
    get_addon_service,
    list_addons,
    public_plans,
)

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
    def get(self) -> Response:
        """List add-on services."""
        return serve(lambda: json_document(AddonServiceSchema(many=True).dump(list_addons())))


@blp.route("/<string:slug>")
class AddonService(MethodView):
    @blp.response(200, AddonServiceSchema)
    @blp.errors(400, 404, 500, e404="Unknown add-on")
    def get(self, slug: str) -> Response:
        """Show one add-on service (by slug or id)."""
        return serve(lambda: json_document(AddonServiceSchema().dump(get_addon_service(slug))))


@blp.route("/<string:slug>/plans")
class AddonPlans(MethodView):
    @blp.response(200, PlanSchema(many=True))
    @blp.errors(400, 404, 500, e404="Unknown add-on")
    def get(self, slug: str) -> Response:
        """List an add-on's plans, cheapest first."""
        return serve(
            lambda: json_document(PlanSchema(many=True).dump(public_plans(get_addon_service(slug))))
        )


@blp.route("/<string:slug>/plans/<string:plan>")
class AddonPlan(MethodView):
    @blp.response(200, PlanSchema)
    @blp.errors(400, 404, 500, e404="Unknown add-on or plan")
    def get(self, slug: str, plan: str) -> Response:
        """Show one plan (``essential-0``, ``postgres:essential-0`` or the plan's id)."""
        return serve(lambda: _plan_document(slug, plan))


def _plan_document(slug: str, plan: str) -> Document:
    addon = get_addon_service(slug)
    found = find_public_plan(addon, plan)
    if found is None:
        raise NotFound(f"No plan {quoted(plan)} for {addon.slug}.")
    return json_document(PlanSchema().dump(found))
