"""Partner API v3 payloads (and kensa's older v1-shaped body)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from marketplace.schemas.errors import ErrorSchema

__all__ = [
    "ErrorSchema",
    "OAuthGrantSchema",
    "PlanChangeRequestSchema",
    "PlanChangeResponseSchema",
    "ProvisionRequestSchema",
    "ProvisionResponseSchema",
]

#: Column sizes of the store (``models/resource.py``), enforced before anything is stored.
NAME_MAX = 255
REGION_MAX = 64
SLUG_MAX = 64
URL_MAX = 2048
TOKEN_MAX = 1024
#: ``options`` (CLI flags after ``--``): how many, and how long one value may be.
OPTIONS_MAX = 64
OPTION_VALUE_MAX = 1024
#: ``callback_url`` and ``log_input_url``: absolute http(s) URLs (the broker posts to the
#: log input; anything else would only fail later, in a background thread, unseen).
HTTP_SCHEMES = frozenset({"http", "https"})


def _platform_url(**metadata: str) -> fields.Url:
    """An optional absolute http(s) URL the platform hands over (at most ``URL_MAX``)."""
    return fields.Url(
        load_default=None,
        allow_none=True,
        schemes=HTTP_SCHEMES,
        require_tld=False,
        validate=validate.Length(max=URL_MAX),
        metadata=metadata,
    )


class _Lenient(Schema):
    """Unknown fields are ignored: the platform may add fields at any time."""

    class Meta:
        unknown = EXCLUDE


class GrantExpiry(fields.String):
    """An ISO 8601 timestamp, loaded as an aware UTC datetime; one that is not a timestamp,
    or that leaves the representable range once converted to UTC, is a validation error."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = datetime.fromisoformat(text)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError) as error:
            raise ValidationError("Not an ISO 8601 timestamp within years 1-9999.") from error


class OptionValue(fields.Field[str]):
    """One ``options`` value: the platform sends strings (``--foo bar``, or ``"true"`` for a
    bare ``--baz``). Numbers and booleans are taken as their JSON text (``true``/``false``);
    an object or array is a validation error rather than Python's text of it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return json.dumps(value)
        if not isinstance(value, str):
            raise ValidationError("An option's value must be a string, a number or a boolean.")
        if len(value) > OPTION_VALUE_MAX:
            raise ValidationError(f"Longer than maximum length {OPTION_VALUE_MAX}.")
        return value


class OAuthGrantSchema(_Lenient):
    """``oauth_grant``: when present it must carry the authorization ``code``."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=TOKEN_MAX))
    expires_at = GrantExpiry(
        load_default=None,
        allow_none=True,
        metadata={"format": "date-time", "example": "2026-03-03T18:01:31-08:00"},
    )
    type = fields.String(load_default="authorization_code", validate=validate.Length(max=64))


class ProvisionRequestSchema(_Lenient):
    """``POST /heroku/resources``."""

    uuid = fields.UUID(required=True, metadata={"description": "The platform's resource id"})
    plan = fields.String(
        required=True,
        validate=validate.Length(min=1, max=SLUG_MAX),
        metadata={
            "description": "A plan of the add-on the credentials belong to "
            "(`GET /api/addon-services/{slug}/plans`); the examples show one per add-on."
        },
    )
    region = fields.String(
        load_default=None,
        validate=validate.Length(max=REGION_MAX),
        metadata={"example": "amazon-web-services::us-east-1"},
    )
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=NAME_MAX))
    callback_url = _platform_url()
    options = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=SLUG_MAX)),
        values=OptionValue(allow_none=True),
        load_default=dict,
        allow_none=True,  # no flags, as a missing or empty object says
        validate=validate.Length(max=OPTIONS_MAX, error="At most {max} options."),
        metadata={"example": {"foo": "bar", "baz": "true"}},
    )
    oauth_grant = fields.Nested(OAuthGrantSchema, load_default=None, allow_none=True)
    log_input_url = _platform_url(
        description="Where the broker posts the add-on's lines for the app's logs"
    )
    log_drain_token = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=TOKEN_MAX)
    )
    heroku_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=NAME_MAX),
        metadata={"deprecated": True},
    )

    @post_load
    def _stringify(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["uuid"] = str(data["uuid"])
        data["options"] = {
            key: value for key, value in (data["options"] or {}).items() if value is not None
        }
        return data


class PlanChangeRequestSchema(_Lenient):
    """``PUT /heroku/resources/<uuid>``."""

    plan = fields.String(
        required=True,
        validate=validate.Length(min=1, max=SLUG_MAX),
        metadata={"description": "The target plan, a plan of the same add-on."},
    )


class ProvisionResponseSchema(Schema):
    id = fields.String(required=True)
    config = fields.Dict(keys=fields.String(), values=fields.String())
    message = fields.String()


class PlanChangeResponseSchema(Schema):
    config = fields.Dict(keys=fields.String(), values=fields.String())
    message = fields.String()
