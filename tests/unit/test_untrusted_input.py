"""The edge's JSON decoder and message quoting, without an app."""

from __future__ import annotations

import json

import pytest

from marketplace.errors import quoted
from marketplace.untrusted import MAX_JSON_DEPTH, UntrustedInput, loads_untrusted


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("[" * 5000 + "]" * 5000, "nested"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested"),
        ('{"a": ' + "9" * 4301 + "}", "digits"),
        ('{"a": -' + "9" * 101 + "}", "digits"),
        ('{"a": NaN}', "NaN"),
        ('{"a": -Infinity}', "Infinity"),
        ('{"a": "\\ud800"}', "surrogate"),
        ('{"\\udfff": 1}', "surrogate"),
        ('{"a": ["x\\u0000"]}', "NUL"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
    ],
    ids=[
        "deep-5000",
        "deep-33",
        "4301-digits",
        "101-digits",
        "nan",
        "infinity",
        "surrogate-value",
        "surrogate-key",
        "nul",
        "syntax",
        "not-utf8",
    ],
)
def test_hostile_documents_are_refused_by_name(document, problem):
    with pytest.raises(UntrustedInput) as refused:
        loads_untrusted(document)
    assert problem in str(refused.value)
    assert len(str(refused.value)) < 120


def test_ordinary_documents_load_as_json_does():
    document = {
        "a": [1, 2.5, "é", None, True],
        "b": {"c": "\ud83d\ude00 emoji"},
        "n": int("9" * 100),
    }
    text = json.dumps(document)
    assert loads_untrusted(text) == json.loads(text)
    assert loads_untrusted(b"\xef\xbb\xbf" + text.encode()) == json.loads(text)
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_untrusted(deepest) == json.loads(deepest)


def test_quoted_gives_a_short_escaped_prefix():
    assert quoted("plan") == "'plan'"
    assert quoted("\x1b[31m" + "x" * 100) == repr("\x1b[31m" + "x" * 35) + "…"
    assert len(quoted("y" * 500_000)) < 50
