"""Mappings: their configuration, checks against Salesforce's describe, and Heroku Connect's
mapping document (export/import).

A mapping lives in the adapter's state under ``state["mappings"][<Object API name>]``::

    {"object_name": "Contact",
     "config": {"access": "read_only"|"read_write", "sf_polling_seconds": 600,
                "sf_notify_enabled": false, "sf_max_daily_api_calls": 30000,
                "upsert_field": "External_Id__c"|null,
                "fields": {"Id": {}, "IsDeleted": {}, "SystemModstamp": {}, "CreatedDate": {},
                           "LastName": {}},
                "indexes": {"Id": {"unique": true}, "SystemModstamp": {"unique": false}},
                "applied_at": "2024-01-01T00:00:00Z", "revision": 1},
     "field_types": {"LastName": {"type": "string", "length": 80}, ...},
     "state": "INITIAL", "cursor": null, "next_url": null, "error": null,
     "times": {"sf_poll": null, "sf_write": null, "db_poll": null, "db_write": null},
     "counts": {"sf": null}}

The export document is Heroku Connect's v1 format (reference/connect.md, section 1.6):
``{"version": 1, "connection": {...}, "mappings": [{"object_name", "config"}]}``; import
ignores unknown keys and tolerates missing optional ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from addons.connect import states
from addons.connect.schema import SYSTEM_FIELDS
from marketplace.adapters.json_input import UntrustedInput, loads_bounded

ACCESS = ("read_only", "read_write")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
DEFAULT_POLL_SECONDS = 600
MAX_POLL_SECONDS = 3600
MAX_FIELDS = 500
DEFAULT_DAILY_API_CALLS = 30_000
MAX_DAILY_API_CALLS = 1_000_000_000


class MappingError(ValueError):
    """A mapping configuration that cannot be applied; the message says why."""


def now_iso() -> str:
    """The current UTC time as ``2024-01-01T00:00:00Z``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def mapping_id(resource_id: str, object_name: str) -> str:
    """A mapping's id in the API: ``<connection uuid>.<Object>``."""
    return f"{resource_id}.{object_name}"


def split_mapping_id(value: str) -> tuple[str, str]:
    """``(connection uuid, object name)`` of a mapping id.

    :raises MappingError: not of that form.
    """
    resource_id, _, object_name = value.partition(".")
    if len(resource_id) != 36 or not NAME.match(object_name):
        raise MappingError("Unknown mapping id.")
    return resource_id, object_name


