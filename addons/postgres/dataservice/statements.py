"""SQL for a checked :class:`Query` or :class:`Write`: quoted identifiers, bound values.

The entity set's columns are the only identifiers that reach SQL (each through
:class:`psycopg.sql.Identifier`); every value a client sent is a ``%s`` parameter.

Filters follow OData 4.0's null semantics (URL Conventions, section 5.1.1.1): ``null eq 'x'``
is false and ``null ne 'x'`` true, ordering comparisons with null are false, and ``not`` is
pushed down to the comparisons so a negated one includes the rows whose column is null.
``tolower``/``toupper`` are Postgres' ``lower``/``upper`` of the column.
Orderings put null first when ascending (OData) and always end with the key, so pages of one
query never overlap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from marketplace.adapters import ProvisionRejected
from marketplace.adapters.data import (
    AllOf,
    AnyOf,
    Column,
    Comparison,
    EntitySet,
    Filter,
    Negation,
    Query,
    SearchTerm,
    StringMatch,
    Write,
)

Statement = tuple[sql.Composed, list[Any]]

_OPERATORS = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_NEGATED = {"lt": ">=", "le": ">", "gt": "<=", "ge": "<"}
_PATTERNS = {"startswith": "{}%", "endswith": "%{}", "contains": "%{}%"}
_CASE_FUNCTIONS = {"tolower": "lower({})", "toupper": "upper({})"}


def like_escape(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern with ``ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def select_statements(
    name: tuple[str, str], entity_set: EntitySet, query: Query
) -> tuple[Statement, Statement | None]:
    """The page's ``SELECT`` and, when ``query.count``, the ``SELECT count(*)`` on the table
    ``name`` (schema, table).

    A page whose columns need a JSON form (:data:`_AS_JSON`) picks its rows in an inner
    query and converts only those: converting in the same query would convert every row
    the ``OFFSET`` skips as well.
    """
    table = sql.Identifier(*name)
    args: list[Any] = []
    where = _where(entity_set, query, args)
    names = query.select or tuple(c.name for c in entity_set.columns)
    terms = _order_terms(entity_set, query.order_by)
    page = sql.SQL("{}{}{}").format(where, _order(name, terms), _limit(query, args))
    if any(column(entity_set, n).type in _AS_JSON for n in names):
        picked = list(dict.fromkeys([*names, *(col.name for col, _ in terms)]))
        inner = sql.SQL("SELECT {} FROM {}{}").format(
            sql.SQL(", ").join(map(sql.Identifier, picked)), table, page
        )
        statement = sql.SQL("SELECT {} FROM ({}) AS {}{}").format(
            select_list(entity_set, names), inner, _PAGE, _order(("page",), terms)
        )
    else:
        statement = sql.SQL("SELECT {} FROM {}{}").format(
            select_list(entity_set, names), table, page
        )
    count = None
    if query.count:
        count_args: list[Any] = []
        count_where = _where(entity_set, query, count_args)
        count = (sql.SQL("SELECT count(*) AS n FROM {}{}").format(table, count_where), count_args)
    return (statement, args), count


_PAGE = sql.Identifier("page")


def _limit(query: Query, args: list[Any]) -> sql.Composable:
    clause: sql.Composable = sql.SQL("")
    if query.limit is not None:
        clause += sql.SQL(" LIMIT %s")
        args.append(query.limit)
    if query.offset:
        clause += sql.SQL(" OFFSET %s")
        args.append(query.offset)
    return clause


def write_statement(name: tuple[str, str], entity_set: EntitySet, write: Write) -> Statement:
    """``INSERT``/``UPDATE``/``DELETE … RETURNING`` every column on the table ``name``
    (schema, table); an update without values reads the row."""
    table = sql.Identifier(*name)
    returning = select_list(entity_set, tuple(c.name for c in entity_set.columns))
    values = {column(entity_set, k).name: v for k, v in write.values.items()}
    if write.kind == "insert":
        if not values:
            return sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(
                table, returning
            ), []
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
            table,
            sql.SQL(", ").join(map(sql.Identifier, values)),
            sql.SQL(", ").join(sql.Placeholder() * len(values)),
            returning,
        )
        return statement, list(values.values())
    key_args: list[Any] = []
    key = key_condition(entity_set, write.key, key_args)
    if write.kind == "delete":
        return sql.SQL("DELETE FROM {} WHERE {} RETURNING {}").format(
            table, key, returning
        ), key_args
    if not values:
        return sql.SQL("SELECT {} FROM {} WHERE {}").format(returning, table, key), key_args
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = %s").format(sql.Identifier(name)) for name in values
    )
    statement = sql.SQL("UPDATE {} SET {} WHERE {} RETURNING {}").format(
        table, assignments, key, returning
    )
    return statement, [*values.values(), *key_args]


def column(entity_set: EntitySet, name: str) -> Column:
    """The entity set's column ``name``.

    :raises ProvisionRejected: there is none (the core checks names first; this is the
        adapter's own guard).
    """
    found = entity_set.column(name)
    if found is None:
        raise ProvisionRejected(f"{entity_set.name} has no column {name!r}.")
    return found


def select_list(entity_set: EntitySet, names: Sequence[str]) -> sql.Composable:
    """The columns ``names``, each as its JSON-ready form (see :data:`_AS_JSON`)."""
    items: list[sql.Composable] = []
    for name in names:
        col = column(entity_set, name)
        template = _AS_JSON.get(col.type, "{0}")
        items.append(sql.SQL(template + " AS {0}").format(sql.Identifier(col.name)))
    return sql.SQL(", ").join(items)


#: Postgres renders these types in their OData JSON form (OData JSON Format 4.0, section 7),
#: which is much cheaper than converting each value in Python: decimals as numbers (float8:
#: beyond 15 significant digits they are rounded), timestamps in UTC with ``Z``, dates,
#: times and uuids as text, json as its text (served as Edm.String).
_AS_JSON = {
    "decimal": "{0}::float8",
    "datetimeoffset": """to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "datetime": """to_char({0}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "date": "{0}::text",
    "time": "{0}::text",
    "uuid": "{0}::text",
    "json": "{0}::text",
}


def key_condition(entity_set: EntitySet, key: Mapping[str, Any], args: list[Any]) -> sql.Composable:
    """``k1 = %s AND k2 = %s`` for the entity set's key, with the values appended to ``args``."""
    if set(key) != set(entity_set.key):
        raise ProvisionRejected(f"The key of {entity_set.name} is {', '.join(entity_set.key)}.")
    args.extend(key[name] for name in entity_set.key)
    return sql.SQL(" AND ").join(
        sql.SQL("{} = %s").format(sql.Identifier(name)) for name in entity_set.key
    )


def _where(entity_set: EntitySet, query: Query, args: list[Any]) -> sql.Composable:
    parts: list[sql.Composable] = []
    if query.key:
        parts.append(key_condition(entity_set, query.key, args))
    if query.where is not None:
        parts.append(_filter(entity_set, query.where, args, negated=False))
    if query.search is not None:
        parts.append(_filter(entity_set, query.search, args, negated=False))
    if not parts:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts)


