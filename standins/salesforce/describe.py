"""Describe results: versions, describeGlobal, one sObject's describe, and limits.

Shapes from the REST API Developer Guide:

- ``GET /services/data/`` ("Versions"): ``[{"label": "Winter '24", "url": "/services/data/v59.0",
  "version": "59.0"}, ...]``.
- ``GET /vXX.X/sobjects`` ("Describe Global"): ``{"encoding": "UTF-8", "maxBatchSize": 200,
  "sobjects": [{"name", "label", "keyPrefix", "custom", "queryable", "replicateable",
  "triggerable", ..., "urls": {...}}]}``.
- ``GET /vXX.X/sobjects/Obj/describe`` ("sObject Describe"): the object attributes plus
  ``fields: [{"name", "type", "length", "precision", "scale", "nillable", "createable",
  "updateable", "externalId", "idLookup", "label", "custom", ...}]``.
- ``GET /vXX.X/limits`` ("Limits"): ``{"DailyApiRequests": {"Max": 15000, "Remaining": 14998},
  ...}``.
"""

from __future__ import annotations

from typing import Any

from standins.salesforce.schema import SOAP_TYPES, FieldDef, ObjectDef, Schema

FIRST_VERSION = 20
LAST_VERSION = 68
"""Versions served: 20.0 (Winter '11) to 68.0 (Winter '27)."""


def release_label(major: int) -> str:
    """The release name of an API version: three releases a year since 20.0 = Winter '11."""
    steps = major - FIRST_VERSION
    season = ("Winter", "Spring", "Summer")[steps % 3]
    return f"{season} '{11 + steps // 3:02d}"


def versions() -> list[dict[str, str]]:
    """The answer of ``GET /services/data/``."""
    return [
        {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(FIRST_VERSION, LAST_VERSION + 1)
    ]


def is_served(version: str) -> bool:
    """True for ``NN.0`` between the first and last served versions."""
    major, _, minor = version.partition(".")
    return major.isdigit() and minor == "0" and FIRST_VERSION <= int(major) <= LAST_VERSION


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    """One ``sobjects`` entry of describeGlobal (no fields)."""
    return {
        "activateable": False,
        "createable": True,
        "custom": obj.custom,
        "customSetting": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact", "Lead"),
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": _urls(obj, version),
    }


def describe_global(schema: Schema, version: str) -> dict[str, Any]:
    """The answer of ``GET /vXX.X/sobjects``."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(obj, version) for obj in schema.objects],
    }


def describe_field(f: FieldDef) -> dict[str, Any]:
    """One entry of ``fields`` in an sObject describe."""
    return {
        "aggregatable": f.type != "textarea",
        "autoNumber": False,
        "byteLength": f.length * 3 if f.is_text else 0,
        "calculated": False,
        "caseSensitive": False,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": f.default_value,
        "defaultedOnCreate": f.defaulted_on_create,
        "deprecatedAndHidden": False,
        "digits": f.digits,
        "externalId": f.external_id,
        "filterable": f.type != "textarea",
        "groupable": f.type not in ("textarea", "double", "currency", "percent", "datetime"),
        "htmlFormatted": False,
        "idLookup": f.id_lookup,
        "label": f.label,
        "length": f.length if f.is_text else 0,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": False,
        "nillable": f.nillable,
        "picklistValues": [
            {"active": True, "defaultValue": v == f.default_value, "label": v,
             "validFor": None, "value": v}
            for v in f.picklist_values
        ],
        "polymorphicForeignKey": False,
        "precision": f.precision,
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
        "restrictedPicklist": False,
        "scale": f.scale,
        "soapType": SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type != "textarea",
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
        "extraTypeInfo": "plaintextarea" if f.type == "textarea" else None,
    }


def describe_object(obj: ObjectDef, version: str) -> dict[str, Any]:
    """The answer of ``GET /vXX.X/sobjects/Obj/describe``."""
    return {
        **object_summary(obj, version),
        "childRelationships": [],
        "fields": [describe_field(f) for f in obj.fields],
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [],
        "supportedScopes": [{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
    }


def limits(max_requests: int, used: int) -> dict[str, Any]:
    """The answer of ``GET /vXX.X/limits`` (the limits a sync engine reads)."""
    return {
        "DailyApiRequests": {"Max": max_requests, "Remaining": max(max_requests - used, 0)},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
        "DataStorageMB": {"Max": 1024, "Remaining": 1024},
    }
