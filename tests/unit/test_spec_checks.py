"""A bad add-on declaration is refused when it is built, with every problem named: before,
plan slugs with spaces, duplicate plans or config vars outside the prefix were served (the
catalog kept the last of two same-slug plans while the adapter enforced the first), a spec
without a default plan had none in the catalog but its first in the API's examples, and no
plan or no region failed with an IndexError deep in startup."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from marketplace.adapters import Setting
from tests.memory import MEMORY_SPEC

SMALL, BIG, _LATER = MEMORY_SPEC.plans

BAD: dict[str, tuple[dict[str, Any], str]] = {
    "plan slug with uppercase and a space": (
        {"plans": (replace(SMALL, slug="Small Plan"), BIG)},
        "plan slug 'Small Plan' must be lowercase letters, digits and dashes",
    ),
    "two plans with one slug": (
        {"plans": (SMALL, replace(BIG, slug="small"))},
        "two plans are called 'small'",
    ),
    "two default plans": (
        {"plans": (SMALL, replace(BIG, default=True))},
        "exactly one plan must be the default, not ['small', 'big']",
    ),
    "no default plan": (
        {"plans": (replace(SMALL, default=False), BIG)},
        "exactly one plan must be the default, not none",
    ),
    "no plan": ({"plans": ()}, "declare at least one plan"),
    "no region": ({"regions": ()}, "declare at least one region"),
    "config var outside the prefix": (
        {"config_vars": ("MEMORY_URL", "REDIS_URL")},
        "config var 'REDIS_URL' must be uppercase and start with 'MEMORY_'",
    ),
    "add-on slug with uppercase": (
        {"slug": "Memory"},
        "the slug must be lowercase letters, digits and dashes",
    ),
    "a limit that is not an integer": (
        {"plans": (replace(SMALL, limits={"items": 2.5}), BIG)},
        "plan 'small' has limits that are not integers: ['items']",
    ),
    "a setting of an unknown kind": (
        {"settings": (Setting("MEMORY_PATH", "/tmp", "Where.", kind="path"),)},
        "setting 'MEMORY_PATH' has kind 'path'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_spec_is_refused_when_built_with_its_problem_named(case):
    changes, problem = BAD[case]
    with pytest.raises(ValueError, match="is invalid") as refused:
        replace(MEMORY_SPEC, **changes)
    assert problem in str(refused.value)


def test_every_problem_is_named_at_once():
    with pytest.raises(ValueError) as refused:
        replace(MEMORY_SPEC, slug="Bad Slug", plans=(SMALL, replace(BIG, slug="small")))
    assert "the slug must" in str(refused.value) and "two plans" in str(refused.value)
