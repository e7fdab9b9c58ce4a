"""The JSON catalog, shaped like the Heroku Platform API's add-on-service and plan objects."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields


class AddonServiceSchema(Schema):
    id = fields.String()
    name = fields.String(attribute="slug", metadata={"example": "postgres"})
    human_name = fields.String(attribute="name")
    summary = fields.String()
    description = fields.String()
    category = fields.String()
    state = fields.String(metadata={"example": "ga"})
    config_vars_prefix = fields.String()
    config_vars = fields.List(fields.String())
    regions = fields.List(fields.String())
    supports_multiple_installations = fields.Constant(True)
    supports_sharing = fields.Constant(False)
    cli_plugin_name = fields.Constant(None)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PriceSchema(Schema):
    cents = fields.Integer()
    unit = fields.String()
    contract = fields.Boolean()


class PlanSchema(Schema):
    id = fields.String()
    name = fields.String(attribute="full_name", metadata={"example": "postgres:essential-0"})
    human_name = fields.String()
    description = fields.String()
    price = fields.Method("_price", metadata={"type": "object"})
    default = fields.Boolean(attribute="is_default")
    state = fields.String()
    #: The Platform API's plan fields this broker has no use for, with the values Heroku
    #: gives a plan offered on the Common Runtime only (no Private Spaces, no compliance).
    visible = fields.Constant(True)
    space_default = fields.Constant(False)
    installable_inside_private_network = fields.Constant(False)
    installable_outside_private_network = fields.Constant(True)
    compliance = fields.Constant(
        None, metadata={"type": "array", "items": {"type": "string"}, "nullable": True}
    )
    limits = fields.Dict(keys=fields.String(), values=fields.Integer())
    provisioning = fields.Method("_provisioning")
    addon_service = fields.Method("_addon_service")

    def _price(self, plan: Any) -> dict[str, Any]:
        return {"cents": plan.price_cents, "unit": "month", "contract": False}

    def _provisioning(self, plan: Any) -> str:
        return "async" if plan.is_async else "sync"

    def _addon_service(self, plan: Any) -> dict[str, str]:
        return {"id": plan.addon.id, "name": plan.addon.slug}
