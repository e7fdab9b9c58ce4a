"""The OData 4.0 service of a resource, at ``/odata/v4/<service id>/``.

``GET /`` service document, ``GET /$metadata`` CSDL XML, ``GET /<set>`` collections (query
options in :mod:`marketplace.odata.protocol`, server-driven paging with ``@odata.nextLink``
past ``ODATA_PAGE_SIZE`` rows), ``GET /<set>/$count``, ``GET /<set>(<key>)``,
``POST /<set>`` (201 with the entity and ``Location``), ``PATCH /<set>(<key>)`` (204) and
``DELETE /<set>(<key>)`` (204). Views answer writes with 405. No ETags are offered: a write
with ``If-Match`` other than ``*``, or ``If-None-Match: *`` on an existing entity, is a 412.

Each request: HTTP Basic (:mod:`.access`), the rate limit, then the resource's adapter as a
:class:`~marketplace.adapters.DataService` with the shared tables from the service row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request

from marketplace.adapters import DataService, ResourceRef
from marketplace.adapters.data import EntitySet, Query
from marketplace.context import lifecycle
from marketplace.errors import BadRequest, Forbidden, MarketplaceError, NotFound
from marketplace.extensions import db
from marketplace.odata import access, csdl, protocol, responses
from marketplace.odata.management import data_ref, unavailable_reason
from marketplace.odata.values import key_literal

MAX_PAGE_SIZE = 10_000
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "MERGE"]
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*([0-9]+)", re.IGNORECASE)

bp = Blueprint("odata", __name__, url_prefix="/odata")


class MethodNotAllowed(MarketplaceError):
    """405 with the ``Allow`` header."""

    status, code = 405, "method_not_allowed"


class PreconditionFailed(MarketplaceError):
    """412: an ``If-Match``/``If-None-Match`` condition does not hold."""

    status, code = 412, "precondition_failed"


_REPRESENTATION = {"Preference-Applied": "return=representation"}


@bp.errorhandler(Exception)
def _any_error(error: Exception) -> Response:
    db.session.rollback()
    return responses.error_from(error)


@bp.route("/v4/<service_id>/", methods=METHODS)
def root(service_id: str) -> Response:
    """The service document."""
    adapter, ref = _open(service_id)
    _only(("GET",))
    _negotiate("application/json")
    return responses.odata_json(csdl.service_document(_root(service_id), _sets(adapter, ref)))


@bp.route("/v4/<service_id>/<path:path>", methods=METHODS)
def resource(service_id: str, path: str) -> Response:
    """``$metadata``, an entity set, its count, or one entity."""
    adapter, ref = _open(service_id)
    sets = _sets(adapter, ref)
    if path == "$metadata":
        _only(("GET",))
        _negotiate(None)  # CSDL XML, whatever is asked
        return responses.odata_xml(csdl.metadata_document(sets))
    if path == "$batch":
        raise BadRequest("$batch is not served; send each request on its own.")
    target = protocol.parse_path(path)
    _negotiate(None if target.count else "application/json")
    entity_set = next((s for s in sets if s.name == target.entity_set), None)
    if entity_set is None:
        raise NotFound(f"This service has no entity set {target.entity_set[:80]!r}.")
    if target.count:
        _only(("GET",))
        query, _ = protocol.parse_query(_args(), entity_set, page_size=0, key=None)
        counted = adapter.query(ref, entity_set, _count_only(query))
        return _versioned_text(str(counted.count or 0))
    if target.key_text is None:
        if request.method == "POST":
            return _insert(adapter, ref, entity_set, service_id)
        _only(("GET", "POST") if entity_set.writable else ("GET",), view=not entity_set.writable)
        return _collection(adapter, ref, entity_set, service_id)
    key = protocol.parse_key(target.key_text, entity_set)
    if request.method in ("GET", "HEAD"):
        return _entity(adapter, ref, entity_set, key, service_id)
    _only(
        ("GET", "PATCH", "DELETE") if entity_set.writable else ("GET",),
        view=not entity_set.writable,
    )
    _check_preconditions(adapter, ref, entity_set, key)
    if request.method == "DELETE":
        write = protocol.parse_write({}, entity_set, "delete", key)
        if adapter.write(ref, entity_set, write) is None:
            raise NotFound(f"{entity_set.name} has no entity with this key.")
        return responses.no_content()
    write = protocol.parse_write(_body(), entity_set, "update", key)
    row = adapter.write(ref, entity_set, write)
    if row is None:
        raise NotFound(f"{entity_set.name} has no entity with this key.")
    if "return=representation" in request.headers.get("Prefer", ""):
        body = {"@odata.context": _context(service_id, entity_set, ()) + "/$entity"}
        return responses.odata_json(body | dict(row), headers=_REPRESENTATION)
    return responses.no_content()


@bp.route("/<path:anything>", methods=METHODS)
def unknown(anything: str) -> Response:
    """Anything else under /odata: OData's 404."""
    raise NotFound("No OData service lives here; the service URL is /odata/v4/<service id>/.")


