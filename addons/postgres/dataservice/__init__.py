"""Serving a PostgreSQL database's tables as entity sets, with the tenant's own credentials.

The building blocks of the data-service capability (:class:`~marketplace.adapters.DataService`)
for any adapter whose resources reach a Postgres database (Connect's External Objects uses
them through :class:`addons.connect.external_objects.ExternalObjects`):

* :mod:`.catalog` reads tables, views, columns and keys from ``pg_catalog`` and types the
  columns with data.py's portable types;
* :mod:`.statements` turns a checked :class:`~marketplace.adapters.data.Query` or
  :class:`~marketplace.adapters.data.Write` into SQL whose every identifier is quoted with
  :mod:`psycopg.sql` and whose every value is a bound parameter;
* :mod:`.sessions` keeps a small pool of tenant connections (fixed ``search_path``,
  ``TimeZone`` UTC, ``statement_timeout``) and maps database errors to adapter errors.
"""

from addons.postgres.dataservice.catalog import (
    PORTABLE_TYPES,
    TableInfo,
    describe_tables,
    entity_set_name,
)
from addons.postgres.dataservice.sessions import close_idle_connections, tenant_session
from addons.postgres.dataservice.statements import like_escape, select_statements, write_statement

__all__ = [
    "PORTABLE_TYPES",
    "TableInfo",
    "close_idle_connections",
    "describe_tables",
    "entity_set_name",
    "like_escape",
    "select_statements",
    "tenant_session",
    "write_statement",
]
