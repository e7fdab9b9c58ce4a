"""A parser for the SOQL subset a sync engine sends (SOQL and SOSL Reference).

Grammar::

    query      := SELECT select FROM object [WHERE condition]
                  [ORDER BY order (, order)*] [LIMIT n] [OFFSET n]
    select     := COUNT() | COUNT(field) [alias] | field (, field)*
    condition  := unary (AND unary)* | unary (OR unary)*     -- mixing needs parentheses
    unary      := NOT unary | ( condition ) | comparison
    comparison := field (= | != | <> | < | <= | > | >=) value
                | field [NOT] IN ( value (, value)* ) | field LIKE 'pattern'
    value      := 'string' | number | TRUE | FALSE | NULL | 2024-01-01
                | 2024-01-01T00:00:00Z | 2024-01-01T00:00:00.000+0000 | ...+01:00
    order      := field [ASC | DESC] [NULLS FIRST | NULLS LAST]

Keywords are case-insensitive; strings take single quotes with the escapes ``\\' \\" \\\\
\\n \\r \\t \\b \\f \\uXXXX`` (and ``\\% \\_`` inside LIKE). Errors carry Salesforce's
message layout: the query line, a caret, ``ERROR at Row:1:Column:N`` and the reason.

Why not a library: ``python-soql-parser`` (last release 2023) needs explicit ASC/DESC and has
no error positions; ``sqlglot`` parses SQL, which has no unquoted datetime literals and allows
AND/OR mixing that SOQL rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from standins.salesforce import sftime
from standins.salesforce.errors import ApiError

LiteralKind = Literal["string", "number", "boolean", "null", "date", "datetime"]

KEYWORDS = frozenset({
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "GROUP", "HAVING",
    "WITH", "FOR", "USING", "INCLUDES", "EXCLUDES", "TYPEOF",
})
UNSUPPORTED = frozenset({"GROUP", "HAVING", "WITH", "FOR", "USING", "INCLUDES", "EXCLUDES",
                         "TYPEOF"})
COMPARISONS = ("=", "!=", "<>", "<=", ">=", "<", ">")

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
    |(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])
    |(?P<quote>')""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'",
            "\\": "\\"}


@dataclass(frozen=True)
class Token:
    """One lexical token; ``pos`` is its offset in the query text."""

    kind: str
    text: str
    pos: int
    value: Any = None
    like: str | None = None


@dataclass(frozen=True)
class FieldRef:
    """A field named in the query, as written."""

    name: str
    pos: int


@dataclass(frozen=True)
class Value:
    """A literal: its kind, its Python value, and (for strings) its LIKE pattern form."""

    kind: LiteralKind
    value: Any
    pos: int
    like: str | None = None


@dataclass(frozen=True)
class Comparison:
    """``field op value``; op is one of = != < <= > >= LIKE IN NOT IN."""

    field: FieldRef
    op: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Junction:
    """``AND`` or ``OR`` over two or more conditions."""

    op: str
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    """``NOT condition``."""

    item: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True)
class OrderItem:
    """One ``ORDER BY`` term; ``nulls_last`` is None when the query leaves it to the default."""

    field: FieldRef
    descending: bool
    nulls_last: bool | None


@dataclass(frozen=True)
class Count:
    """``COUNT()`` (field None) or ``COUNT(field) [alias]``."""

    field: FieldRef | None
    alias: str | None


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    text: str
    fields: tuple[FieldRef, ...]
    count: Count | None
    sobject: str
    sobject_pos: int
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def error(text: str, pos: int, detail: str, code: str = "MALFORMED_QUERY") -> ApiError:
    """A 400 in Salesforce's query-error layout, pointing at offset ``pos`` of ``text``."""
    pos = min(pos, len(text))
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    message = f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{detail}"
    return ApiError(400, code, message)


