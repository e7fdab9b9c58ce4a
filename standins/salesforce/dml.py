"""Creating, updating, upserting and deleting records, one transaction per call.

Every call takes one ``SystemModstamp`` from the org's clock, so the records it touches share a
stamp and any later call gets a later one. Results follow the SOAP/REST SaveResult shape
(REST API Developer Guide, "sObject Collections"): ``{"id", "success", "errors": [{"statusCode",
"message", "fields"}]}`` plus ``"created"`` for upserts. With ``allOrNone`` a single failure
rolls the whole call back and every other record reports ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standins.salesforce import ids, records
from standins.salesforce.errors import RecordError
from standins.salesforce.schema import FieldDef, ObjectDef
from standins.salesforce.store import Org, quote

ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)


@dataclass
class SaveResult:
    """The outcome of one record's write."""

    id: str | None
    success: bool
    errors: list[RecordError] = field(default_factory=list)
    created: bool | None = None
    include_id: bool = True

    def as_json(self) -> dict[str, Any]:
        """The collections/SaveResult JSON item."""
        body: dict[str, Any] = {}
        if self.success or self.include_id:
            body["id"] = self.id
        body["success"] = self.success
        body["errors"] = [e.as_collection() for e in self.errors]
        if self.created is not None:
            body["created"] = self.created
        return body


def failed(record_id: str | None, errors: list[RecordError], *, creating: bool) -> SaveResult:
    """A failed result; a failed create carries no id, as Salesforce's does not."""
    return SaveResult(record_id, False, errors, include_id=not creating)


Step = Callable[[str], SaveResult]


def run(org: Org, steps: list[Step], all_or_none: bool) -> list[SaveResult]:
    """Run write steps in one transaction under one stamp; honour ``allOrNone``."""
    with org.lock:
        stamp = org.clock.next()
        org.db.execute("BEGIN IMMEDIATE")
        try:
            results = [step(stamp) for step in steps]
        except BaseException:
            org.db.execute("ROLLBACK")
            raise
        if all_or_none and not all(r.success for r in results):
            org.db.execute("ROLLBACK")
            return [r if not r.success else _rolled_back(r) for r in results]
        org.db.execute("COMMIT")
    return results


def _rolled_back(result: SaveResult) -> SaveResult:
    creating = bool(result.created) or not result.include_id
    return SaveResult(None if creating else result.id, False, [ROLLED_BACK],
                      include_id=not creating)


def find(org: Org, record_id: str) -> tuple[ObjectDef, dict[str, Any]] | None:
    """The object and stored row of a record (deleted ones too), or None."""
    normal = ids.normalize(record_id)
    obj = org.schema.by_prefix(normal[:3]) if normal else None
    if obj is None or normal is None:
        return None
    cursor = org.db.execute(f'SELECT * FROM {obj.table} WHERE "Id" = ?', (normal,))
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]
    return obj, dict(zip(names, row, strict=True))


def _rule_errors(org: Org, obj: ObjectDef, row: dict[str, Any]) -> list[RecordError]:
    errors = []
    rules = org.db.execute(
        "SELECT field, value, message, error_field FROM validation_rule WHERE sobject = ?",
        (obj.name,),
    ).fetchall()
    for field_name, raw, message, error_field in rules:
        f = obj.field(field_name)
        if f is None:
            continue
        expected = records.coerce(f, json.loads(raw))
        actual = row.get(f.name)
        if isinstance(expected, str) and isinstance(actual, str):
            hit = expected.casefold() == actual.casefold()
        else:
            hit = expected == actual
        if hit:
            errors.append(RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", message,
                                      [error_field] if error_field else []))
    return errors


def _reference_errors(org: Org, f: FieldDef, value: str) -> list[RecordError]:
    target = org.schema.get(f.reference_to or "")
    normal = ids.normalize(value)
    if target is None or normal is None:
        return []
    if normal[:3] != target.key_prefix:
        return [RecordError("FIELD_INTEGRITY_EXCEPTION",
                            f"{f.label}: id value of incorrect type: {value}", [f.name])]
    found = find(org, normal)
    if found is None:
        return [RecordError("INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
                            f"insufficient access rights on cross-reference id: {value}")]
    if found[1]["IsDeleted"]:
        return [RecordError("ENTITY_IS_DELETED", "entity is deleted", [f.name])]
    return []


def _duplicate_errors(org: Org, obj: ObjectDef, row: dict[str, Any]) -> list[RecordError]:
    for f in obj.fields:
        value = row.get(f.name)
        if not f.unique or value is None:
            continue
        other = org.db.execute(
            f'SELECT "Id" FROM {obj.table} WHERE {quote(f.name)} = ? AND "IsDeleted" = 0 '
            'AND "Id" IS NOT ?',
            (value, row.get("Id")),
        ).fetchone()
        if other:
            return [RecordError("DUPLICATE_VALUE", f"duplicate value found: {f.name} "
                                f"duplicates value on record with id: {other[0]}")]
    return []


def validate(org: Org, obj: ObjectDef, row: dict[str, Any], changed: dict[str, Any],
             creating: bool) -> list[RecordError]:
    """Every check a save runs, in Salesforce's order: fields, references, rules, duplicates."""
    errors = records.check_writable(obj, changed, creating)
    errors += records.check_values(obj, row)
    if errors:
        return errors
    for name, value in changed.items():
        f = obj.field(name)
        if f is not None and f.type == "reference" and not f.system and value is not None:
            errors += _reference_errors(org, f, value)
    return errors or _rule_errors(org, obj, row) or _duplicate_errors(org, obj, row)


