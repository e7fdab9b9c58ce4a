"""``$search``: OData 4.0's search expression (URL Conventions 5.1.7; ABNF ``searchExpr``),
turned into data.py's filter tree with :class:`~marketplace.adapters.data.SearchTerm` leaves.

* a word or a double-quoted phrase (``\\"`` and ``\\\\`` escapes inside) is a term: a row
  matches when one of its string properties contains it, ignoring case;
* terms next to each other, or joined by ``AND``, must all match; ``OR`` takes either;
  ``NOT`` negates the term or group after it; parentheses group. Precedence: ``NOT``, then
  ``AND``, then ``OR``. Only the upper-case words are operators (``black or white`` is three
  words).

Salesforce Connect sends the user's search as words with punctuation removed (``Sales &
Marketing`` arrives as ``Sales Marketing``), so words are matched each on their own, as the
grammar says, never as one phrase.
"""

from __future__ import annotations

import re

from marketplace.adapters.data import AllOf, AnyOf, Filter, Negation, SearchTerm
from marketplace.errors import BadRequest

MAX_SEARCH_LENGTH = 500
MAX_SEARCH_TERMS = 32
MAX_SEARCH_DEPTH = 16
_TOKENS = re.compile(
    r'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<phrase>(?:[^"\\]|\\.)*)"|(?P<word>[^\s()"]+))'
)
_OPERATORS = ("AND", "OR", "NOT")


def parse_search(text: str) -> Filter | None:
    """The filter of ``$search=text``; None when it holds no term (blank).

    :raises BadRequest: too long, too many terms, unbalanced, or an operator without its
        operand; the message says which.
    """
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadRequest(f"$search is longer than {MAX_SEARCH_LENGTH} characters.")
    tokens = _tokenize(text)
    if not tokens:
        return None
    if sum(1 for kind, _ in tokens if kind == "term") > MAX_SEARCH_TERMS:
        raise BadRequest(f"$search has more than {MAX_SEARCH_TERMS} terms.")
    parser = _Parser(tokens)
    result = parser.any_of(0)
    if parser.position != len(tokens):
        raise BadRequest("$search is malformed: a ')' has no '('.")
    return result


def _tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs: ``(``, ``)``, ``AND``/``OR``/``NOT``, or ``term``."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKENS.match(text, position)
        if match is None:  # an unclosed double quote
            raise BadRequest("$search is malformed: a phrase's closing '\"' is missing.")
        position = match.end()
        if match.group("open"):
            tokens.append(("(", "("))
        elif match.group("close"):
            tokens.append((")", ")"))
        elif match.group("phrase") is not None:
            phrase = re.sub(r"\\(.)", r"\1", match.group("phrase"))
            if not phrase:
                raise BadRequest('$search: an empty phrase ("") matches nothing.')
            tokens.append(("term", phrase))
        else:
            word = match.group("word")
            tokens.append((word, word) if word in _OPERATORS else ("term", word))
    return tokens


class _Parser:
    """Recursive descent over the tokens: ``OR`` of ``AND`` of ``NOT``-able operands."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def any_of(self, depth: int) -> Filter:
        operands = [self.all_of(depth)]
        while self._peek() == "OR":
            self.position += 1
            operands.append(self.all_of(depth))
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def all_of(self, depth: int) -> Filter:
        operands = [self.operand(depth)]
        while self._peek() not in (None, ")", "OR"):
            if self._peek() == "AND":
                self.position += 1
            operands.append(self.operand(depth))
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def operand(self, depth: int) -> Filter:
        if depth > MAX_SEARCH_DEPTH:
            raise BadRequest("$search is nested too deeply.")
        kind = self._peek()
        if kind is None or kind in (")", "AND", "OR"):
            where = "its end" if kind is None else repr(kind)
            raise BadRequest(f"$search is malformed: a term is missing before {where}.")
        value = self.tokens[self.position][1]
        self.position += 1
        if kind == "NOT":
            return Negation(self.operand(depth + 1))
        if kind == "(":
            inner = self.any_of(depth + 1)
            if self._peek() != ")":
                raise BadRequest("$search is malformed: a '(' has no ')'.")
            self.position += 1
            return inner
        return SearchTerm(value)

    def _peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None