# --- steps ------------------------------------------------------------------------------------


def _open(service_id: str) -> tuple[DataService, ResourceRef]:
    caller = access.authenticate(service_id, request.headers.get("Authorization"))
    access.count_request(caller.service, int(current_app.config["ODATA_RATE_LIMIT_PER_HOUR"]))
    lc = lifecycle()
    reason = unavailable_reason(caller.resource, lc)
    adapter = lc.registry.get(caller.resource.addon.slug)
    if reason is not None or not isinstance(adapter, DataService):
        raise Forbidden(reason or "This resource does not offer External Objects.")
    ref = data_ref(caller.resource, caller.service, lc)
    db.session.rollback()  # the store is done with: release its connection before the data
    return adapter, ref


def _sets(adapter: DataService, ref: ResourceRef) -> Sequence[EntitySet]:
    return adapter.entity_sets(ref)


def _collection(
    adapter: DataService, ref: ResourceRef, entity_set: EntitySet, service_id: str
) -> Response:
    args = _args()
    page_size, preferred = _page_size()
    query, top = protocol.parse_query(args, entity_set, page_size=page_size, key=None)
    result = adapter.query(ref, entity_set, query)
    rows = list(result.rows)
    body: dict[str, Any] = {"@odata.context": _context(service_id, entity_set, query.select)}
    if result.count is not None:
        body["@odata.count"] = result.count
    body["value"] = rows[:page_size]
    if len(rows) > page_size:
        following = dict(args)
        following["$skip"] = str(query.offset + page_size)
        if top is not None:
            following["$top"] = str(top - page_size)
        following.pop("$count", None)
        body["@odata.nextLink"] = f"{_root(service_id)}{quote(entity_set.name)}?" + urlencode(
            following, quote_via=quote
        )
    applied = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if preferred else None
    return responses.odata_json(body, headers=applied)


def _entity(
    adapter: DataService,
    ref: ResourceRef,
    entity_set: EntitySet,
    key: Mapping[str, Any],
    service_id: str,
) -> Response:
    args = _args()
    protocol.check_options(args)  # $expand and friends are refused here too
    args = {k: v for k, v in args.items() if k in ("$select", "$format")}
    query, _ = protocol.parse_query(args, entity_set, page_size=1, key=key)
    rows = adapter.query(ref, entity_set, query).rows
    if not rows:
        raise NotFound(f"{entity_set.name} has no entity with this key.")
    context = _context(service_id, entity_set, query.select) + "/$entity"
    return responses.odata_json({"@odata.context": context} | dict(rows[0]))


def _insert(
    adapter: DataService, ref: ResourceRef, entity_set: EntitySet, service_id: str
) -> Response:
    if not entity_set.writable:
        _only(("GET",), view=True)
    row = adapter.write(ref, entity_set, protocol.parse_write(_body(), entity_set, "insert"))
    if row is None:
        raise BadRequest("The database did not return the new row.")
    location = _root(service_id) + quote(entity_set.name) + _key_path(entity_set, row)
    headers = {"Location": location, "OData-EntityId": location}
    if "return=minimal" in request.headers.get("Prefer", ""):
        return responses.no_content(headers | {"Preference-Applied": "return=minimal"})
    if "return=representation" in request.headers.get("Prefer", ""):
        headers |= _REPRESENTATION
    body = {"@odata.context": _context(service_id, entity_set, ()) + "/$entity"}
    return responses.odata_json(body | dict(row), 201, headers)


