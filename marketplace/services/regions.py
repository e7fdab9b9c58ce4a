"""Region names: requests say ``amazon-web-services::<aws-region>``, manifests say ``us``."""

from __future__ import annotations

from collections.abc import Iterable

_AWS_TO_SHORT = {
    "us-east-1": "us",
    "eu-west-1": "eu",
    "eu-central-1": "frankfurt",
    "us-west-2": "oregon",
    "us-west-1": "california",
    "ap-southeast-1": "singapore",
    "ap-southeast-2": "sydney",
    "ap-northeast-1": "tokyo",
}


def short_region(value: str) -> str:
    """Map a provision request's region to the manifest's short name (unknown stays as is)."""
    provider, _, location = value.partition("::")
    if location and provider == "amazon-web-services":
        return _AWS_TO_SHORT.get(location, location)
    return value


def supported_region(value: str | None, supported: Iterable[str]) -> str | None:
    """Return the short region when the add-on serves it, else None. No value: the first one."""
    regions = list(supported)
    if not value:
        return regions[0]
    short = short_region(value.strip())
    return short if short in regions or "*" in regions else None
