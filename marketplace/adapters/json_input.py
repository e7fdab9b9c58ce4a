"""JSON that came from a client, decoded within bounds so it cannot hurt the broker later.

The broker's edge decodes every request body with it (:mod:`marketplace.untrusted`), and an
adapter decodes with it any JSON it receives inside a string parameter (Connect's mapping
import document). Bounds: at most :data:`MAX_JSON_DEPTH` levels of nesting, integers of at
most :data:`MAX_INTEGER_DIGITS` digits (Python's own limit is a ``ValueError`` whose text
names ``sys.set_int_max_str_digits``), no ``NaN``/``Infinity``, no NUL or lone UTF-16
surrogate in a string, key or value (PostgreSQL text cannot store NUL; a surrogate cannot
be encoded). Messages name the problem and where it is, never the value.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

MAX_JSON_DEPTH = 32
MAX_INTEGER_DIGITS = 100
FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class UntrustedInput(ValueError):
    """Input the broker refuses; ``str(error)`` is safe to show and names no value."""


def loads_bounded(text: str, subject: str = "The JSON body") -> Any:
    """Decode ``text`` as JSON within the bounds above; ``subject`` starts each message
    (``"The document"``).

    :raises UntrustedInput: past a bound.
    :raises ValueError: not JSON at all (a ``json.JSONDecodeError``), for the caller to word.
    """

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
            raise UntrustedInput(
                f"{subject} has a number of more than {MAX_INTEGER_DIGITS} digits."
            )
        return int(digits)

    def constant(name: str) -> NoReturn:
        raise UntrustedInput(f"{subject} holds {name}, which JSON does not allow.")

    try:
        value = json.loads(text, parse_int=integer, parse_constant=constant)
    except RecursionError as error:
        raise UntrustedInput(_too_deep(subject)) from error
    check_json_value(value, subject)
    return value


def check_json_value(value: Any, subject: str = "The JSON body") -> None:
    """Walk a decoded document (without recursion): its depth and every string are checked.

    :raises UntrustedInput: too deep, or a string with NUL or a lone surrogate.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, subject)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise UntrustedInput(_too_deep(subject))
            if isinstance(item, dict):
                for key, inner in item.items():
                    check_text(key, subject)
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)


def check_text(value: str, where: str) -> None:
    """Refuse NUL and lone surrogates in ``value`` (``where`` names its place in messages).

    :raises UntrustedInput: with a message naming ``where`` and the kind of character.
    """
    found = FORBIDDEN_CHARACTERS.search(value)
    if found is None:
        return
    if found.group() == "\x00":
        raise UntrustedInput(f"{where} holds a NUL character, which the broker does not accept.")
    raise UntrustedInput(f"{where} holds a lone UTF-16 surrogate, which is not valid text.")


def _too_deep(subject: str) -> str:
    return f"{subject} is nested more than {MAX_JSON_DEPTH} levels deep."
