"""Value objects of the data-service capability: tables of a resource served as entity sets.

The core owns the wire protocol (OData 4.0 for External Objects): it parses a request into
a :class:`Query` or a :class:`Write` whose every column name was checked against the entity
set's :class:`Column` list, and the adapter runs it with parameterised SQL. Nothing a client
sends reaches an adapter as SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: Portable column types (OData's Edm types in brackets): ``int16`` ``int32`` ``int64``
#: (Edm.Int16/32/64), ``decimal`` (Edm.Decimal), ``double`` (Edm.Double), ``boolean``,
#: ``string``, ``date``, ``datetime`` (no zone; Edm.DateTimeOffset at UTC), ``datetimeoffset``,
#: ``time`` (Edm.TimeOfDay), ``uuid`` (Edm.Guid), ``json`` (served as Edm.String), ``binary``.
ColumnType = str

ComparisonOperator = Literal["eq", "ne", "lt", "le", "gt", "ge"]
StringFunction = Literal["startswith", "endswith", "contains"]
#: OData's case functions applied to a string column before it is compared.
CaseFunction = Literal["tolower", "toupper"]


@dataclass(frozen=True)
class Column:
    """One column of an entity set. ``max_length`` for strings, ``precision``/``scale`` for
    decimals; None when unbounded. ``computed``: the database computes every value (a
    generated column, an identity ``ALWAYS``), so a write may not set it."""

    name: str
    type: ColumnType
    nullable: bool = True
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    computed: bool = False


@dataclass(frozen=True)
class EntitySet:
    """A shared table or view: its name as served (``<schema>$<table>``), columns and key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    writable: bool

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Comparison:
    """``column <op> value``; ``value`` None compares with null (``eq``/``ne`` only).
    ``case``: the column's value goes through ``tolower``/``toupper`` first (strings)."""

    column: str
    op: ComparisonOperator
    value: Any
    case: CaseFunction | None = None


@dataclass(frozen=True)
class StringMatch:
    """``startswith(column, value)`` and friends; case-sensitive, as OData defines them.
    ``case``: the column's value goes through ``tolower``/``toupper`` first
    (``contains(tolower(name),'x')``)."""

    function: StringFunction
    column: str
    value: str
    case: CaseFunction | None = None


@dataclass(frozen=True)
class AllOf:
    """Every operand holds (``and``)."""

    operands: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one operand holds (``or``)."""

    operands: tuple[Filter, ...]


@dataclass(frozen=True)
class Negation:
    """The operand does not hold (``not``)."""

    operand: Filter


@dataclass(frozen=True)
class SearchTerm:
    """``$search``'s word or phrase: some string column contains ``text``, ignoring case."""

    text: str


Filter = Comparison | StringMatch | SearchTerm | AllOf | AnyOf | Negation


@dataclass(frozen=True)
class Query:
    """A structured read of one entity set.

    ``select`` empty means every column; ``order_by`` is ``(column, descending)`` pairs;
    ``search`` is ``$search`` as a filter of :class:`SearchTerm` leaves joined by
    :class:`AllOf`/:class:`AnyOf`/:class:`Negation` (rows must match it as well as
    ``where``); ``count`` asks for the total number of matching rows (ignoring
    ``limit``/``offset``).
    """

    entity_set: str
    select: tuple[str, ...] = ()
    where: Filter | None = None
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    offset: int = 0
    count: bool = False
    search: Filter | None = None
    key: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class QueryResult:
    """Rows as column -> value, and the total when the query asked for it.

    Values are JSON-ready in OData's JSON form (numbers, strings, booleans, None; dates,
    times, uuids and json as strings; timestamps as ISO 8601 strings in UTC with ``Z``), or
    Python values the core encodes that way: ``decimal.Decimal``, ``datetime.date``,
    ``datetime.datetime`` (naive means UTC), ``datetime.time``, ``uuid.UUID`` (OData 4.0
    JSON Format, section 7).
    """

    rows: Sequence[Mapping[str, Any]]
    count: int | None = None


@dataclass(frozen=True)
class Write:
    """An insert (no ``key``), update (``key`` and ``values``) or delete (``key``, no values)."""

    entity_set: str
    kind: Literal["insert", "update", "delete"]
    key: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)


#: Why a table can be shared or not: ``table`` and ``view`` can; the rest say why not.
CandidateKind = Literal["table", "view"]


@dataclass(frozen=True)
class TableCandidate:
    """A table or view of the resource's database, as a table picker lists it.

    ``name`` is ``schema.table`` (unquoted; the form ``ResourceRef.state["external_objects"]
    ["tables"]`` uses); ``reason`` is None when it can be shared, else why not (for example
    "no primary key", "a view needs a column named id").
    """

    name: str
    kind: CandidateKind
    reason: str | None = None

    @property
    def shareable(self) -> bool:
        """Whether it can be shared."""
        return self.reason is None
