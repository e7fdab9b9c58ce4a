"""Values in and out of OData: literals in URLs, JSON in bodies and answers, per column type.

Literals follow OData 4.0 ABNF (URL Conventions, section 5.1.1.6, parsed by odata-query's
lexer); JSON values follow the OData 4.0 JSON Format (section 7: Edm.Int64 and Edm.Decimal as
numbers, Edm.Date ``YYYY-MM-DD``, Edm.DateTimeOffset ISO 8601 with ``Z``, Edm.Guid a string).
Every conversion checks the value against the column's portable type; a mismatch is a
:class:`~marketplace.errors.BadRequest` naming the column and the type.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from odata_query import ast

from marketplace.adapters.data import Column
from marketplace.errors import BadRequest

#: Portable column type (data.py) -> Edm type in $metadata (CSDL 4.0, section 4.4).
EDM_TYPES = {
    "int16": "Edm.Int16",
    "int32": "Edm.Int32",
    "int64": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "double": "Edm.Double",
    "boolean": "Edm.Boolean",
    "string": "Edm.String",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
    "datetimeoffset": "Edm.DateTimeOffset",
    "time": "Edm.TimeOfDay",
    "uuid": "Edm.Guid",
    "json": "Edm.String",
    "binary": "Edm.Binary",
}
_INT_BOUNDS = {"int16": 2**15, "int32": 2**31, "int64": 2**63}
_NUMERIC_LITERALS = (ast.Integer, ast.Float)
#: Edm.Double's special values in JSON (OData JSON Format 4.0, section 7.1).
SPECIAL_DOUBLES = {"NaN": math.nan, "INF": math.inf, "-INF": -math.inf}


def from_literal(column: Column, node: ast._Node) -> Any:
    """The Python value of a literal compared with ``column`` (None for ``null``).

    :raises BadRequest: not a literal, or one the column's type cannot take.
    """
    if isinstance(node, ast.Null):
        return None
    kind = column.type
    try:
        if kind in _INT_BOUNDS and isinstance(node, ast.Integer):
            return _bounded(column, int(node.val))
        if kind == "decimal" and isinstance(node, _NUMERIC_LITERALS):
            return Decimal(node.val)
        if kind == "double" and isinstance(node, _NUMERIC_LITERALS):
            return float(node.val)
        if kind == "boolean" and isinstance(node, ast.Boolean):
            return node.py_val
        if kind in ("string", "json") and isinstance(node, ast.String):
            return node.val
        if kind == "date" and isinstance(node, ast.Date):
            return dt.date.fromisoformat(node.val)
        if kind in ("datetime", "datetimeoffset") and isinstance(node, ast.DateTime):
            return _utc(column, dt.datetime.fromisoformat(node.val.replace("Z", "+00:00")))
        if kind in ("datetime", "datetimeoffset") and isinstance(node, ast.Date):
            return dt.datetime.combine(dt.date.fromisoformat(node.val), dt.time(), dt.UTC)
        if kind == "time" and isinstance(node, ast.Time):
            return dt.time.fromisoformat(node.val)
        if kind == "uuid" and isinstance(node, ast.GUID):
            return uuid.UUID(node.val)
    except (ValueError, InvalidOperation) as error:
        raise BadRequest(f"{_shown(node)} is not a valid value for {column.name}.") from error
    raise BadRequest(
        f"{column.name} is {EDM_TYPES.get(kind, kind)}; {_shown(node)} does not fit it."
    )


def from_json(column: Column, value: Any) -> Any:
    """The Python value of a JSON property sent for ``column`` in a request body.

    :raises BadRequest: a value the column's type cannot take.
    """
    if value is None:
        if not column.nullable:
            raise BadRequest(f"{column.name} cannot be null.")
        return None
    kind = column.type
    try:
        if kind in _INT_BOUNDS and type(value) is int:
            return _bounded(column, value)
        if kind in _INT_BOUNDS and isinstance(value, str) and value.lstrip("-").isdigit():
            return _bounded(column, int(value))  # IEEE754Compatible=true sends strings
        if kind == "decimal" and type(value) in (int, float, str):
            return _finite_decimal(column, Decimal(str(value)))
        if kind == "double" and type(value) in (int, float):
            return _finite_double(column, value)
        if kind == "double" and isinstance(value, str) and value in SPECIAL_DOUBLES:
            return SPECIAL_DOUBLES[value]
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind in ("string", "json") and isinstance(value, str):
            return value
        if kind == "date" and isinstance(value, str):
            return dt.date.fromisoformat(value)
        if kind in ("datetime", "datetimeoffset") and isinstance(value, str) and "T" in value:
            return _utc(column, dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        if kind == "time" and isinstance(value, str):
            return dt.time.fromisoformat(value)
        if kind == "uuid" and isinstance(value, str):
            return uuid.UUID(value)
    except (ValueError, InvalidOperation) as error:
        raise BadRequest(f"{_clip(value)!r} is not a valid value for {column.name}.") from error
    raise BadRequest(f"{column.name} is {EDM_TYPES.get(kind, kind)}; {_clip(value)!r} is not.")


def to_json(value: Any) -> Any:
    """``json.dumps``' ``default``: the OData JSON form of what the adapter returned."""
    if isinstance(value, Decimal):
        return float(value)  # a JSON number; beyond 15 significant digits it is rounded
    if isinstance(value, dt.datetime):
        text = _aware(value).astimezone(dt.UTC).isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be served")


