"""The REST resources a sync engine uses (REST API Developer Guide, "Reference").

Under ``/services/data``: the versions list, the resource directory, ``limits``,
``sobjects`` (describeGlobal), ``sobjects/Obj`` (basic info, create), ``.../describe``,
``.../updated`` and ``.../deleted``, ``sobjects/Obj/<id>`` (retrieve, update, delete),
``sobjects/Obj/<ExtIdField>/<value>`` (retrieve, upsert, delete), ``query`` and ``queryAll``
with their locator pages. Single-record answers: create 201 ``{"id", "success": true,
"errors": []}``; update and delete 204; upsert 201 when it creates and, from API 46.0 on,
200 ``{"id", "success", "errors", "created": false}`` when it updates (204 before 46.0).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from standins.salesforce import describe, dml, ids, queries, records, replication, web
from standins.salesforce.errors import ApiError, not_found
from standins.salesforce.schema import FieldDef, ObjectDef
from standins.salesforce.store import quote

bp = Blueprint("sfdc_rest", __name__, url_prefix="/services/data")
DATA = "/v<version>"


@bp.before_request
def _authenticate() -> None:
    version = (request.view_args or {}).get("version")
    if version is not None:
        web.check_data_call(version)


bp.after_request(web.add_limit_header)


@bp.get("")
def versions() -> Response:
    """``GET /services/data/``: every served API version (no session needed)."""
    return web.json_response(describe.versions())


@bp.get(DATA)
def resources(version: str) -> Response:
    """``GET /vXX.X/``: the resources of a version."""
    base = f"/services/data/v{version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs"]
    return web.json_response({name: f"{base}/{name}" for name in names})


@bp.get(f"{DATA}/limits")
def limits(version: str) -> Response:
    """``GET /vXX.X/limits``."""
    used, limit = web.org().api_usage()
    return web.json_response(describe.limits(limit, used))


@bp.get(f"{DATA}/sobjects")
def describe_global(version: str) -> Response:
    """``GET /vXX.X/sobjects``."""
    return web.json_response(describe.describe_global(web.org().schema, version))


@bp.get(f"{DATA}/sobjects/<name>")
def object_info(version: str, name: str) -> Response:
    """``GET /vXX.X/sobjects/Obj``: basic information."""
    obj = web.sobject(name)
    return web.json_response({"objectDescribe": describe.object_summary(obj, version),
                              "recentItems": []})


@bp.get(f"{DATA}/sobjects/<name>/describe")
def describe_object(version: str, name: str) -> Response:
    """``GET /vXX.X/sobjects/Obj/describe``."""
    return web.json_response(describe.describe_object(web.sobject(name), version))


@bp.get(f"{DATA}/sobjects/<name>/updated")
def get_updated(version: str, name: str) -> Response:
    """getUpdated."""
    obj = web.sobject(name)
    return web.json_response(replication.updated(web.org(), obj, request.args.get("start"),
                                                 request.args.get("end")))


@bp.get(f"{DATA}/sobjects/<name>/deleted")
def get_deleted(version: str, name: str) -> Response:
    """getDeleted."""
    obj = web.sobject(name)
    return web.json_response(replication.deleted(web.org(), obj, request.args.get("start"),
                                                 request.args.get("end")))


def _single(result: dml.SaveResult) -> dml.SaveResult:
    """Raise a failed single-record save as Salesforce answers it."""
    if result.success:
        return result
    first = result.errors[0]
    if first.code == "INVALID_CROSS_REFERENCE_KEY":
        raise not_found()
    if first.code == "ENTITY_IS_DELETED":
        raise ApiError.from_record_errors(404, result.errors)
    raise ApiError.from_record_errors(400, result.errors)


@bp.post(f"{DATA}/sobjects/<name>")
def create(version: str, name: str) -> Response:
    """``POST /vXX.X/sobjects/Obj``."""
    obj = web.sobject(name)
    values = records.parse_body(obj, web.json_body())
    result = _single(dml.run(web.org(), [dml.insert_step(web.org(), obj, values)], False)[0])
    return web.json_response({"id": result.id, "success": True, "errors": []}, 201)


def _record(obj: ObjectDef, record_id: str) -> dict[str, Any]:
    """The stored row of a live record of ``obj``; 404 as Salesforce answers otherwise."""
    with web.org().reading():
        found = dml.find(web.org(), record_id)
    if found is None or found[0] is not obj:
        normal = ids.normalize(record_id)
        if normal is not None and normal.startswith(obj.key_prefix):
            raise not_found()
        raise ApiError(404, "NOT_FOUND", "Provided external ID field does not exist or is not "
                       f"accessible: {record_id}")
    if found[1]["IsDeleted"]:
        raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return found[1]


def _selected(obj: ObjectDef) -> list[FieldDef]:
    wanted = request.args.get("fields")
    if not wanted:
        return list(obj.fields)
    fields = []
    for name in wanted.split(","):
        f = obj.field(name.strip())
        if f is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity "
                           f"'{obj.name}'.")
        fields.append(f)
    return fields


def _record_response(obj: ObjectDef, row: dict[str, Any], version: str) -> Response:
    fields = _selected(obj)
    body = records.record_json(obj, fields, tuple(row[f.name] for f in fields), version,
                               row["Id"])
    return web.json_response(body)


@bp.get(f"{DATA}/sobjects/<name>/<record_id>")
def retrieve(version: str, name: str, record_id: str) -> Response:
    """``GET /vXX.X/sobjects/Obj/<id>[?fields=a,b]``."""
    obj = web.sobject(name)
    return _record_response(obj, _record(obj, record_id), version)


@bp.patch(f"{DATA}/sobjects/<name>/<record_id>")
def update(version: str, name: str, record_id: str) -> Response:
    """``PATCH /vXX.X/sobjects/Obj/<id>``: 204 on success."""
    obj = web.sobject(name)
    values = records.parse_body(obj, web.json_body())
    row = _record(obj, record_id)
    _single(dml.run(web.org(), [dml.update_step(web.org(), row["Id"], values, obj)], False)[0])
    return web.no_content()


@bp.delete(f"{DATA}/sobjects/<name>/<record_id>")
def delete(version: str, name: str, record_id: str) -> Response:
    """``DELETE /vXX.X/sobjects/Obj/<id>``: 204 on success."""
    obj = web.sobject(name)
    row = _record(obj, record_id)
    _single(dml.run(web.org(), [dml.delete_step(web.org(), row["Id"], obj)], False)[0])
    return web.no_content()


def external_id_field(obj: ObjectDef, name: str) -> FieldDef:
    """The external id field named in a URL; 404 as Salesforce answers for any other field."""
    f = obj.field(name)
    if f is None or f not in obj.external_ids:
        raise ApiError(404, "NOT_FOUND", "Provided external ID field does not exist or is not "
                       f"accessible: {name}")
    return f


def _by_external_id(obj: ObjectDef, key: FieldDef, value: str) -> dict[str, Any]:
    """The live record whose external id is ``value`` (the field is unique, so one at most)."""
    lookup = records.coerce(key, value)
    with web.org().reading() as db:
        row = db.execute(
            f'SELECT "Id" FROM {obj.table} WHERE {quote(key.name)} = ? AND "IsDeleted" = 0',
            (lookup,),
        ).fetchone()
    if row is None:
        raise not_found()
    return _record(obj, row[0])


@bp.get(f"{DATA}/sobjects/<name>/<field>/<value>")
def retrieve_by_external_id(version: str, name: str, field: str, value: str) -> Response:
    """``GET /vXX.X/sobjects/Obj/<ExtIdField>/<value>``."""
    obj = web.sobject(name)
    row = _by_external_id(obj, external_id_field(obj, field), value)
    return _record_response(obj, row, version)


@bp.patch(f"{DATA}/sobjects/<name>/<field>/<value>")
def upsert(version: str, name: str, field: str, value: str) -> Response:
    """``PATCH /vXX.X/sobjects/Obj/<ExtIdField>/<value>``: upsert by external id."""
    obj = web.sobject(name)
    key = external_id_field(obj, field)
    values = records.parse_body(obj, web.json_body())
    values.pop(key.name, None)
    step = dml.upsert_step(web.org(), obj, key, records.coerce(key, value), values)
    result = _single(dml.run(web.org(), [step], False)[0])
    body: dict[str, Any] = {"id": result.id, "success": True, "errors": []}
    if float(version) >= 46.0:
        body["created"] = bool(result.created)
        return web.json_response(body, 201 if result.created else 200)
    return web.json_response(body, 201) if result.created else web.no_content()


@bp.delete(f"{DATA}/sobjects/<name>/<field>/<value>")
def delete_by_external_id(version: str, name: str, field: str, value: str) -> Response:
    """``DELETE /vXX.X/sobjects/Obj/<ExtIdField>/<value>``."""
    obj = web.sobject(name)
    row = _by_external_id(obj, external_id_field(obj, field), value)
    _single(dml.run(web.org(), [dml.delete_step(web.org(), row["Id"], obj)], False)[0])
    return web.no_content()


def _query(version: str, include_deleted: bool) -> Response:
    text = request.args.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    batch = queries.batch_size(request.headers.get("Sforce-Query-Options"))
    return web.json_response(queries.run_query(web.org(), text, version,
                                               include_deleted=include_deleted, batch=batch))


@bp.get(f"{DATA}/query")
def query(version: str) -> Response:
    """``GET /vXX.X/query?q=``."""
    return _query(version, include_deleted=False)


@bp.get(f"{DATA}/queryAll")
def query_all(version: str) -> Response:
    """``GET /vXX.X/queryAll?q=``: deleted records included."""
    return _query(version, include_deleted=True)


@bp.get(f"{DATA}/query/<locator>")
def query_more(version: str, locator: str) -> Response:
    """``GET /vXX.X/query/<locator>-<offset>``."""
    return web.json_response(queries.query_more(web.org(), locator, version, "query"))


@bp.get(f"{DATA}/queryAll/<locator>")
def query_all_more(version: str, locator: str) -> Response:
    """``GET /vXX.X/queryAll/<locator>-<offset>``."""
    return web.json_response(queries.query_more(web.org(), locator, version, "queryAll"))

