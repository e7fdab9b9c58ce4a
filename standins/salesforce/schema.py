"""The stand-in org's objects and fields, read from ``schema.json``.

Each object gets Salesforce's system fields (Object Reference, "System Fields"): ``Id``,
``IsDeleted``, ``CreatedDate``, ``CreatedById``, ``LastModifiedDate``, ``LastModifiedById`` and
``SystemModstamp``. Field types are the REST describe ``type`` values: id, string, boolean,
double, currency, date, datetime, email, phone, picklist, reference, textarea, int, percent, url.
Names are looked up case-insensitively, as Salesforce does; the canonical spelling is kept for
output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

TEXT_TYPES = frozenset(
    {"id", "string", "email", "phone", "picklist", "reference", "textarea", "url"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
ALL_TYPES = TEXT_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime"}

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
"""Describe's ``soapType``; every other type is ``xsd:string``."""

USER_PREFIX = "005"
ORG_PREFIX = "00D"


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it (only the attributes the stand-in acts on)."""

    name: str
    label: str
    type: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default_value: Any = None
    unique: bool = False
    external_id: bool = False
    id_lookup: bool = False
    custom: bool = False
    name_field: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    system: bool = False

    @property
    def is_text(self) -> bool:
        """Stored as TEXT and compared case-insensitively, as SOQL compares text."""
        return self.type in TEXT_TYPES

    @property
    def required_on_create(self) -> bool:
        """Describe's rule: not nillable, createable and not defaulted on create."""
        return not self.nillable and self.createable and not self.defaulted_on_create


@dataclass
class ObjectDef:
    """One sObject: its name, key prefix and fields in describe order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool
    fields: list[FieldDef]
    _by_lower: dict[str, FieldDef] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_lower = {f.name.lower(): f for f in self.fields}

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (any letter case), or None."""
        return self._by_lower.get(name.lower())

    @property
    def external_ids(self) -> list[FieldDef]:
        """Fields usable as an upsert or lookup key: the ``externalId`` ones, plus ``Id``."""
        return [f for f in self.fields if f.external_id or f.name == "Id"]

    @property
    def table(self) -> str:
        """The quoted SQLite table that holds this object's records."""
        return f'"sobject_{self.name}"'


@dataclass
class Schema:
    """Every object of the org, looked up by name (any letter case) or key prefix."""

    objects: list[ObjectDef]

    def __post_init__(self) -> None:
        self._by_lower = {o.name.lower(): o for o in self.objects}
        self._by_prefix = {o.key_prefix: o for o in self.objects}

    def get(self, name: str) -> ObjectDef | None:
        """The object called ``name`` (any letter case), or None."""
        return self._by_lower.get(name.lower())

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        """The object whose ids start with ``prefix``, or None."""
        return self._by_prefix.get(prefix)


def _system(name: str, label: str, kind: str, reference: str | None = None) -> FieldDef:
    """A field Salesforce maintains itself: never writable, never null."""
    return FieldDef(
        name, label, kind, length=18 if kind in ("id", "reference") else 0,
        nillable=False, createable=False, updateable=False, defaulted_on_create=True,
        id_lookup=kind == "id", reference_to=reference,
        relationship_name=name[:-2] if reference else None, system=True,
    )


def _system_fields(label: str) -> list[FieldDef]:
    """``Id`` and ``IsDeleted`` (listed first), then the audit fields (listed last)."""
    return [
        _system("Id", f"{label} ID", "id"),
        _system("IsDeleted", "Deleted", "boolean"),
        _system("CreatedDate", "Created Date", "datetime"),
        _system("CreatedById", "Created By ID", "reference", "User"),
        _system("LastModifiedDate", "Last Modified Date", "datetime"),
        _system("LastModifiedById", "Last Modified By ID", "reference", "User"),
        _system("SystemModstamp", "System Modstamp", "datetime"),
    ]


def _field_from_json(raw: dict[str, Any]) -> FieldDef:
    """A declared field; ``required`` becomes nillable=False, a default makes it defaulted."""
    kind = raw["type"]
    if kind not in ALL_TYPES:
        raise ValueError(f"unknown field type {kind!r} for {raw['name']}")
    has_default = "defaultValue" in raw
    return FieldDef(
        name=raw["name"],
        label=raw.get("label", raw["name"]),
        type=kind,
        length=raw.get("length", 18 if kind == "reference" else 0),
        precision=raw.get("precision", 0),
        scale=raw.get("scale", 0),
        digits=raw.get("digits", 0),
        nillable=not (raw.get("required", False) or has_default),
        defaulted_on_create=has_default,
        default_value=raw.get("defaultValue"),
        unique=raw.get("unique", False),
        external_id=raw.get("externalId", False),
        id_lookup=raw.get("idLookup", False) or raw.get("externalId", False),
        custom=raw.get("custom", raw["name"].endswith("__c")),
        name_field=raw.get("nameField", False),
        reference_to=raw.get("referenceTo"),
        relationship_name=raw.get("relationshipName"),
        picklist_values=tuple(raw.get("picklistValues", ())),
    )


def load_schema(path: str | Path | None = None) -> Schema:
    """Read a schema file (default: the ``schema.json`` shipped with this package)."""
    if path is None:
        text = resources.files(__package__).joinpath("schema.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    objects = []
    for raw in json.loads(text)["objects"]:
        declared = [_field_from_json(f) for f in raw["fields"]]
        system = _system_fields(raw["label"])
        objects.append(
            ObjectDef(
                name=raw["name"],
                label=raw["label"],
                label_plural=raw.get("labelPlural", raw["label"] + "s"),
                key_prefix=raw["keyPrefix"],
                custom=raw.get("custom", raw["name"].endswith("__c")),
                fields=system[:2] + declared + system[2:],
            )
        )
    return Schema(objects)
