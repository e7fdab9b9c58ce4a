"""Partner API v3 payloads (and kensa's older v1-shaped body)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load


class _Lenient(Schema):
    """Unknown fields are ignored: the platform may add fields at any time."""

    class Meta:
        unknown = EXCLUDE


class OAuthGrantSchema(_Lenient):
    code = fields.String(required=True)
    expires_at = fields.String(load_default=None)
    type = fields.String(load_default="authorization_code")


class ProvisionRequestSchema(_Lenient):
    """``POST /heroku/resources``."""

    uuid = fields.UUID(required=True, metadata={"description": "The platform's resource id"})
    plan = fields.String(required=True, metadata={"example": "essential-0"})
    region = fields.String(
        load_default=None, metadata={"example": "amazon-web-services::us-east-1"}
    )
    name = fields.String(load_default=None, allow_none=True)
    callback_url = fields.String(load_default=None, allow_none=True)
    options = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict
    )
    oauth_grant = fields.Nested(OAuthGrantSchema, load_default=None, allow_none=True)
    log_input_url = fields.String(load_default=None, allow_none=True)
    log_drain_token = fields.String(load_default=None, allow_none=True)
    heroku_id = fields.String(load_default=None, allow_none=True, metadata={"deprecated": True})

    @post_load
    def _stringify(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["uuid"] = str(data["uuid"])
        data["options"] = {
            key: "true" if value is True else str(value)
            for key, value in data["options"].items()
            if value is not None
        }
        return data


class PlanChangeRequestSchema(_Lenient):
    """``PUT /heroku/resources/<uuid>``."""

    plan = fields.String(required=True, metadata={"example": "essential-1"})


class ProvisionResponseSchema(Schema):
    id = fields.String(required=True)
    config = fields.Dict(keys=fields.String(), values=fields.String())
    message = fields.String()


class PlanChangeResponseSchema(Schema):
    config = fields.Dict(keys=fields.String(), values=fields.String())
    message = fields.String()


class ErrorSchema(Schema):
    id = fields.String(required=True, metadata={"example": "unprocessable_entity"})
    message = fields.String(required=True)
    errors = fields.Dict()
