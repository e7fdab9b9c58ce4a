"""What makes an add-on's declaration valid, checked when it is built (at import, so a bad
spec stops the broker at startup with every problem named, not a request later).

The rules are the platform's (slugs, config var names and prefixes it accepts in a manifest,
exactly one default plan) and the core's (one plan per slug, integer limits, known setting
kinds).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marketplace.adapters.values import AddonSpec

ADDON_SLUG = re.compile(r"[a-z][a-z0-9-]*")
PLAN_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
CONFIG_VAR = re.compile(r"[A-Z][A-Z0-9_]*")
SETTING_KINDS = frozenset({"str", "int", "float", "bool", "list", "dict"})


def spec_problems(spec: AddonSpec) -> list[str]:
    """Every rule ``spec`` breaks, as sentences its author can act on ([] when valid)."""
    problems: list[str] = []
    if not ADDON_SLUG.fullmatch(spec.slug):
        problems.append("the slug must be lowercase letters, digits and dashes")
    if not CONFIG_VAR.fullmatch(spec.config_vars_prefix):
        problems.append(
            f"config_vars_prefix {spec.config_vars_prefix!r} must be uppercase letters, "
            "digits and underscores"
        )
    for name in spec.config_vars:
        if not (CONFIG_VAR.fullmatch(name) and name.startswith(f"{spec.config_vars_prefix}_")):
            problems.append(
                f"config var {name!r} must be uppercase and start with "
                f"{spec.config_vars_prefix + '_'!r}"
            )
    if not spec.regions:
        problems.append("declare at least one region")
    problems.extend(_plan_problems(spec))
    for setting in spec.settings:
        if setting.kind not in SETTING_KINDS:
            problems.append(
                f"setting {setting.env!r} has kind {setting.kind!r}; "
                f"use one of {', '.join(sorted(SETTING_KINDS))}"
            )
    return problems


def _plan_problems(spec: AddonSpec) -> list[str]:
    if not spec.plans:
        return ["declare at least one plan"]
    problems: list[str] = []
    seen: set[str] = set()
    for plan in spec.plans:
        if not PLAN_SLUG.fullmatch(plan.slug):
            problems.append(f"plan slug {plan.slug!r} must be lowercase letters, digits and dashes")
        if plan.slug in seen:
            problems.append(f"two plans are called {plan.slug!r}")
        seen.add(plan.slug)
        if plan.price_cents < 0:
            problems.append(f"plan {plan.slug!r} has a negative price")
        bad = sorted(k for k, v in plan.limits.items() if type(v) is not int)
        if bad:
            problems.append(f"plan {plan.slug!r} has limits that are not integers: {bad}")
    defaults = [plan.slug for plan in spec.plans if plan.default]
    if len(defaults) != 1:
        problems.append(f"exactly one plan must be the default, not {defaults or 'none'}")
    return problems
