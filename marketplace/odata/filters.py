"""``$filter``: parsed by odata-query, then turned into data.py's filter tree.

odata-query's lexer and parser (OData 4.0 ABNF) produce its AST; this module accepts the
subset External Objects serves (URL Conventions, section 5.1.1) and builds a
:class:`~marketplace.adapters.data.Filter`:

* ``eq ne gt ge lt le`` between a property and a literal (either side), ``and or not``,
  parentheses, ``null``; ``in`` with a list of literals (OData 4.01: an ``eq`` chain);
* ``startswith``/``endswith``/``contains`` on a string property with a string literal, on
  their own or compared with ``true``/``false`` (``startswith(name,'A') eq true``);
* ``tolower``/``toupper`` of a string property wherever a property is compared or matched
  (``tolower(name) eq 'acme'``, ``contains(toupper(name),'AC')``).

Every property is checked against the entity set's columns and every literal against the
column's type (:func:`marketplace.odata.values.from_literal`). Anything else (arithmetic,
other functions, lambdas, navigation, two properties compared) is a 400 that names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from odata_query import ast
from odata_query import exceptions as odata_errors
from odata_query.grammar import ODataLexer, ODataParser
from sly.lex import Token

from marketplace.adapters.data import (
    AllOf,
    AnyOf,
    CaseFunction,
    Column,
    Comparison,
    ComparisonOperator,
    EntitySet,
    Filter,
    Negation,
    StringMatch,
)
from marketplace.errors import BadRequest
from marketplace.odata.values import from_literal

MAX_FILTER_LENGTH = 8000
MAX_DEPTH = 64
MAX_TERMS = 1_000

_OPERATORS: dict[type[ast._Comparator], ComparisonOperator] = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
}
_MIRRORED: dict[ComparisonOperator, ComparisonOperator] = {
    "eq": "eq",
    "ne": "ne",
    "lt": "gt",
    "le": "ge",
    "gt": "lt",
    "ge": "le",
}
_STRING_FUNCTIONS = ("startswith", "endswith", "contains")
_CASE_FUNCTIONS = ("tolower", "toupper")


def parse_expression(text: str) -> ast._Node:
    """odata-query's AST of ``text``.

    :raises BadRequest: too long, or not an OData expression (the message says where).
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise BadRequest(f"$filter is longer than {MAX_FILTER_LENGTH} characters.")
    try:
        node: ast._Node = ODataParser().parse(_one_element_lists(ODataLexer().tokenize(text)))
    except odata_errors.TokenizingException as error:
        raise BadRequest(f"$filter cannot be read at {_where(error.token)}.") from error
    except odata_errors.ParsingException as error:
        place = "its end" if error.eof or error.token is None else _where(error.token)
        raise BadRequest(f"$filter is malformed at {place}.") from error
    except odata_errors.ODataException as error:
        raise BadRequest(f"$filter is invalid: {error}") from error
    if node is None:
        raise BadRequest("$filter is empty.")
    return node


def _one_element_lists(tokens: Iterable[Token]) -> Iterator[Token]:
    """``tokens`` with each one-element list after ``in`` (``p in (1)``, valid in OData 4.01's
    ABNF) given as a two-element list of that value (``p in (1,1)``): odata-query's parser
    reads a lone parenthesised value as an expression, not a list."""
    pending: list[Token] = []  # IN, then "(" and one value as they come (spaces dropped)
    for token in tokens:
        if token.type == "WS" and pending:
            continue
        if token.type == "IN" or (pending and _fits_list(pending, token)):
            pending = [token] if token.type == "IN" else [*pending, token]
            continue
        if len(pending) == 3 and token.type == ")":
            comma = Token()
            comma.type = comma.value = ","
            comma.lineno, comma.index = token.lineno, token.index
            pending += [comma, pending[2]]
        yield from pending
        pending = []
        yield token
    yield from pending


