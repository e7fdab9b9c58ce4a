"""Salesforce's error shapes, as exceptions that the web layer renders in one place.

REST API Developer Guide, "Status Codes and Error Responses": an error body is a JSON list::

    [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    [{"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING",
      "fields": ["Name"]}]

Inside sObject Collections results the same error is ``{"statusCode", "message", "fields"}``.
The OAuth endpoints answer ``{"error": "invalid_grant", "error_description": "..."}`` instead
(Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordError:
    """One error about one record: ``errorCode``/``statusCode``, ``message`` and ``fields``."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_rest(self) -> dict[str, Any]:
        """The body item of a failed single-record call."""
        return {"message": self.message, "errorCode": self.code, "fields": self.fields}

    def as_collection(self) -> dict[str, Any]:
        """The ``errors`` item of an sObject Collections or SaveResult entry."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


class ApiError(Exception):
    """A failed REST call: an HTTP status and the Salesforce error list to send."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.errors = [RecordError(code, message, fields or [])]

    @classmethod
    def from_record_errors(cls, status: int, errors: list[RecordError]) -> ApiError:
        """An API error carrying several record errors (a single-record save that failed)."""
        error = cls(status, errors[0].code, errors[0].message, errors[0].fields)
        error.errors = list(errors)
        return error

    def body(self) -> list[dict[str, Any]]:
        """The JSON list Salesforce answers with; ``fields`` only where Salesforce sends it."""
        items = []
        for error in self.errors:
            item: dict[str, Any] = {"message": error.message, "errorCode": error.code}
            if error.fields:
                item["fields"] = error.fields
            items.append(item)
        return items


class OAuthError(Exception):
    """A failed call to ``/services/oauth2/token`` or ``/revoke`` (400 unless told)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """``{"error": ..., "error_description": ...}``."""
        return {"error": self.error, "error_description": self.description}


def not_found() -> ApiError:
    """404 ``NOT_FOUND`` with Salesforce's usual wording."""
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    """401 ``INVALID_SESSION_ID``: missing, unknown, revoked or expired access token."""
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> ApiError:
    """403 ``REQUEST_LIMIT_EXCEEDED``: the org's DailyApiRequests are used up."""
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def json_parser_error(detail: str) -> ApiError:
    """400 ``JSON_PARSER_ERROR``: a body that does not parse, or a value of the wrong type."""
    return ApiError(400, "JSON_PARSER_ERROR", detail)