def _normalize_references(obj: ObjectDef, values: dict[str, Any]) -> None:
    for name, value in values.items():
        f = obj.field(name)
        if f is not None and f.type == "reference" and isinstance(value, str):
            values[name] = ids.normalize(value) or value


def insert_step(org: Org, obj: ObjectDef, values: dict[str, Any]) -> Step:
    """A step that creates one record from parsed values."""

    def step(stamp: str) -> SaveResult:
        _normalize_references(obj, values)
        row = {f.name: f.default_value if f.defaulted_on_create and not f.system else None
               for f in obj.fields}
        row.update(values)
        errors = validate(org, obj, row, values, creating=True)
        if errors:
            return failed(None, errors, creating=True)
        record_id = org.allocate_ids(obj, 1)[0]
        row = {**records_defaults(obj, row), **system_values(org, record_id, stamp, True)}
        names = list(row)
        org.db.execute(
            f"INSERT INTO {obj.table} ({', '.join(quote(n) for n in names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [row[n] for n in names],
        )
        return SaveResult(record_id, True)

    return step


def records_defaults(obj: ObjectDef, row: dict[str, Any]) -> dict[str, Any]:
    """Store booleans as 0/1 even where a default came from the schema file."""
    out = dict(row)
    for f in obj.fields:
        if f.type == "boolean" and not f.system:
            out[f.name] = int(bool(out.get(f.name)))
    return out


def system_values(org: Org, record_id: str, stamp: str, creating: bool) -> dict[str, Any]:
    """The server-maintained fields of a write."""
    values: dict[str, Any] = {"LastModifiedDate": stamp, "LastModifiedById": org.user_id,
                              "SystemModstamp": stamp}
    if creating:
        values.update({"Id": record_id, "IsDeleted": 0, "CreatedDate": stamp,
                       "CreatedById": org.user_id})
    return values


def update_step(org: Org, record_id: str, values: dict[str, Any],
                expected: ObjectDef | None = None) -> Step:
    """A step that updates one record (by id) with parsed values."""

    def step(stamp: str) -> SaveResult:
        found = find(org, record_id)
        if found is None or (expected is not None and found[0] is not expected):
            return failed(record_id, [RecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")], creating=False)
        obj, row = found
        if row["IsDeleted"]:
            return failed(row["Id"], [RecordError("ENTITY_IS_DELETED", "entity is deleted")],
                          creating=False)
        _normalize_references(obj, values)
        merged = {**row, **values}
        errors = validate(org, obj, merged, values, creating=False)
        if errors:
            return failed(row["Id"], errors, creating=False)
        changes = {**values, **system_values(org, row["Id"], stamp, False)}
        assignments = ", ".join(f"{quote(n)} = ?" for n in changes)
        org.db.execute(f'UPDATE {obj.table} SET {assignments} WHERE "Id" = ?',
                       [*changes.values(), row["Id"]])
        return SaveResult(row["Id"], True)

    return step


def upsert_step(org: Org, obj: ObjectDef, key: FieldDef, key_value: Any,
                values: dict[str, Any]) -> Step:
    """A step that updates the record whose ``key`` equals ``key_value``, or creates one."""

    def step(stamp: str) -> SaveResult:
        if key_value is None or key_value == "":
            return failed(None, [RecordError("MISSING_ARGUMENT",
                                             f"{key.name} not specified")], creating=True)
        lookup = ids.normalize(str(key_value)) if key.name == "Id" else key_value
        matches = org.db.execute(
            f'SELECT "Id" FROM {obj.table} WHERE {quote(key.name)} = ? AND "IsDeleted" = 0',
            (lookup,),
        ).fetchall()
        if len(matches) > 1:
            return failed(None, [RecordError("DUPLICATE_EXTERNAL_ID",
                                             f"{key.name}: more than one record found for "
                                             f"external id field: {key_value}")], creating=True)
        if matches:
            result = update_step(org, matches[0][0], values, obj)(stamp)
            result.created = False if result.success else None
            return result
        if key.name == "Id":
            return failed(None, [RecordError("NOT_FOUND", "Provided external ID field does "
                                             "not exist or is not accessible: " + str(key_value))],
                          creating=True)
        result = insert_step(org, obj, {**values, key.name: key_value})(stamp)
        result.created = True if result.success else None
        return result

    return step


def delete_step(org: Org, record_id: str, expected: ObjectDef | None = None) -> Step:
    """A step that moves one record to the recycle bin (``IsDeleted = true``)."""

    def step(stamp: str) -> SaveResult:
        if ids.normalize(record_id) is None:
            return failed(record_id, [RecordError("MALFORMED_ID",
                                                  f"malformed id {record_id}")], creating=False)
        found = find(org, record_id)
        if found is None or (expected is not None and found[0] is not expected):
            return failed(record_id, [RecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")], creating=False)
        obj, row = found
        if row["IsDeleted"]:
            return failed(row["Id"], [RecordError("ENTITY_IS_DELETED", "entity is deleted")],
                          creating=False)
        org.db.execute(
            f'UPDATE {obj.table} SET "IsDeleted" = 1, _deleted_at = ?, "SystemModstamp" = ?, '
            '"LastModifiedDate" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
            (stamp, stamp, stamp, org.user_id, row["Id"]),
        )
        return SaveResult(row["Id"], True)

    return step
