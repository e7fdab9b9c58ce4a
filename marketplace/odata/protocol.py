"""Resource paths and system query options of OData 4.0 requests, checked into data.py's
:class:`Query` and :class:`Write` (URL Conventions, sections 4 and 5).

* ``<set>``, ``<set>/$count``, ``<set>(<key>)`` with ``(1)``, ``('a''b')`` or
  ``(k1=1,k2='x')``;
* ``$select``, ``$filter``, ``$orderby``, ``$top``, ``$skip``, ``$count``, ``$search``
  (:mod:`marketplace.odata.search`), ``$format=json`` or ``application/json``
  (``odata.metadata=minimal`` or ``none``, answered with minimal); other ``$`` options
  are a 400 (an unknown one must not be silently ignored), custom ones are ignored.

Every property name is checked against the entity set's columns; every value against its
column's type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odata_query import ast

from marketplace.adapters.data import EntitySet, Query, Write
from marketplace.errors import BadRequest, NotFound
from marketplace.odata.filters import parse_expression, parse_filter
from marketplace.odata.search import parse_search
from marketplace.odata.values import from_json, from_literal

SUPPORTED_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$search"}
IGNORED_OPTIONS = {"$format", "$skiptoken"}
MAX_TOP = 1_000_000_000
_DIGITS = re.compile(r"[0-9]{1,10}")
_PATH = re.compile(r"^(?P<set>[^()/]+)(?:\((?P<key>.*)\))?(?P<count>/\$count)?$", re.DOTALL)
# a property is a Unicode identifier, as $filter's (odata-query's) and the catalog's are
_ORDER_TERM = re.compile(r"^\s*([^\W\d]\w*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ResourcePath:
    """What a URL below the service root names: an entity set, maybe one entity or a count."""

    entity_set: str
    key_text: str | None
    count: bool


def parse_path(path: str) -> ResourcePath:
    """Split ``public$items(5)`` and friends.

    :raises NotFound: not a path this service serves.
    """
    match = _PATH.match(path)
    if match is None:
        raise NotFound(f"This service has no resource at {path[:80]!r}.")
    key_text = match.group("key")
    if key_text is not None and match.group("count"):
        raise NotFound("$count applies to an entity set, not to one entity.")
    return ResourcePath(match.group("set"), key_text, bool(match.group("count")))


def parse_key(text: str, entity_set: EntitySet) -> dict[str, Any]:
    """The key values of ``(<text>)``, typed and checked against the key columns.

    :raises BadRequest: malformed, a wrong property, or a value of the wrong type.
    """
    parts = _key_parts(text)
    named: dict[str, str] = {}
    if len(parts) == 1 and parts[0][0] is None:
        if len(entity_set.key) != 1:
            raise BadRequest(f"Name every key property of {entity_set.name}: {_keys(entity_set)}.")
        named[entity_set.key[0]] = parts[0][1]
    else:
        for name, literal in parts:
            if name is None or name not in entity_set.key or name in named:
                raise BadRequest(f"The key of {entity_set.name} is ({_keys(entity_set)}).")
            named[name] = literal
    if set(named) != set(entity_set.key):
        raise BadRequest(f"The key of {entity_set.name} is ({_keys(entity_set)}).")
    values = {}
    for name, literal in named.items():
        column = entity_set.column(name)
        assert column is not None  # the key's columns are the entity set's
        node = _literal(literal.strip(), f"the key {name}")
        try:
            value = from_literal(column, node)
        except BadRequest as error:
            raise BadRequest(f"The key {name}: {error.message}") from error
        if value is None:
            raise BadRequest(f"The key {name} cannot be null.")
        values[name] = value
    return values


def parse_query(
    args: Mapping[str, str], entity_set: EntitySet, *, page_size: int, key: Mapping[str, Any] | None
) -> tuple[Query, int | None]:
    """The :class:`Query` of a GET and the client's ``$top`` (None when not given).

    The query's ``limit`` is at most ``page_size`` + 1 (one more row than a page tells
    whether a next page exists).

    :raises BadRequest: an unknown or malformed option, property or value.
    """
    check_options(args)
    _check_format(args.get("$format"))
    top = _integer(args, "$top")
    skip = _integer(args, "$skip") or 0
    limit = page_size + 1 if top is None else min(top, page_size + 1)
    query = Query(
        entity_set=entity_set.name,
        select=_select(args.get("$select"), entity_set),
        where=parse_filter(args["$filter"], entity_set) if args.get("$filter") else None,
        order_by=_order_by(args.get("$orderby"), entity_set),
        limit=limit,
        offset=skip,
        count=_boolean(args, "$count"),
        search=parse_search(args["$search"]) if args.get("$search") else None,
        key=key,
    )
    return query, top


def check_options(args: Mapping[str, str]) -> None:
    """Refuse a system query option this service does not serve (``$expand``, ``$apply``
    ...): an unknown one must not be silently ignored.

    :raises BadRequest: naming the option.
    """
    for name in args:
        if name.startswith("$") and name not in SUPPORTED_OPTIONS | IGNORED_OPTIONS:
            raise BadRequest(f"The query option {name[:40]} is not served.")


def check_headers(max_version: str | None, accept: str | None, *, media: str | None) -> None:
    """The request's ``OData-MaxVersion`` and ``Accept`` headers (Protocol 8.2.1, 8.2.7).

    A client whose ``OData-MaxVersion`` is below 4.0 (an OData 2.0/3.0 client) is refused,
    as is an ``Accept`` that allows nothing of ``media`` (the answer's media type, e.g.
    ``application/json``; None when the answer's type is not negotiated). Parameters of a
    JSON range (``odata.metadata=full``) do not make it unacceptable: the answer says what
    it is (minimal metadata).

    :raises BadRequest: an OData version below 4.0.
    :raises NotAcceptable: ``Accept`` excludes ``media``.
    """
    if max_version is not None:
        major = max_version.strip().split(".")[0]
        if not major.isdigit() or int(major[:3]) < 4:
            raise BadRequest(
                f"This service speaks OData 4.0; OData-MaxVersion {max_version[:20]!r} is below it."
            )
    if media is None or accept is None or not accept.strip():
        return
    kind = media.split("/")[0]
    for media_range in accept.split(","):
        name, *parameters = (part.strip().lower() for part in media_range.split(";"))
        quality = next((p[2:] for p in parameters if p.startswith("q=")), "1")
        if name in (media, f"{kind}/*", "*/*") and _positive(quality):
            return
    raise NotAcceptable(f"This answer is {media}, which the request's Accept header excludes.")


class NotAcceptable(BadRequest):
    """406: ``Accept`` allows no media type the answer can have."""

    status, code = 406, "not_acceptable"


def _positive(quality: str) -> bool:
    try:
        return float(quality) > 0
    except ValueError:
        return False


def parse_write(
    body: Any, entity_set: EntitySet, kind: str, key: Mapping[str, Any] | None = None
) -> Write:
    """The :class:`Write` of a POST (``insert``) or PATCH (``update``) body.

    Annotations (``@odata.type`` ...) are ignored; an unknown property, a computed one
    (``Core.Computed`` in ``$metadata``), a wrong type or a key change is a 400.
    """
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object of property values.")
    values: dict[str, Any] = {}
    for name, value in body.items():
        if "@" in name:
            continue
        column = entity_set.column(name)
        if column is None:
            raise BadRequest(f"{entity_set.name} has no property {name[:80]!r}.")
        if column.computed and not (kind == "update" and name in entity_set.key):
            raise BadRequest(f"{name} is computed by the database; leave it out.")
        values[name] = from_json(column, value)
    if key is not None and any(k in values and values[k] != key[k] for k in entity_set.key):
        raise BadRequest("A PATCH cannot change the entity's key.")
    if kind == "update":
        values = {k: v for k, v in values.items() if k not in entity_set.key}
    return Write(entity_set.name, kind, dict(key or {}), values)  # type: ignore[arg-type]


def _select(text: str | None, entity_set: EntitySet) -> tuple[str, ...]:
    if not text or text.strip() == "*":
        return ()
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if entity_set.column(name) is None:
            raise BadRequest(f"$select: {entity_set.name} has no property {name[:80]!r}.")
        if name not in names:
            names.append(name)
    for key in entity_set.key:  # the key always travels, so every entity has its id
        if key not in names:
            names.append(key)
    return tuple(names)


def _order_by(text: str | None, entity_set: EntitySet) -> tuple[tuple[str, bool], ...]:
    if not text:
        return ()
    terms: list[tuple[str, bool]] = []
    for raw in text.split(","):
        match = _ORDER_TERM.match(raw)
        if match is None:
            raise BadRequest(f"$orderby: {raw.strip()[:80]!r} is not 'property [asc|desc]'.")
        name, direction = match.group(1), (match.group(2) or "asc").lower()
        if entity_set.column(name) is None:
            raise BadRequest(f"$orderby: {entity_set.name} has no property {name[:80]!r}.")
        terms.append((name, direction == "desc"))
    return tuple(terms)


def _integer(args: Mapping[str, str], name: str) -> int | None:
    text = args.get(name)
    if text is None:
        return None
    digits = text.strip()
    # ASCII digits only: str.isdigit() also takes "²" (int() refuses it) and "٣"
    if _DIGITS.fullmatch(digits) is None or int(digits) > MAX_TOP:
        raise BadRequest(f"{name} must be a non-negative integer, not {text[:40]!r}.")
    return int(digits)


def _check_format(text: str | None) -> None:
    """``$format``: ``json`` or ``application/json``, with optional parameters (URL
    Conventions 5.1.5). ``odata.metadata=minimal`` and ``none`` are answered with minimal
    metadata; ``full`` and ``IEEE754Compatible=true`` are not served."""
    if text is None:
        return
    media, *parameters = text.split(";")
    if media.strip().lower() not in ("json", "application/json"):
        raise BadRequest("Only $format=json (or application/json) is served.")
    for parameter in parameters:
        name, _, value = (p.strip().lower() for p in parameter.partition("="))
        if name == "odata.metadata" and value not in ("minimal", "none"):
            raise BadRequest("$format: only odata.metadata=minimal is served (none gets minimal).")
        if name == "ieee754compatible" and value != "false":
            raise BadRequest("$format: IEEE754Compatible=true is not served.")


def _boolean(args: Mapping[str, str], name: str) -> bool:
    text = args.get(name, "false").strip().lower()
    if text not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false.")
    return text == "true"


def _literal(text: str, what: str) -> ast._Node:
    try:
        node = parse_expression(text)
    except BadRequest as error:
        raise BadRequest(f"{what}: {text[:60]!r} is not an OData literal.") from error
    if not isinstance(node, ast._Literal):
        raise BadRequest(f"{what}: {text[:60]!r} is not an OData literal.")
    return node


def _key_parts(text: str) -> list[tuple[str | None, str]]:
    """``(<text>)`` split into (name or None, literal) pairs: at the commas, and at the first
    ``=`` of each part, outside quoted strings (``'x=y'`` and ``'a,b'`` are one literal; a
    ``''`` inside a string toggles the quoting twice)."""
    parts: list[tuple[str | None, str]] = []
    name: str | None = None
    start = 0
    quoted = False
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "=" and name is None:
            name, start = text[start:index].strip(), index + 1
        elif char == ",":
            parts.append((name, text[start:index]))
            name, start = None, index + 1
    parts.append((name, text[start:]))
    return parts


def _keys(entity_set: EntitySet) -> str:
    return ",".join(entity_set.key)
