"""External Objects: the Connect resource's database served as an OData 4.0 service.

:class:`ExternalObjects` is the mixin the Connect adapter inherits to offer the data-service
capability (:class:`~marketplace.adapters.DataService`) and the table picker
(:class:`~marketplace.adapters.TableCatalog`). The core's OData blueprint
(:mod:`marketplace.odata`) parses requests, checks every name against the entity sets this
mixin reports and calls :meth:`~ExternalObjects.query` / :meth:`~ExternalObjects.write`.

* The database is the Postgres resource linked as :attr:`ExternalObjects.external_objects_link`
  (``database``), reached with **its current credentials** (``DATABASE_URL`` of the link
  target in the :class:`ResourceRef`), never the broker's admin role.
* The shared tables are ``resource.state["external_objects"]["tables"]`` (``"schema.table"``
  names); the core sets them. Nothing else is ever read or written.
* The SQL, the catalog and the pooled sessions are :mod:`addons.postgres.dataservice`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import ClassVar

from addons.postgres.dataservice import (
    describe_tables,
    entity_set_name,
    select_statements,
    tenant_session,
    write_statement,
)
from addons.postgres.dataservice.sessions import Connection
from marketplace.adapters import BackendUnavailable, ProvisionRejected, ResourceRef
from marketplace.adapters.data import EntitySet, Query, QueryResult, TableCandidate, Write

STATE_KEY = "external_objects"


def shared_tables(resource: ResourceRef) -> list[str]:
    """The ``schema.table`` names the core says are shared (empty when none)."""
    section = resource.state.get(STATE_KEY) or {}
    return [str(name) for name in section.get("tables") or ()]


class ExternalObjects:
    """Mixin: :class:`DataService` + :class:`TableCatalog` over the linked Postgres database.

    Class settings: :attr:`external_objects_link` (the link to the Postgres resource),
    :attr:`statement_timeout_ms` (every statement's limit), :attr:`entity_sets_seconds`
    (how long the catalog's answer is reused).
    """

    external_objects_link: ClassVar[str] = "database"
    statement_timeout_ms: ClassVar[int] = 30_000
    entity_sets_seconds: ClassVar[float] = 5.0

    def table_candidates(self, resource: ResourceRef) -> list[TableCandidate]:
        """Every table and view outside the system schemas, with why it cannot be shared."""
        with self._tenant(resource) as conn:
            described = describe_tables(conn, None)
        return [TableCandidate(info.name, info.kind, info.reason) for info in described.values()]

    def entity_sets(self, resource: ResourceRef) -> list[EntitySet]:
        """The shared tables that still exist and can be shared, in the order shared.

        Read from the catalog at most every :attr:`entity_sets_seconds` per database and
        list of tables (every OData request asks): a column added or dropped shows after
        that long.
        """
        tables = shared_tables(resource)
        if not tables:
            return []
        key = (self._url(resource), tuple(tables))
        now = time.monotonic()
        cached = _ENTITY_SETS.get(key)
        if cached is not None and now - cached[0] < self.entity_sets_seconds:
            return list(cached[1])
        with self._tenant(resource) as conn:
            described = describe_tables(conn, tables)
        found = (described.get(name) for name in tables)
        sets = [info.entity_set for info in found if info is not None and info.entity_set]
        if len(_ENTITY_SETS) > 1000:
            _ENTITY_SETS.clear()
        _ENTITY_SETS[key] = (now, tuple(sets))
        return sets

    def query(self, resource: ResourceRef, entity_set: EntitySet, query: Query) -> QueryResult:
        """Run a structured read: the page, and the count when asked."""
        (page, page_args), count_statement = select_statements(
            self._table(resource, entity_set), entity_set, query
        )
        with self._tenant(resource) as conn:
            rows = conn.execute(page, page_args).fetchall()
            count = None
            if count_statement is not None:
                counted = conn.execute(*count_statement).fetchone()
                count = int(counted["n"]) if counted else 0
        return QueryResult(rows, count)

    def write(
        self, resource: ResourceRef, entity_set: EntitySet, write: Write
    ) -> Mapping[str, object] | None:
        """Insert, update or delete one row (constraint and type errors are refusals)."""
        if not entity_set.writable:
            raise ProvisionRejected(f"{entity_set.name} is a view: it is read-only.")
        statement, args = write_statement(self._table(resource, entity_set), entity_set, write)
        with self._tenant(resource) as conn:
            row: Mapping[str, object] | None = conn.execute(statement, args).fetchone()
        return row

    def _table(self, resource: ResourceRef, entity_set: EntitySet) -> tuple[str, str]:
        for name in shared_tables(resource):
            if entity_set_name(name) == entity_set.name:
                schema, _, table = name.partition(".")
                return schema, table
        raise ProvisionRejected(f"{entity_set.name} is not shared.")

    def _tenant(self, resource: ResourceRef) -> AbstractContextManager[Connection]:
        return tenant_session(self._url(resource), statement_timeout_ms=self.statement_timeout_ms)

    def _url(self, resource: ResourceRef) -> str:
        link = resource.links.get(self.external_objects_link)
        url = link.resource.config.get("DATABASE_URL") if link else None
        if not url:
            raise BackendUnavailable("No database is attached: attach one to share its tables.")
        return url


#: (database URL, shared tables) -> (monotonic time read, entity sets)
_ENTITY_SETS: dict[tuple[str, tuple[str, ...]], tuple[float, tuple[EntitySet, ...]]] = {}


__all__ = ["STATE_KEY", "ExternalObjects", "shared_tables"]
