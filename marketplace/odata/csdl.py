"""The service document and ``$metadata``: what OData clients read before anything else.

* Service document: OData 4.0 JSON Format, section 5 (``{"@odata.context": "<root>/$metadata",
  "value": [{"name", "kind": "EntitySet", "url"}]}``).
* ``$metadata``: CSDL XML 4.0 (OData Common Schema Definition Language, XML Representation):
  ``edmx:Edmx Version="4.0"`` with one schema (namespace :data:`NAMESPACE`) holding one
  ``EntityType`` per entity set (its ``Key`` and typed ``Property`` elements, ``Nullable``,
  ``MaxLength``, ``Precision``/``Scale``, ``Core.Computed`` for columns the database computes)
  and an ``EntityContainer`` with the ``EntitySet``s.

Entity set names (``schema$table``, from identifiers only: the catalog refuses other tables)
are served as they are, percent-encoded in URLs (:func:`url_name`); entity type names, which
must be OData simple identifiers, replace other characters with ``_`` (and get a suffix when
two collide).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from marketplace.adapters.data import EntitySet
from marketplace.odata.values import EDM_TYPES

NAMESPACE = "ExternalObjects"
CONTAINER = "Service"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
CORE_VOCABULARY = (
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml"
)
_NOT_SIMPLE = re.compile(r"[^A-Za-z0-9_]")


def service_document(root_url: str, entity_sets: Sequence[EntitySet]) -> dict[str, Any]:
    """The service document (every entity set with its relative URL)."""
    return {
        "@odata.context": f"{root_url}$metadata",
        "value": [
            {"name": s.name, "kind": "EntitySet", "url": url_name(s.name)} for s in entity_sets
        ],
    }


def url_name(name: str) -> str:
    """An entity set's name as a URL path segment or fragment: percent-encoded (UTF-8), but
    for ``$``, which URLs allow there and which every entity set name holds."""
    return quote(name, safe="$")


def type_names(entity_sets: Sequence[EntitySet]) -> dict[str, str]:
    """Entity set name -> its entity type's simple identifier."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for entity_set in entity_sets:
        base = _NOT_SIMPLE.sub("_", entity_set.name)
        if not base or base[0].isdigit():
            base = f"T_{base}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[entity_set.name] = name
    return names


def metadata_document(entity_sets: Sequence[EntitySet]) -> bytes:
    """``$metadata`` as CSDL XML (EDMX 4.0), UTF-8 with an XML declaration."""
    edmx = ET.Element("edmx:Edmx", {"xmlns:edmx": EDMX, "Version": "4.0"})
    if any(c.computed for s in entity_sets for c in s.columns):
        reference = ET.SubElement(edmx, "edmx:Reference", {"Uri": CORE_VOCABULARY})
        ET.SubElement(
            reference, "edmx:Include", {"Namespace": "Org.OData.Core.V1", "Alias": "Core"}
        )
    services = ET.SubElement(edmx, "edmx:DataServices")
    schema = ET.SubElement(services, "Schema", {"xmlns": EDM, "Namespace": NAMESPACE})
    names = type_names(entity_sets)
    for entity_set in entity_sets:
        entity_type = ET.SubElement(schema, "EntityType", {"Name": names[entity_set.name]})
        key = ET.SubElement(entity_type, "Key")
        for name in entity_set.key:
            ET.SubElement(key, "PropertyRef", {"Name": name})
        for column in entity_set.columns:
            attributes = {
                "Name": column.name,
                "Type": EDM_TYPES.get(column.type, "Edm.String"),
                "Nullable": "true" if column.nullable else "false",
            }
            if column.type == "string" and column.max_length:
                attributes["MaxLength"] = str(column.max_length)
            if column.type == "decimal":
                if column.precision:
                    attributes["Precision"] = str(column.precision)
                attributes["Scale"] = str(column.scale) if column.precision else "variable"
            if column.type in ("datetime", "datetimeoffset", "time"):
                attributes["Precision"] = "6"  # Postgres keeps microseconds
            prop = ET.SubElement(entity_type, "Property", attributes)
            if column.computed:
                ET.SubElement(
                    prop, "Annotation", {"Term": "Org.OData.Core.V1.Computed", "Bool": "true"}
                )
    container = ET.SubElement(schema, "EntityContainer", {"Name": CONTAINER})
    for entity_set in entity_sets:
        ET.SubElement(
            container,
            "EntitySet",
            {"Name": entity_set.name, "EntityType": f"{NAMESPACE}.{names[entity_set.name]}"},
        )
    document: bytes = ET.tostring(edmx, encoding="utf-8", xml_declaration=True)
    return document