def _filter(
    entity_set: EntitySet, node: Filter, args: list[Any], *, negated: bool
) -> sql.Composable:
    if isinstance(node, Negation):
        return _filter(entity_set, node.operand, args, negated=not negated)
    if isinstance(node, AllOf | AnyOf):
        if not node.operands:
            raise ProvisionRejected("An and/or needs operands.")
        joiner = " AND " if isinstance(node, AllOf) != negated else " OR "
        inner = [_filter(entity_set, op, args, negated=negated) for op in node.operands]
        return sql.SQL("(") + sql.SQL(joiner).join(inner) + sql.SQL(")")
    if isinstance(node, SearchTerm):
        matched = _search(entity_set, node.text, args)
        return sql.SQL("NOT COALESCE({}, false)").format(matched) if negated else matched
    col = column(entity_set, node.column)
    ident: sql.Composable = sql.Identifier(col.name)
    if col.type == "json" or isinstance(node, StringMatch) or node.case is not None:
        ident = sql.SQL("{}::text").format(ident)  # enums, json: LIKE and lower need text
    if node.case is not None:
        if node.case not in _CASE_FUNCTIONS:
            raise ProvisionRejected(f"Unknown case function {node.case!r}.")
        ident = sql.SQL(_CASE_FUNCTIONS[node.case]).format(ident)
    if isinstance(node, StringMatch):
        return _string_match(col, ident, node, args, negated)
    return _comparison(col, ident, node, args, negated)