def normalise_config(
    object_name: str,
    config: Mapping[str, Any],
    describe: Mapping[str, Any],
    *,
    poll_floor: int,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Check a mapping's ``config`` against the object's describe; return the stored config
    and the mapped fields' types.

    Unknown keys are ignored. ``sf_polling_seconds`` below ``poll_floor`` (the plan's) is
    raised to it.

    :raises MappingError: unknown object or field, bad access, an upsert field that is not a
        unique external id, or a read-write mapping missing a field required to create.
    """
    if not NAME.match(object_name) or describe.get("name") != object_name:
        raise MappingError(f"Salesforce has no object called {object_name[:80]!r}.")
    access = config.get("access", "read_only")
    if access not in ACCESS:
        raise MappingError("access must be read_only or read_write.")
    described = {str(f["name"]): f for f in describe.get("fields", [])}
    fields_in = config.get("fields") or {}
    if not isinstance(fields_in, Mapping | list) or len(fields_in) > MAX_FIELDS:
        raise MappingError("fields must be an object of field names (at most 500).")
    names = list(dict.fromkeys([*SYSTEM_FIELDS, *(str(n) for n in fields_in)]))
    missing = [n for n in names if n not in described]
    if missing:
        raise MappingError(f"{object_name} has no field {', '.join(missing[:5])}.")
    upsert_field = config.get("upsert_field") or None
    if upsert_field is not None:
        upsert_field = str(upsert_field)
        field = described.get(upsert_field)
        if field is None or not field.get("externalId"):
            raise MappingError(f"{upsert_field} is not an External ID field of {object_name}.")
        if upsert_field not in names:
            names.append(upsert_field)
    if access == "read_write":
        required = [
            n
            for n, f in described.items()
            if f.get("createable")
            and not f.get("nillable")
            and not f.get("defaultedOnCreate")
            and n not in names
        ]
        if required:
            raise MappingError(
                "Fields needed for insertion to Salesforce need to be mapped: "
                + ", ".join(required)
            )
    polling = _whole_number(
        config.get("sf_polling_seconds", DEFAULT_POLL_SECONDS),
        "sf_polling_seconds must be a number of seconds.",
    )
    polling = min(max(polling, poll_floor), MAX_POLL_SECONDS)
    daily_calls = _whole_number(
        config.get("sf_max_daily_api_calls") or DEFAULT_DAILY_API_CALLS,
        f"sf_max_daily_api_calls must be a whole number from 1 to {MAX_DAILY_API_CALLS}.",
    )
    if not 1 <= daily_calls <= MAX_DAILY_API_CALLS:
        raise MappingError(
            f"sf_max_daily_api_calls must be a whole number from 1 to {MAX_DAILY_API_CALLS}."
        )
    indexes = _indexes(object_name, config.get("indexes"), names, described, upsert_field)
    stored = {
        "access": access,
        "sf_notify_enabled": False,
        "sf_polling_seconds": polling,
        "sf_max_daily_api_calls": daily_calls,
        "upsert_field": upsert_field,
        "fields": {n: {} for n in names},
        "indexes": indexes,
        "applied_at": now_iso(),
    }
    types = {
        n: {
            "name": n,
            "type": described[n].get("type"),
            "length": described[n].get("length"),
            "createable": bool(described[n].get("createable")),
            "updateable": bool(described[n].get("updateable")),
        }
        for n in names
    }
    return stored, types


def _indexes(
    object_name: str,
    requested: Any,
    names: list[str],
    described: Mapping[str, Mapping[str, Any]],
    upsert_field: str | None,
) -> dict[str, dict[str, bool]]:
    """The mapping's ``indexes``: Heroku Connect's two fixed ones (``Id`` unique,
    ``SystemModstamp``), the upsert field (unique), and the requested ones.

    :raises MappingError: not an object of mapped field names to ``{"unique": bool}``, or a
        unique index on a field Salesforce does not keep unique.
    """
    if requested is None:
        requested = {}
    if not isinstance(requested, Mapping) or len(requested) > MAX_FIELDS:
        raise MappingError('indexes must be an object like {"Email": {"unique": false}}.')
    indexes: dict[str, dict[str, bool]] = {
        "Id": {"unique": True},
        "SystemModstamp": {"unique": False},
    }
    for name, options in requested.items():
        name = str(name)
        if name in indexes:
            continue
        if name not in names:
            raise MappingError(
                f"indexes: {name[:80]} is not a mapped field of {object_name}; map it first."
            )
        if options is None:
            options = {}
        unique = options.get("unique", False) if isinstance(options, Mapping) else None
        if not isinstance(unique, bool):
            raise MappingError(f'indexes: {name} must be {{"unique": true|false}}.')
        if unique and name != upsert_field and not described[name].get("unique"):
            raise MappingError(
                f"indexes: {name} is not unique in Salesforce, so its index cannot be unique."
            )
        indexes[name] = {"unique": unique}
    if upsert_field:
        indexes[upsert_field] = {"unique": True}
    return indexes


def extra_indexes(config: Mapping[str, Any]) -> dict[str, bool]:
    """Field -> unique for the mapping's indexes besides ``Id``'s and ``SystemModstamp``'s
    (which every mapped table has)."""
    found = {
        str(name): bool((options or {}).get("unique"))
        for name, options in (config.get("indexes") or {}).items()
        if name not in ("Id", "SystemModstamp")
    }
    if config.get("upsert_field"):
        found[str(config["upsert_field"])] = True
    return found


def _whole_number(value: Any, message: str) -> int:
    """``value`` as an int: a JSON number or its text (the dashboard's form sends text).

    :raises MappingError: with ``message`` for anything else (objects, lists, booleans).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(message)
    try:
        return int(value)
    except (ValueError, OverflowError):
        raise MappingError(message) from None


def new_mapping(
    object_name: str, config: dict[str, Any], types: dict[str, dict[str, Any]], revision: int = 1
) -> dict[str, Any]:
    """A mapping's state entry, waiting for its table (``INITIAL``)."""
    return {
        "object_name": object_name,
        "config": {**config, "revision": revision},
        "field_types": types,
        "state": states.INITIAL,
        "cursor": None,
        "next_url": None,
        "error": None,
        "times": {"sf_poll": None, "sf_write": None, "db_poll": None, "db_write": None},
        "counts": {"sf": None, "sf_counted_at": None},
    }


def export_document(
    connection: Mapping[str, Any], mappings: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Heroku Connect's v1 export document."""
    return {
        "version": 1,
        "connection": {**connection, "exported_at": now_iso()},
        "mappings": [
            {"object_name": m["object_name"], "config": dict(m["config"])}
            for m in sorted(mappings, key=lambda m: str(m["object_name"]))
        ],
    }


def load_document(text: str) -> Any:
    """Decode an import document's JSON text (the dashboard sends it as an action's string
    parameter, which the broker's edge does not decode) within the edge's own bounds
    (:func:`marketplace.adapters.json_input.loads_bounded`).

    :raises MappingError: not JSON, or past one of the bounds (the message names no value).
    """
    try:
        return loads_bounded(text, "The document")
    except UntrustedInput as error:
        raise MappingError(str(error)) from error
    except ValueError as error:
        raise MappingError("The document is not valid JSON.") from error


def parse_document(document: Any) -> list[tuple[str, dict[str, Any]]]:
    """``[(object_name, config)]`` of an import document (unknown keys ignored).

    :raises MappingError: not a v1 document with a list of mappings.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("mappings"), list):
        raise MappingError('Send a Heroku Connect export: {"version": 1, "mappings": [...]}.')
    version = document.get("version", 1)
    if type(version) is not int or version != 1:
        raise MappingError("Only version 1 mapping documents can be imported.")
    found: list[tuple[str, dict[str, Any]]] = []
    for item in document["mappings"]:
        if not isinstance(item, Mapping) or not isinstance(item.get("object_name"), str):
            raise MappingError("Each mapping needs an object_name and a config.")
        config = item.get("config") or {}
        if not isinstance(config, Mapping):
            raise MappingError(f"The config of {item['object_name'][:80]} must be an object.")
        found.append((item["object_name"], dict(config)))
    return found


def mapped_fields(mapping: Mapping[str, Any]) -> list[str]:
    """The mapping's Salesforce field names, system fields first."""
    return list(mapping["config"]["fields"])