def special_number(value: float | Decimal) -> str:
    """A non-finite number as OData's JSON string: ``"NaN"``, ``"INF"`` or ``"-INF"``."""
    if value != value or (isinstance(value, Decimal) and value.is_nan()):
        return "NaN"
    return "INF" if value > 0 else "-INF"


def key_literal(column: Column, value: Any) -> str:
    """``value`` of the key column ``column``, as its JSON answer holds it, as an OData URL
    literal typed by the column (URL Conventions 4.3.1, ABNF ``keyPredicate``): strings
    quoted with ``''`` escapes; numbers, booleans, GUIDs, dates, times and timestamps bare.
    Not yet percent-encoded."""
    if column.type in ("string", "json"):
        return "'" + str(value).replace("'", "''") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else special_number(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else special_number(value)
    return str(value if isinstance(value, str | int) else to_json(value))


def _bounded(column: Column, value: int) -> int:
    bound = _INT_BOUNDS[column.type]
    if not -bound <= value < bound:
        raise BadRequest(f"{value} is out of range for {column.name} ({EDM_TYPES[column.type]}).")
    return value


def _finite_double(column: Column, value: float) -> float:
    """A JSON number for an Edm.Double; one that overflows (``1e400``) or a bare ``NaN``
    token is refused (the special values travel as the strings ``"NaN"``, ``"INF"``)."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise BadRequest(
            f"{_clip(str(value))} is beyond Edm.Double for {column.name};"
            ' send "INF", "-INF" or "NaN" as strings.'
        )
    return number


def _finite_decimal(column: Column, value: Decimal) -> Decimal:
    if not value.is_finite():
        raise BadRequest(f"{column.name} is Edm.Decimal, which has no NaN or infinity.")
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _utc(column: Column, value: dt.datetime) -> dt.datetime:
    """``value`` moved to UTC (no offset means UTC).

    :raises BadRequest: it leaves the years 1 to 9999 in UTC (``9999-12-31T23:59:59-01:00``):
        Postgres would store year 10000 or 1 BC, which no OData literal then addresses.
    """
    try:
        return _aware(value).astimezone(dt.UTC)
    except OverflowError as error:
        raise BadRequest(
            f"{column.name} is out of range: in UTC it must fall in the years 1 to 9999."
        ) from error


def _shown(node: ast._Node) -> str:
    if isinstance(node, ast.Identifier):
        return f"the property {node.name}"
    val = getattr(node, "val", None)
    return f"{type(node).__name__.lower()} {_clip(val)!r}" if val is not None else "this operand"


def _clip(value: Any) -> Any:
    return value[:60] if isinstance(value, str) else value