def _fits_list(pending: list[Token], token: Token) -> bool:
    """Whether ``token`` continues ``in ( value``: the "(" after IN, or one value after it."""
    if len(pending) == 1:
        return bool(token.type == "(")
    return len(pending) == 2 and token.type not in ("(", ")", ",")


def parse_filter(text: str, entity_set: EntitySet) -> Filter:
    """The filter tree of ``$filter=text`` on ``entity_set``.

    A chain of one operator (``id eq 1 or id eq 2 or ...``, as Salesforce Connect sends
    for a list of ids) is one level, however long; only real nesting counts towards
    :data:`MAX_DEPTH`, and the whole filter has at most :data:`MAX_TERMS` conditions.

    :raises BadRequest: malformed, an unknown property, a type mismatch or something not
        served; the message names it.
    """
    return _convert(parse_expression(text), entity_set, 0, [0])


def _convert(node: ast._Node, entity_set: EntitySet, depth: int, terms: list[int]) -> Filter:
    if depth > MAX_DEPTH:
        raise BadRequest("$filter is nested too deeply.")
    if isinstance(node, ast.BoolOp):
        kind = AllOf if isinstance(node.op, ast.And) else AnyOf
        operands = [_convert(n, entity_set, depth + 1, terms) for n in _chain(node)]
        return kind(_flatten(kind, *operands))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Negation(_convert(node.operand, entity_set, depth + 1, terms))
    terms[0] += 1
    if terms[0] > MAX_TERMS:
        raise BadRequest(f"$filter has more than {MAX_TERMS} conditions.")
    if isinstance(node, ast.Compare):
        return _compare(node, entity_set, terms)
    if isinstance(node, ast.Call):
        return _string_function(node, entity_set)
    if isinstance(node, ast.Identifier):
        column = _column(node, entity_set)
        if column.type == "boolean":  # a bare boolean property: "active"
            return Comparison(column.name, "eq", True)
    raise BadRequest(f"$filter: {_describe(node)} is not a condition External Objects serve.")


def _chain(node: ast.BoolOp) -> list[ast._Node]:
    """The operands of a chain of ``node``'s operator, in order, found without recursion
    (odata-query nests ``a or b or c`` as ``(a or b) or c``)."""
    operator = type(node.op)
    operands: list[ast._Node] = []
    pending: list[ast._Node] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, ast.BoolOp) and type(current.op) is operator:
            if len(operands) + len(pending) > MAX_TERMS:
                raise BadRequest(f"$filter has more than {MAX_TERMS} conditions.")
            pending.extend((current.right, current.left))
        else:
            operands.append(current)
    return operands


def _flatten(kind: type[AllOf] | type[AnyOf], *parts: Filter) -> tuple[Filter, ...]:
    flat: list[Filter] = []
    for part in parts:
        flat.extend(part.operands if isinstance(part, kind) else (part,))
    return tuple(flat)


def _compare(node: ast.Compare, entity_set: EntitySet, terms: list[int]) -> Filter:
    """``<operand> <op> <literal>`` (either side), ``<operand> in (<literals>)``, or a
    string function compared with ``true``/``false`` (``startswith(name,'A') eq true``)."""
    if isinstance(node.comparator, ast.In):
        return _membership(node, entity_set, terms)
    op = _OPERATORS.get(type(node.comparator))
    if op is None:
        raise BadRequest(f"$filter: the operator {_describe(node.comparator)} is not served.")
    left, right = node.left, node.right
    if isinstance(left, ast._Literal) and not isinstance(right, ast._Literal):
        left, right, op = right, left, _MIRRORED[op]
    if _is_string_function(left) and isinstance(right, ast.Boolean) and op in ("eq", "ne"):
        match = _string_function(left, entity_set)  # type: ignore[arg-type]
        return match if right.py_val == (op == "eq") else Negation(match)
    column, case = _operand(left, entity_set)
    if _is_operand(right):
        raise BadRequest("$filter: comparing two properties is not served.")
    if not isinstance(right, ast._Literal):
        raise BadRequest(f"$filter: {_describe(right)} is not a value.")
    value = from_literal(column, right)
    if value is None and op not in ("eq", "ne"):
        raise BadRequest(f"$filter: {column.name} {op} null compares nothing; use eq or ne.")
    return Comparison(column.name, op, value, case)


