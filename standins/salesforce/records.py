"""Turning request JSON into column values, checking them, and rows back into JSON.

Request bodies are sObject JSON (REST API Developer Guide, "Create a Record"): field names to
values, optionally with ``"attributes": {"type": "Account"}``. Problems that Salesforce finds
while deserialising (an unknown field, a value of the wrong JSON type) fail the whole request;
the rest become per-record errors with Salesforce's status codes (``REQUIRED_FIELD_MISSING``,
``STRING_TOO_LONG``, ``INVALID_EMAIL_ADDRESS``, ``NUMBER_OUTSIDE_VALID_RANGE``,
``INVALID_FIELD_FOR_INSERT_UPDATE``).

A record in a response is ``{"attributes": {"type": "Account", "url":
"/services/data/v59.0/sobjects/Account/001..."}, "Id": "001...", "Name": "...", ...}``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from standins.salesforce import ids, sftime
from standins.salesforce.errors import ApiError, RecordError, json_parser_error
from standins.salesforce.schema import FieldDef, ObjectDef

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _wrong_type(f: FieldDef, value: Any) -> ApiError:
    kind = {"int": "int", "boolean": "boolean", "date": "date", "datetime": "datetime"}.get(
        f.type, "double" if f.type in ("double", "currency", "percent") else "String"
    )
    token = "VALUE_STRING" if isinstance(value, str) else type(value).__name__.upper()
    return json_parser_error(
        f"Cannot deserialize instance of {kind} from {token} value {value} "
        "or request may be missing a required field"
    )


def _number(f: FieldDef, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _wrong_type(f, value)
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise _wrong_type(f, value) from None
    raise _wrong_type(f, value)


def coerce(f: FieldDef, value: Any) -> Any:
    """The stored form of a JSON value for field ``f``; raise JSON_PARSER_ERROR if impossible."""
    if value is None:
        return 0 if f.type == "boolean" else None
    if f.is_text:
        if isinstance(value, dict | list):
            raise _wrong_type(f, value)
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value)
        if f.type in ("id", "reference") and text == "":
            return None
        return text if text != "" else None
    if f.type == "boolean":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return int(value.lower() == "true")
        raise _wrong_type(f, value)
    if f.type == "int":
        number = _number(f, value)
        if number != number.to_integral_value():
            raise _wrong_type(f, value)
        return int(number)
    if f.type in ("double", "currency", "percent"):
        return float(_number(f, value).quantize(Decimal(1).scaleb(-f.scale), ROUND_HALF_UP))
    if not isinstance(value, str):
        raise _wrong_type(f, value)
    try:
        if f.type == "date":
            return sftime.parse_date(value[:10]).isoformat()
        return sftime.format_datetime(sftime.parse_datetime(value))
    except ValueError:
        raise _wrong_type(f, value) from None


def parse_body(obj: ObjectDef, body: Any) -> dict[str, Any]:
    """Map a record body to ``{canonical field name: stored value}`` (``attributes`` dropped).

    :raises ApiError: 400 INVALID_FIELD for an unknown field, JSON_PARSER_ERROR for a bad value.
    """
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize instance of sObject from a non-object value")
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name == "attributes":
            continue
        f = obj.field(name)
        if f is None:
            raise ApiError(400, "INVALID_FIELD",
                           f"No such column '{name}' on sobject of type {obj.name}")
        values[f.name] = coerce(f, value)
    return values


def check_writable(obj: ObjectDef, values: dict[str, Any], creating: bool) -> list[RecordError]:
    """``INVALID_FIELD_FOR_INSERT_UPDATE`` for fields this operation may not set."""
    locked = []
    for name in values:
        f = obj.field(name)
        if f is not None and not (f.createable if creating else f.updateable):
            locked.append(f.name)
    if not locked:
        return []
    return [RecordError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
        "settings of this field and verify that it is read/write for your profile or "
        "permission set.",
        locked,
    )]


def check_values(obj: ObjectDef, values: dict[str, Any]) -> list[RecordError]:
    """Per-field checks on a record's new values (required, length, e-mail, numeric range)."""
    errors: list[RecordError] = []
    missing = [f.name for f in obj.fields
               if not f.nillable and not f.system and values.get(f.name) is None
               and f.name in values]
    if missing:
        errors.append(RecordError(
            "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        ))
    for name, value in values.items():
        f = obj.field(name)
        if f is None or value is None:
            continue
        errors.extend(_check_one(f, value))
    return errors


def _check_one(f: FieldDef, value: Any) -> list[RecordError]:
    if f.is_text and f.length and len(value) > f.length:
        return [RecordError("STRING_TOO_LONG", f"{f.label}: data value too large: {value} "
                            f"(max length={f.length})", [f.name])]
    if f.type == "email" and not _EMAIL.match(value):
        return [RecordError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: "
                            f"{value}", [f.name])]
    if f.type in ("double", "currency", "percent", "int"):
        whole_digits = (f.digits or 9) if f.type == "int" else f.precision - f.scale
        if whole_digits and abs(value) >= 10**whole_digits:
            return [RecordError("NUMBER_OUTSIDE_VALID_RANGE", f"{f.label}: value outside of "
                                f"valid range on numeric field: {value}", [f.name])]
    if f.type == "reference" and ids.normalize(value) is None:
        return [RecordError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}",
                            [f.name])]
    return []


def to_json(f: FieldDef, value: Any) -> Any:
    """A stored value as the REST API writes it."""
    if value is None:
        return None
    if f.type == "boolean":
        return bool(value)
    if f.type == "int":
        return int(value)
    if f.type in ("double", "currency", "percent"):
        return float(value)
    return value


def record_url(obj: ObjectDef, version: str, record_id: str) -> str:
    """``/services/data/vXX.X/sobjects/Obj/<id>``."""
    return f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"


def record_json(
    obj: ObjectDef, fields: list[FieldDef], row: tuple[Any, ...], version: str, record_id: str
) -> dict[str, Any]:
    """A record as query and retrieve return it: ``attributes`` first, then the fields."""
    record: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(obj, version, record_id)}
    }
    for f, value in zip(fields, row, strict=True):
        record[f.name] = to_json(f, value)
    return record
