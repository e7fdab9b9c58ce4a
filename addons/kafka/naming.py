"""Tenant names on the shared cluster, derived from the resource id, and how to recognise them.

A resource's stem is ``<name prefix><16 hex digits of sha256(resource id)>``, for example
``mkt_3f9c2a1b5e6d7a8b``. The stem is the tenant's SCRAM user; the stem plus ``.`` is the
prefix of its topics and consumer groups. Ending the prefix in a delimiter keeps one tenant's
PREFIXED ACLs from matching another's names (``t1`` would match ``t12...``).

:class:`TenantNaming` reads the names of any Kafka object (users, ACL principals and patterns,
quota entities, topics, groups) back into the reconciler's vocabulary: a ``user`` object named
``<stem>`` and a ``prefix`` object named ``<stem>.``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from marketplace.adapters import DEFAULT_NAME_PREFIX, BackendObject, backend_name

HASH_LENGTH = 16
# Users the local Kafka stack relies on (see scripts/services/kafka/NOTES.md): never touched.
RESERVED_USER_PREFIX = "kafka-internal-"

USER_KIND = "user"
PREFIX_KIND = "prefix"


@dataclass(frozen=True)
class TenantNames:
    """The Kafka names of one resource."""

    user: str
    prefix: str

    @property
    def owned(self) -> set[BackendObject]:
        """What the reconciler reports for this tenant's objects."""
        return {BackendObject(USER_KIND, self.user), BackendObject(PREFIX_KIND, self.prefix)}


class TenantNaming:
    """Derives tenant names under one broker prefix and recognises them again."""

    def __init__(self, name_prefix: str = DEFAULT_NAME_PREFIX) -> None:
        # Kafka names allow [a-zA-Z0-9._-] only; any other character of the broker-wide prefix
        # becomes "-" so every adapter can share one BACKEND_NAME_PREFIX setting.
        self.name_prefix = re.sub(r"[^a-zA-Z0-9._-]", "-", name_prefix)
        if self.name_prefix.startswith(RESERVED_USER_PREFIX):
            raise ValueError(f"the name prefix must not start with {RESERVED_USER_PREFIX!r}")
        self._stem = re.compile(rf"^({re.escape(self.name_prefix)}[0-9a-f]{{{HASH_LENGTH}}})")

    def for_resource(self, resource_id: str) -> TenantNames:
        """The names of ``resource_id``'s user and prefix (the same id, the same names)."""
        stem = backend_name(self.name_prefix, resource_id, HASH_LENGTH)
        return TenantNames(user=stem, prefix=f"{stem}.")

    def from_owned(self, owned: BackendObject) -> TenantNames:
        """The tenant behind one of the adapter's ``owned()`` objects.

        :raises ValueError: ``owned`` is not one of this broker's objects.
        """
        bare = owned.name
        match = self._stem.match(bare)
        valid = {USER_KIND: match.group(1), PREFIX_KIND: f"{match.group(1)}."} if match else {}
        if valid.get(owned.kind) != bare:
            raise ValueError(f"{owned} is not an object this broker owns")
        assert match is not None
        stem = match.group(1)
        return TenantNames(user=stem, prefix=f"{stem}.")

    def owned_user(self, user: str) -> BackendObject | None:
        """The ``user`` object when ``user`` is exactly one of our tenant users, else None."""
        match = self._stem.match(user)
        if match is None or match.group(1) != user:
            return None
        return BackendObject(USER_KIND, user)

    def owned_prefix(self, name: str) -> BackendObject | None:
        """The ``prefix`` object ``<stem>.`` when ``name`` (a topic, group or ACL pattern) is
        under one of our tenant prefixes, else None."""
        match = self._stem.match(name)
        if match is None or not name.startswith(f"{match.group(1)}."):
            return None
        return BackendObject(PREFIX_KIND, f"{match.group(1)}.")