def _read_string(text: str, start: int) -> tuple[Token, int]:
    """Read a quoted string starting at the quote; return the token and the end offset."""
    plain: list[str] = []
    like: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "'":
            return Token("string", text[start : i + 1], start, "".join(plain), "".join(like)), i + 1
        if char != "\\":
            plain.append(char)
            like.append(char)
            i += 1
            continue
        escape = text[i + 1 : i + 2]
        if escape in ("%", "_"):
            plain.append(escape)
            like.append("\\" + escape)
            i += 2
        elif escape in _ESCAPES:
            plain.append(_ESCAPES[escape])
            like.append("\\\\" if escape == "\\" else _ESCAPES[escape])
            i += 2
        elif escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            char = chr(int(text[i + 2 : i + 6], 16))
            plain.append(char)
            like.append("\\" + char if char in "%_\\" else char)
            i += 6
        else:
            raise error(text, i, "Invalid string literal. Illegal character sequence '\\"
                        f"{escape}' in string literal.")
    raise error(text, start, "Invalid string literal. Missing closing quote.")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens, ending with an ``eof`` token."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        if not match:
            raise error(text, i, f"unexpected token: '{text[i]}'")
        kind = match.lastgroup or ""
        if kind == "quote":
            token, i = _read_string(text, i)
            tokens.append(token)
            continue
        i = match.end()
        if kind != "ws":
            tokens.append(Token(kind, match.group(), match.start()))
    tokens.append(Token("eof", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def fail(self, token: Token | None = None) -> ApiError:
        token = token or self.token
        if token.kind == "eof":
            return error(self.text, token.pos, "unexpected token: <EOF>")
        if token.kind == "ident" and token.text.upper() in UNSUPPORTED:
            return error(self.text, token.pos, f"unexpected token: '{token.text}' "
                         "(this clause is not supported by the Salesforce stand-in)")
        return error(self.text, token.pos, f"unexpected token: '{token.text}'")

    def is_keyword(self, *words: str) -> bool:
        token = self.token
        return token.kind == "ident" and token.text.upper() in words

    def keyword(self, word: str) -> Token:
        if not self.is_keyword(word):
            raise self.fail()
        return self.advance()

    def advance(self) -> Token:
        token = self.token
        self.i += 1
        return token

    def punct(self, char: str) -> bool:
        if self.token.kind == "punct" and self.token.text == char:
            self.i += 1
            return True
        return False

    def expect(self, char: str) -> None:
        if not self.punct(char):
            raise self.fail()

    def field(self) -> FieldRef:
        token = self.token
        if token.kind != "ident" or token.text.upper() in KEYWORDS:
            raise self.fail()
        self.i += 1
        return FieldRef(token.text, token.pos)

    def integer(self) -> int:
        token = self.advance()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def parse(self) -> Query:
        self.keyword("SELECT")
        fields, count = self.select_list()
        self.keyword("FROM")
        sobject = self.advance()
        if sobject.kind != "ident" or "." in sobject.text or sobject.text.upper() in KEYWORDS:
            raise self.fail(sobject)
        where = order = limit = offset = None
        if self.is_keyword("WHERE"):
            self.advance()
            where = self.condition()
        if self.is_keyword("ORDER"):
            self.advance()
            self.keyword("BY")
            order = [self.order_item()]
            while self.punct(","):
                order.append(self.order_item())
        if self.is_keyword("LIMIT"):
            self.advance()
            limit = self.integer()
        if self.is_keyword("OFFSET"):
            self.advance()
            offset = self.integer()
        if self.token.kind != "eof":
            raise self.fail()
        return Query(self.text, tuple(fields), count, sobject.text, sobject.pos, where,
                     tuple(order or ()), limit, offset)

    def select_list(self) -> tuple[list[FieldRef], Count | None]:
        if self.is_keyword("COUNT") and self.tokens[self.i + 1].text == "(":
            self.i += 2
            counted = None if self.token.text == ")" else self.field()
            self.expect(")")
            alias = None
            if counted and self.token.kind == "ident" and self.token.text.upper() not in KEYWORDS:
                alias = self.advance().text
            return [], Count(counted, alias)
        fields = [self.field()]
        while self.punct(","):
            fields.append(self.field())
        return fields, None

    def order_item(self) -> OrderItem:
        field = self.field()
        descending = False
        if self.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_last = None
        if self.is_keyword("NULLS"):
            self.advance()
            if not self.is_keyword("FIRST", "LAST"):
                raise self.fail()
            nulls_last = self.advance().text.upper() == "LAST"
        return OrderItem(field, descending, nulls_last)

    def condition(self) -> Condition:
        items = [self.unary()]
        connective = None
        while self.is_keyword("AND", "OR"):
            word = self.token.text.upper()
            if connective and word != connective:
                raise self.fail()
            connective = word
            self.advance()
            items.append(self.unary())
        return Junction(connective, tuple(items)) if connective else items[0]

    def unary(self) -> Condition:
        if self.is_keyword("NOT"):
            self.advance()
            return Negation(self.unary())
        if self.punct("("):
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        field = self.field()
        token = self.token
        if token.kind == "op":
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(field, op, (self.value(),))
        if self.is_keyword("LIKE"):
            self.advance()
            return Comparison(field, "LIKE", (self.value(),))
        negated = False
        if self.is_keyword("NOT"):
            self.advance()
            negated = True
        if not self.is_keyword("IN"):
            raise self.fail()
        self.advance()
        self.expect("(")
        if self.is_keyword("SELECT"):
            raise error(self.text, self.token.pos, "unexpected token: 'SELECT' "
                        "(semi-joins are not supported by the Salesforce stand-in)")
        values = [self.value()]
        while self.punct(","):
            values.append(self.value())
        self.expect(")")
        return Comparison(field, "NOT IN" if negated else "IN", tuple(values))

    def value(self) -> Value:
        token = self.advance()
        if token.kind == "string":
            return Value("string", token.value, token.pos, token.like)
        if token.kind == "number":
            number = float(token.text)
            return Value("number", int(number) if number.is_integer() else number, token.pos)
        if token.kind == "date":
            try:
                return Value("date", sftime.parse_date(token.text).isoformat(), token.pos)
            except ValueError:
                raise error(self.text, token.pos, f"line 1:{token.pos} no viable alternative "
                            f"at character '{token.text}'") from None
        if token.kind == "datetime":
            try:
                moment = sftime.parse_datetime(token.text)
            except ValueError:
                raise error(self.text, token.pos, f"invalid datetime: {token.text}") from None
            return Value("datetime", sftime.format_datetime(moment), token.pos)
        word = token.text.upper() if token.kind == "ident" else ""
        if word in ("TRUE", "FALSE"):
            return Value("boolean", word == "TRUE", token.pos)
        if word == "NULL":
            return Value("null", None, token.pos)
        raise self.fail(token)


def parse(text: str) -> Query:
    """Parse a SOQL query; raise :class:`ApiError` ``MALFORMED_QUERY`` when it is not valid."""
    return _Parser(text).parse()
