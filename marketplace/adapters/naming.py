"""Helpers adapters use to name backend objects and make credentials."""

from __future__ import annotations

import hashlib
import secrets
import string

_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 40) -> str:
    """Return a random alphanumeric password (safe in URLs without escaping)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


DEFAULT_NAME_PREFIX = "mkt_"


def backend_name(prefix: str, resource_id: str, length: int = 16) -> str:
    """Derive a stable, opaque backend object name from a resource id.

    The same ``resource_id`` always gives the same name, so retries find earlier work;
    the hash keeps the platform's ids out of names other tenants can list.
    """
    digest = hashlib.sha256(resource_id.encode()).hexdigest()[:length]
    return f"{prefix}{digest}"
