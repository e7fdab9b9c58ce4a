"""sObject Collections (REST API Developer Guide, "sObject Collections").

- ``POST /vXX.X/composite/sobjects`` ``{"allOrNone": false, "records": [{"attributes":
  {"type": "Account"}, "Name": "..."}]}``: create up to 200 records.
- ``PATCH /vXX.X/composite/sobjects`` with ``"id"`` in each record: update up to 200.
- ``DELETE /vXX.X/composite/sobjects?ids=a,b&allOrNone=false``: delete up to 200.
- ``PATCH /vXX.X/composite/sobjects/Obj/ExtIdField``: upsert up to 200 of one type (API 46.0+).

The answer is 200 with one result per record, in order: ``[{"id": "001...", "success": true,
"errors": []}, {"success": false, "errors": [{"statusCode":
"FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "...", "fields": []}]}]`` (upserts add
``"created"``). More than 200 records is refused whole with 400 ``EXCEEDED_ID_LIMIT``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from standins.salesforce import dml, records, rest_views, web
from standins.salesforce.errors import ApiError, RecordError

bp = Blueprint("sfdc_composite", __name__, url_prefix="/services/data/v<version>/composite")
MAX_RECORDS = 200


@bp.before_request
def _authenticate() -> None:
    web.check_data_call((request.view_args or {}).get("version", ""))


bp.after_request(web.add_limit_header)


def _too_many() -> ApiError:
    return ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                    f"{MAX_RECORDS} records into this call")


def _collection() -> tuple[list[Any], bool]:
    body = web.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "INVALID_FIELD", "The request body must have a records array")
    items = body["records"]
    if len(items) > MAX_RECORDS:
        raise _too_many()
    return items, bool(body.get("allOrNone", False))


def _failing(error: RecordError, creating: bool, record_id: str | None = None) -> dml.Step:
    """A step that fails one record without touching the store."""

    def step(_stamp: str) -> dml.SaveResult:
        return dml.failed(record_id, [error], creating=creating)

    return step


def _type_error(creating: bool, record_id: str | None = None) -> dml.Step:
    error = RecordError("INVALID_TYPE", "Must specify a type in the attributes")
    return _failing(error, creating, record_id)


def _type_of(item: Any) -> str:
    """``attributes.type`` of a record body, or ""."""
    attributes = item.get("attributes") if isinstance(item, dict) else None
    return str(attributes.get("type", "")) if isinstance(attributes, dict) else ""


def _respond(steps: list[dml.Step], all_or_none: bool) -> Response:
    results = dml.run(web.org(), steps, all_or_none)
    return web.json_response([r.as_json() for r in results])


@bp.post("/sobjects")
def create(version: str) -> Response:
    """Create up to 200 records of any types."""
    items, all_or_none = _collection()
    org = web.org()
    steps: list[dml.Step] = []
    for item in items:
        obj = org.schema.get(_type_of(item))
        if obj is None:
            steps.append(_type_error(True))
            continue
        steps.append(dml.insert_step(org, obj, records.parse_body(obj, item)))
    return _respond(steps, all_or_none)


@bp.patch("/sobjects")
def update(version: str) -> Response:
    """Update up to 200 records, each named by ``id``."""
    items, all_or_none = _collection()
    org = web.org()
    steps: list[dml.Step] = []
    for item in items:
        if not isinstance(item, dict):
            steps.append(_type_error(False))
            continue
        item = dict(item)
        record_id = str(item.pop("id", None) or item.pop("Id", None) or "")
        obj = org.schema.get(_type_of(item))
        if obj is None:
            steps.append(_type_error(False, record_id or None))
            continue
        if not record_id:
            error = RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
            steps.append(_failing(error, False))
            continue
        steps.append(dml.update_step(org, record_id, records.parse_body(obj, item), obj))
    return _respond(steps, all_or_none)


@bp.delete("/sobjects")
def delete(version: str) -> Response:
    """Delete up to 200 records named in ``?ids=``."""
    record_ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not record_ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(record_ids) > MAX_RECORDS:
        raise _too_many()
    org = web.org()
    steps = [dml.delete_step(org, record_id) for record_id in record_ids]
    return _respond(steps, web.flag(request.args.get("allOrNone")))


@bp.patch("/sobjects/<name>/<field>")
def upsert(version: str, name: str, field: str) -> Response:
    """Upsert up to 200 records of one type by an external id field."""
    obj = web.sobject(name)
    key = rest_views.external_id_field(obj, field)
    items, all_or_none = _collection()
    org = web.org()
    steps: list[dml.Step] = []
    for item in items:
        if org.schema.get(_type_of(item)) is not obj:
            steps.append(_type_error(True))
            continue
        values = records.parse_body(obj, item)
        key_value = values.pop(key.name, None)
        steps.append(dml.upsert_step(org, obj, key, key_value, values))
    return _respond(steps, all_or_none)