def _membership(node: ast.Compare, entity_set: EntitySet, terms: list[int]) -> AnyOf:
    """``name in ('a','b')`` (OData 4.01): ``name eq 'a' or name eq 'b'``."""
    column, case = _operand(node.left, entity_set)
    if not isinstance(node.right, ast.List) or not node.right.val:
        raise BadRequest("$filter: in takes a parenthesised list of values: p in ('a','b').")
    terms[0] += len(node.right.val) - 1
    if terms[0] > MAX_TERMS:
        raise BadRequest(f"$filter has more than {MAX_TERMS} conditions.")
    return AnyOf(
        tuple(Comparison(column.name, "eq", from_literal(column, v), case) for v in node.right.val)
    )


def _string_function(node: ast.Call, entity_set: EntitySet) -> StringMatch:
    name = node.func.name.lower()
    args = list(node.args)
    if name not in _STRING_FUNCTIONS:
        raise BadRequest(f"$filter: the function {node.func.name} is not served.")
    if len(args) != 2 or not _is_operand(args[0]):
        raise BadRequest(f"$filter: {name} takes a property and a string.")
    column, case = _operand(args[0], entity_set)
    if column.type != "string":
        raise BadRequest(f"$filter: {name} needs a string property; {column.name} is not one.")
    if not isinstance(args[1], ast.String):
        raise BadRequest(f"$filter: {name}'s second argument must be a string literal.")
    return StringMatch(name, column.name, args[1].val, case)  # type: ignore[arg-type]


def _is_operand(node: object) -> bool:
    """A property, or ``tolower``/``toupper`` of one."""
    if isinstance(node, ast.Identifier):
        return True
    return isinstance(node, ast.Call) and node.func.name.lower() in _CASE_FUNCTIONS


def _is_string_function(node: object) -> bool:
    return isinstance(node, ast.Call) and node.func.name.lower() in _STRING_FUNCTIONS


def _operand(node: ast._Node, entity_set: EntitySet) -> tuple[Column, CaseFunction | None]:
    """The column a comparison reads, and the case function applied to it (None if none).

    :raises BadRequest: anything but a property or ``tolower``/``toupper`` of a string one.
    """
    if isinstance(node, ast.Identifier):
        return _column(node, entity_set), None
    if not _is_operand(node):
        raise BadRequest(f"$filter: compare a property with a value, not {_describe(node)}.")
    assert isinstance(node, ast.Call)
    case: CaseFunction = "tolower" if node.func.name.lower() == "tolower" else "toupper"
    args = list(node.args)
    if len(args) != 1 or not isinstance(args[0], ast.Identifier):
        raise BadRequest(f"$filter: {case} takes one property.")
    column = _column(args[0], entity_set)
    if column.type != "string":
        raise BadRequest(f"$filter: {case} needs a string property; {column.name} is not one.")
    return column, case


def _column(node: ast.Identifier, entity_set: EntitySet) -> Column:
    if node.namespace:
        dotted = ".".join((*node.namespace, node.name))[:80]
        raise BadRequest(f"$filter: {dotted} is not a property of {entity_set.name}.")
    column = entity_set.column(node.name)
    if column is None:
        raise BadRequest(f"$filter: {entity_set.name} has no property {node.name[:80]!r}.")
    return column


def _describe(node: object) -> str:
    if isinstance(node, ast.Call):
        return f"the function {node.func.name[:40]}"
    return type(node).__name__.lower()


def _where(token: object) -> str:
    index = getattr(token, "index", None)
    value = str(getattr(token, "value", ""))[:20]
    return f"position {index} ({value!r})" if index is not None else repr(value)
