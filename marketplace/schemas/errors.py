"""The one error body every part of the broker sends (see :mod:`marketplace.errors`)."""

from __future__ import annotations

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    """``{"id": "<code>", "message": "<human text>"[, "errors": {...}]}``."""

    id = fields.String(
        required=True,
        metadata={
            "description": "A stable machine code: bad_request, unauthorized, forbidden, "
            "not_found, method_not_allowed, conflict, gone, payload_too_large, "
            "unsupported_media_type, unprocessable_entity, service_unavailable, "
            "internal_error, …",
            "example": "unprocessable_entity",
        },
    )
    message = fields.String(
        required=True,
        metadata={
            "description": "Human text, safe to show; quotes at most a short escaped prefix "
            "of a value the client sent.",
            "example": "The request body is invalid: plan: Missing data for required field.",
        },
    )
    errors = fields.Dict(
        metadata={
            "description": "Validation failures by location and field (422 only).",
            "example": {"json": {"plan": ["Missing data for required field."]}},
        }
    )