def _comparison(
    col: Column, ident: sql.Composable, node: Comparison, args: list[Any], negated: bool
) -> sql.Composable:
    op = node.op
    if node.value is None:
        if op not in ("eq", "ne"):
            raise ProvisionRejected(f"{col.name} {op} null is not a comparison.")
        is_null = (op == "eq") != negated
        return sql.SQL("{} IS NULL" if is_null else "{} IS NOT NULL").format(ident)
    if op not in _OPERATORS and op != "ne":
        raise ProvisionRejected(f"Unknown comparison {op!r}.")
    args.append(node.value)
    if op == "ne":
        op, negated = "eq", not negated
    if not negated:
        return sql.SQL("{} {} %s").format(ident, sql.SQL(_OPERATORS[op]))
    if op == "eq":
        # Without nulls the two agree, and only <> can use an index.
        template = "{} IS DISTINCT FROM %s" if col.nullable else "{} <> %s"
        return sql.SQL(template).format(ident)
    template = "({0} {1} %s OR {0} IS NULL)" if col.nullable else "{0} {1} %s"
    return sql.SQL(template).format(ident, sql.SQL(_NEGATED[op]))


def _string_match(
    col: Column, ident: sql.Composable, node: StringMatch, args: list[Any], negated: bool
) -> sql.Composable:
    if node.function not in _PATTERNS:
        raise ProvisionRejected(f"Unknown string function {node.function!r}.")
    args.append(_PATTERNS[node.function].format(like_escape(node.value)))
    if not negated:
        return sql.SQL("{} LIKE %s ESCAPE '\\'").format(ident)
    if col.nullable:
        return sql.SQL("({0} NOT LIKE %s ESCAPE '\\' OR {0} IS NULL)").format(ident)
    return sql.SQL("{} NOT LIKE %s ESCAPE '\\'").format(ident)


def _search(entity_set: EntitySet, text: str, args: list[Any]) -> sql.Composable:
    """Rows where any string column contains ``text``, ignoring case (a ``$search`` term;
    negated, a row whose string columns are all null does not contain it)."""
    columns = [c for c in entity_set.columns if c.type == "string"]
    if not columns:
        return sql.SQL("false")
    pattern = f"%{like_escape(text)}%"
    args.extend(pattern for _ in columns)
    matches = [
        sql.SQL("{}::text ILIKE %s ESCAPE '\\'").format(sql.Identifier(c.name)) for c in columns
    ]
    return sql.SQL("(") + sql.SQL(" OR ").join(matches) + sql.SQL(")")


def _order_terms(
    entity_set: EntitySet, order_by: Sequence[tuple[str, bool]]
) -> list[tuple[Column, str]]:
    """The ordering's columns and directions, ending with the key so pages never overlap."""
    ordered = {name for name, _ in order_by}
    terms = [*order_by, *((k, False) for k in entity_set.key if k not in ordered)]
    directed = []
    for name, descending in terms:
        col = column(entity_set, name)
        direction = "DESC" if descending else "ASC"
        if col.nullable:  # OData: null sorts before any value in ascending order
            direction += " NULLS LAST" if descending else " NULLS FIRST"
        directed.append((col, direction))
    return directed


def _order(relation: tuple[str, ...], terms: Sequence[tuple[Column, str]]) -> sql.Composable:
    # Qualified: the select list's JSON forms carry the columns' names as aliases, and
    # ORDER BY would sort by those (text) instead of the columns.
    if not terms:
        return sql.SQL("")
    items = [
        sql.SQL("{} " + direction).format(sql.Identifier(*relation, col.name))
        for col, direction in terms
    ]
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(items)
