"""Checking a parsed SOQL query against the schema and turning it into SQLite SQL.

Salesforce semantics kept here (SOQL and SOSL Reference, "Comparison Operators"):

- text comparisons and LIKE ignore case (the columns are ``COLLATE NOCASE``);
- ``field = null`` / ``field != null`` test for null; ``!=`` and ``NOT IN`` also match records
  whose field is null, as SOQL's do;
- a literal must match the field's type: quoted strings for text, ids and picklists,
  unquoted numbers, ``true``/``false``, date and datetime literals; 15-character ids in filters
  match their 18-character records;
- ``query`` never sees deleted records, ``queryAll`` sees them with ``IsDeleted = true``;
- default ordering is ASC NULLS FIRST / DESC NULLS LAST, as in SQLite.

Errors: unknown object ``INVALID_TYPE``; unknown field or wrongly typed literal
``INVALID_FIELD``; an id literal that is not an id ``INVALID_QUERY_FILTER_OPERATOR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from standins.salesforce import ids, soql
from standins.salesforce.errors import ApiError
from standins.salesforce.schema import FieldDef, ObjectDef, Schema
from standins.salesforce.store import quote

_TYPE_NAMES = {"int": "integer", "double": "double", "currency": "double", "percent": "double",
               "boolean": "boolean", "date": "date", "datetime": "dateTime"}
_EXPECTED_LITERAL = {"int": "number", "double": "number", "currency": "number",
                     "percent": "number", "boolean": "boolean", "date": "date",
                     "datetime": "datetime"}


@dataclass(frozen=True)
class Plan:
    """A query ready to run: the object, selected fields and the SQL pieces."""

    query: soql.Query
    obj: ObjectDef
    fields: list[FieldDef]
    where: str
    params: list[Any]
    order: str

    @property
    def is_count(self) -> bool:
        """True for ``COUNT()`` and ``COUNT(field)`` queries."""
        return self.query.count is not None


class _Compiler:
    def __init__(self, query: soql.Query, obj: ObjectDef) -> None:
        self.query = query
        self.obj = obj
        self.params: list[Any] = []

    def fail(self, pos: int, detail: str, code: str = "INVALID_FIELD") -> ApiError:
        return soql.error(self.query.text, pos, detail, code)

    def field(self, ref: soql.FieldRef) -> FieldDef:
        found = self.obj.field(ref.name)
        if found is not None:
            return found
        if "." in ref.name:
            relationship = ref.name.split(".")[0]
            raise self.fail(ref.pos, f"Didn't understand relationship '{relationship}' in field "
                            "path. If you are attempting to use a custom relationship, be sure "
                            "to append the '__r' after the custom relationship name. Please "
                            "reference your WSDL or the describe call for the appropriate names.")
        raise self.fail(ref.pos, f"No such column '{ref.name}' on entity '{self.obj.name}'. If "
                        "you are attempting to use a custom field, be sure to append the '__c' "
                        "after the custom field name. Please reference your WSDL or the "
                        "describe call for the appropriate names.")

    def literal(self, f: FieldDef, value: soql.Value) -> Any:
        """The SQL parameter for a literal compared with ``f``, after checking its type."""
        if f.is_text:
            if value.kind != "string":
                raise self.fail(value.pos, f"value of filter criterion for field '{f.name}' "
                                "must be of type string and should be enclosed in quotes")
            if f.type in ("id", "reference"):
                normal = ids.normalize(value.value)
                if normal is None:
                    raise self.fail(value.pos, f"invalid ID field: {value.value}",
                                    "INVALID_QUERY_FILTER_OPERATOR")
                return normal
            return value.value
        if value.kind != _EXPECTED_LITERAL[f.type]:
            raise self.fail(value.pos, f"value of filter criterion for field '{f.name}' must "
                            f"be of type {_TYPE_NAMES[f.type]} and should not be enclosed in "
                            "quotes")
        return int(value.value) if f.type == "boolean" else value.value

    def condition(self, node: soql.Condition) -> str:
        if isinstance(node, soql.Junction):
            return "(" + f" {node.op} ".join(self.condition(i) for i in node.items) + ")"
        if isinstance(node, soql.Negation):
            return f"(NOT COALESCE({self.condition(node.item)}, 0))"
        return self.comparison(node)

    def comparison(self, node: soql.Comparison) -> str:
        f = self.field(node.field)
        column = quote(f.name)
        if node.op in ("IN", "NOT IN"):
            values = [self.literal(f, v) for v in node.values if v.kind != "null"]
            has_null = any(v.kind == "null" for v in node.values)
            self.params.extend(values)
            marks = ", ".join("?" for _ in values) or "NULL"
            if node.op == "IN":
                return f"({column} IN ({marks}){f' OR {column} IS NULL' if has_null else ''})"
            null_part = f" AND {column} IS NOT NULL" if has_null else f" OR {column} IS NULL"
            return f"({column} NOT IN ({marks}){null_part})"
        value = node.values[0]
        if value.kind == "null":
            if node.op not in ("=", "!="):
                raise self.fail(value.pos, "unexpected token: 'null'", "MALFORMED_QUERY")
            return f"{column} IS {'NOT ' if node.op == '!=' else ''}NULL"
        if node.op == "LIKE":
            if not f.is_text or f.type == "id" or value.kind != "string":
                raise self.fail(node.field.pos, f"invalid operator on field '{f.name}'",
                                "INVALID_QUERY_FILTER_OPERATOR")
            self.params.append(value.like)
            return f"{column} LIKE ? ESCAPE '\\'"
        self.params.append(self.literal(f, value))
        if node.op == "!=" and f.nillable:
            return f"({column} != ? OR {column} IS NULL)"
        return f"{column} {node.op} ?"

    def order(self) -> str:
        terms = []
        for item in self.query.order_by:
            f = self.field(item.field)
            term = f"{quote(f.name)} {'DESC' if item.descending else 'ASC'}"
            if item.nulls_last is not None:
                term += " NULLS LAST" if item.nulls_last else " NULLS FIRST"
            terms.append(term)
        terms.append("rowid")
        return ", ".join(terms)


def plan(schema: Schema, text: str, include_deleted: bool) -> Plan:
    """Parse, check and compile a query.

    :raises ApiError: 400 MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD or
        INVALID_QUERY_FILTER_OPERATOR, with Salesforce's message layout.
    """
    query = soql.parse(text)
    obj = schema.get(query.sobject)
    if obj is None:
        raise soql.error(text, query.sobject_pos, f"sObject type '{query.sobject}' is not "
                         "supported. If you are attempting to use a custom object, be sure to "
                         "append the '__c' after the entity name. Please reference your WSDL or "
                         "the describe call for the appropriate names.", "INVALID_TYPE")
    compiler = _Compiler(query, obj)
    fields: list[FieldDef] = []
    for ref in query.fields:
        f = compiler.field(ref)
        if f in fields:
            raise compiler.fail(ref.pos, f"duplicate field selected: {f.name}",
                                "MALFORMED_QUERY")
        fields.append(f)
    if query.count and query.count.field:
        compiler.field(query.count.field)
    clauses = [] if include_deleted else ['"IsDeleted" = 0']
    if query.where is not None:
        clauses.append(compiler.condition(query.where))
    where = " AND ".join(clauses) or "1"
    return Plan(query, obj, fields, where, compiler.params, compiler.order())