def _check_preconditions(
    adapter: DataService, ref: ResourceRef, entity_set: EntitySet, key: Mapping[str, Any]
) -> None:
    """``If-Match`` and ``If-None-Match`` on a PATCH or DELETE (RFC 7232, section 3; OData
    Protocol 8.2.2/8.2.3). The service offers no ETags, so ``If-Match`` holds only as ``*``
    (any current entity) and ``If-None-Match`` fails as ``*`` when the entity exists:
    otherwise 412 and nothing changes, rather than a condition silently ignored."""
    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() != "*":
        raise PreconditionFailed(
            "If-Match: this service offers no ETags, so only If-Match: * can hold."
        )
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() == "*":
        probe = Query(entity_set=entity_set.name, select=entity_set.key, limit=1, key=key)
        if adapter.query(ref, entity_set, probe).rows:
            raise PreconditionFailed("If-None-Match: * does not hold: the entity exists.")


# --- helpers ----------------------------------------------------------------------------------


def _root(service_id: str) -> str:
    return f"{request.url_root.rstrip('/')}/odata/v4/{service_id}/"


def _context(service_id: str, entity_set: EntitySet, select: Sequence[str]) -> str:
    selected = quote(f"({','.join(select)})", safe="(),") if select else ""
    return f"{_root(service_id)}$metadata#{csdl.url_name(entity_set.name)}{selected}"


def _key_path(entity_set: EntitySet, row: Mapping[str, Any]) -> str:
    """``(<key>)`` of ``row``, each literal typed by its column and percent-encoded."""
    literals = {}
    for name in entity_set.key:
        column = entity_set.column(name)
        assert column is not None  # the key's columns are the entity set's
        literals[name] = quote(key_literal(column, row[name]), safe="")
    if len(literals) == 1:
        return f"({next(iter(literals.values()))})"
    return "(" + ",".join(f"{quote(k, safe='')}={v}" for k, v in literals.items()) + ")"


def _args() -> dict[str, str]:
    """The query options; a system one given twice (``$top=1&$top=3``) is a 400."""
    for name in request.args:
        if name.startswith("$") and len(request.args.getlist(name)) > 1:
            raise BadRequest(f"The query option {name[:40]} is given more than once.")
    return {name: request.args[name] for name in request.args}


def _page_size() -> tuple[int, bool]:
    """Rows per page, and whether it honours the client's ``Prefer: odata.maxpagesize``."""
    size = max(1, min(int(current_app.config["ODATA_PAGE_SIZE"]), MAX_PAGE_SIZE))
    preferred = _MAXPAGESIZE.search(request.headers.get("Prefer", ""))
    if preferred is None:
        return size, False
    return max(1, min(size, int(preferred.group(1)[:9]))), True


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise BadRequest("The body must be a JSON object (Content-Type: application/json).")
    return body


def _only(methods: Sequence[str], *, view: bool = False) -> None:
    if request.method not in (*methods, "HEAD"):
        message = (
            "This entity set is a view: it is read-only."
            if view
            else f"{request.method} is not allowed here."
        )
        raise MethodNotAllowed(message, headers={"Allow": ", ".join(methods)})


def _negotiate(media: str | None) -> None:
    headers = request.headers
    protocol.check_headers(headers.get("OData-MaxVersion"), headers.get("Accept"), media=media)


def _count_only(query: Query) -> Query:
    return replace(query, select=(), limit=0, offset=0, count=True, order_by=())


def _versioned_text(text: str) -> Response:
    response = Response(text, content_type="text/plain")
    response.headers["OData-Version"] = "4.0"
    return response
