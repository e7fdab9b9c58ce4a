"""Provision PostgreSQL databases on a shared server through a non-superuser admin role.

The admin role needs CREATEDB and CREATEROLE, and membership in ``pg_signal_backend`` (to end
tenant sessions on deprovision) and ``pg_read_all_stats`` (to measure usage).

Tenants are hostile: every admin session ignores objects they control (see
:mod:`addons.postgres.connections`), databases are copied from ``template0`` (which nobody can
connect to, so an idle session on ``template1`` blocks nothing), removal undoes whatever state
a tenant put its database or role into (:mod:`addons.postgres.removal`), and the broker never
sells more connection slots than the server has (``POSTGRES_RESERVED_CONNECTIONS`` stay free
for the broker and the server's own use).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from addons.postgres.blockers import execute_past_tenants
from addons.postgres.capacity import connection_room
from addons.postgres.connections import AdminConnections
from addons.postgres.data_connectors import DataConnectorsMixin  # data connectors (issue 15)
from addons.postgres.plans import SPEC
from addons.postgres.removal import drop_database, drop_role
from marketplace.adapters import (
    DEFAULT_NAME_PREFIX,
    BackendObject,
    BackendStatus,
    BackendUnavailable,
    PlanChangeRejected,
    PlanSpec,
    ProvisionRejected,
    ProvisionRequest,
    ProvisionResult,
    ResourceDetails,
    ResourceRef,
    Table,
    Usage,
    UsageMetric,
    backend_name,
    random_password,
)

DEFAULT_RESERVED_CONNECTIONS = 10
# The dashboard's tables. Measuring a table locks it (and its TOAST table and indexes) in
# ACCESS SHARE mode, which a tenant's ACCESS EXCLUSIVE lock, held or awaited, would make wait:
# such a table is shown as locked instead of holding the page up.
_TABLES = """
WITH locked AS MATERIALIZED (
  SELECT l.relation FROM pg_catalog.pg_locks l
   WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.database =
         (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
SELECT pg_catalog.concat(s.schemaname, '.', s.relname), s.n_live_tup,
       CASE WHEN EXISTS (SELECT 1 FROM locked k WHERE k.relation IN (s.relid, c.reltoastrelid)
                            OR k.relation IN (SELECT i.indexrelid FROM pg_catalog.pg_index i
                                               WHERE i.indrelid IN (s.relid, c.reltoastrelid)))
            THEN 'locked'
            ELSE pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(s.relid)) END
  FROM pg_catalog.pg_stat_user_tables s JOIN pg_catalog.pg_class c ON c.oid = s.relid
 ORDER BY 1 LIMIT 200
"""


class PostgresAdapter(DataConnectorsMixin):  # data connectors (issue 15)
    """One database plus one owner role per resource.

    Capabilities: metering, dashboard (details, no actions), rotation, reconciliation.
    """

    spec = SPEC

    def __init__(
        self,
        admin_url: str,
        public_host: str | None = None,
        name_prefix: str = DEFAULT_NAME_PREFIX,
        reserved_connections: int = DEFAULT_RESERVED_CONNECTIONS,
    ) -> None:
        self._connections = AdminConnections(admin_url)
        self._prefix = name_prefix
        self._reserved = reserved_connections
        params = conninfo_to_dict(admin_url)
        self._public_host = (
            public_host or f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
        )

    # --- contract ---------------------------------------------------------------------------

    def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Create role and database (or finish an earlier partial try) and return DATABASE_URL."""
        role, database = (
            self._role_name(request.resource_id),
            self._database_name(request.resource_id),
        )
        password = random_password(40)
        with self._connections.maintenance() as conn:
            self._check_capacity(conn, role, request.plan, ProvisionRejected)
            self._upsert_role(conn, role, password, request.plan)
            with suppress(psycopg.errors.DuplicateDatabase):  # an earlier try got this far
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                        sql.Identifier(database), sql.Identifier(role)
                    )
                )
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
            )
        return ProvisionResult(
            config={"DATABASE_URL": self._url(role, password, database)},
            message="Your PostgreSQL database is ready.",
        )

    def change_plan(self, resource: ResourceRef, new_plan: PlanSpec) -> ProvisionResult:
        """Check the data fits ``new_plan``, then apply its connection limit."""
        self.check_connectors_fit(resource, new_plan)  # data connectors (issue 15)
        usage = self.usage(resource)
        for metric_name in ("storage_bytes", "max_tables"):
            limit = new_plan.limits.get(metric_name)
            metric = usage.metric(metric_name)
            if limit is not None and metric is not None and metric.value > limit:
                raise PlanChangeRejected(
                    f"The database uses {_describe(metric_name, metric.value)}, above the "
                    f"{_describe(metric_name, limit)} limit of plan {new_plan.slug}."
                )
        role = self._role_name(resource.resource_id)
        with self._connections.maintenance() as conn:
            self._check_capacity(conn, role, new_plan, PlanChangeRejected)
            execute_past_tenants(
                conn,
                sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
                    sql.Identifier(role), sql.Literal(int(new_plan.limits["max_connections"]))
                ),
                role=role,
            )
        return ProvisionResult(config={}, message=f"Now on plan {new_plan.slug}.")

    def deprovision(self, resource: ResourceRef) -> None:
        """Drop the database (ending its sessions) and the role; missing objects are fine."""
        self.destroy_all_connectors(resource)  # data connectors (issue 15): before the database
        with self._connections.maintenance() as conn:
            self._drop(conn, resource.resource_id)

    def usage(self, resource: ResourceRef) -> Usage:
        """Database size, open connections and table count against the plan's limits."""
        database = self._database_name(resource.resource_id)
        limits = resource.plan.limits
        # Figures from the server's catalogs and statistics, which tenants cannot write.
        with self._connections.maintenance() as conn:
            size, connections = conn.execute(
                "SELECT pg_catalog.pg_database_size(%(db)s),"
                " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity"
                "  WHERE datname = %(db)s)",
                {"db": database},
            ).fetchone() or (0, 0)
        with self._connections.database(database) as conn:
            row = conn.execute(
                "SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p')"
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND NOT starts_with(n.nspname, 'pg_toast')"
            ).fetchone()
        tables = row[0] if row else 0
        return Usage(
            metrics=(
                UsageMetric("storage_bytes", "Storage", size, limits.get("storage_bytes"), "bytes"),
                UsageMetric(
                    "connections", "Connections", connections, limits.get("max_connections")
                ),
                UsageMetric("max_tables", "Tables", tables, limits.get("max_tables")),
            )
        )

    def rotate_credentials(self, resource: ResourceRef) -> ProvisionResult:
        """Set a new password and end sessions opened with the old one."""
        role, database = (
            self._role_name(resource.resource_id),
            self._database_name(resource.resource_id),
        )
        password = random_password(40)
        with self._connections.maintenance() as conn:
            self._upsert_role(conn, role, password, resource.plan)
            conn.execute(
                "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity"
                " WHERE usename = %s",
                (role,),
            )
        return ProvisionResult(
            config={"DATABASE_URL": self._url(role, password, database)},
            message="Credentials rotated.",
        )

    def details(self, resource: ResourceRef) -> ResourceDetails:
        """Connection facts, a psql line, and the tenant's tables with sizes."""
        database = self._database_name(resource.resource_id)
        host, _, port = self._public_host.rpartition(":")
        with self._connections.database(database) as conn:
            rows = conn.execute(_TABLES).fetchall()
        return ResourceDetails(
            facts=(
                ("Host", host),
                ("Port", port),
                ("Database", database),
                ("User", self._role_name(resource.resource_id)),
                ("Connect", 'psql "$DATABASE_URL"'),
            ),
            tables=(
                Table(
                    "Tables",
                    ("Table", "Rows (estimate)", "Size"),
                    tuple((name, str(count), size) for name, count, size in rows),
                ),
            ),
        )

    def check(self) -> BackendStatus:
        """Connect as the admin role and run a trivial query."""
        try:
            with self._connections.maintenance() as conn:
                version = conn.execute("SHOW server_version").fetchone()
                open_to_all = conn.execute(
                    "SELECT pg_catalog.string_agg(datname, ', ') FROM pg_catalog.pg_database"
                    " WHERE datname IN ('postgres', 'template1')"
                    " AND pg_catalog.has_database_privilege('public', datname, 'CONNECT')",
                ).fetchone()
        except BackendUnavailable as error:
            return BackendStatus(ok=False, detail=error.message)
        detail = f"PostgreSQL {version[0] if version else '?'}"
        if open_to_all and open_to_all[0]:
            detail += f"; warning: every role may connect to {open_to_all[0]}"
        return BackendStatus(ok=True, detail=detail)

    def owned(self) -> list[BackendObject]:
        """Databases and roles that carry the broker's prefix."""
        with self._connections.maintenance() as conn:
            rows = conn.execute(
                "SELECT 'database', datname FROM pg_catalog.pg_database"
                " WHERE starts_with(datname, %(p)s)"
                " UNION ALL SELECT 'role', rolname FROM pg_catalog.pg_roles"
                " WHERE starts_with(rolname, %(p)s)",
                {"p": self._prefix},
            ).fetchall()
        objects = [BackendObject(kind, name) for kind, name in rows]
        objects += self.connector_owned()  # data connectors (issue 15)
        return sorted(objects)

    def objects_of(self, resource: ResourceRef) -> set[BackendObject]:
        """The resource's database and role."""
        return {
            BackendObject("database", self._database_name(resource.resource_id)),
            BackendObject("role", self._role_name(resource.resource_id)),
        } | self.connector_objects_of(resource)  # data connectors (issue 15)

    def remove_orphan(self, orphan: BackendObject) -> None:
        """Drop a database or role with our prefix that no resource owns."""
        if self.remove_connector_orphan(orphan):  # data connectors (issue 15)
            return
        name = orphan.name
        if orphan.kind not in ("database", "role") or not name.startswith(self._prefix):
            raise ValueError(f"{orphan} is not a database or role with this broker's prefix")
        with self._connections.maintenance() as conn:
            if orphan.kind == "database":
                drop_database(conn, name)
                return
            owned = conn.execute(
                "SELECT datname FROM pg_catalog.pg_database d"
                " JOIN pg_catalog.pg_roles r ON r.oid = d.datdba"
                " WHERE r.rolname = %s AND starts_with(d.datname, %s)",
                (name, self._prefix),
            ).fetchall()
            for (database,) in owned:  # a role cannot go while it owns a database
                drop_database(conn, database)
            drop_role(conn, self._connections, name)

    # --- internals --------------------------------------------------------------------------

    def _role_name(self, resource_id: str) -> str:
        return backend_name(f"{self._prefix}u_", resource_id)

    def _database_name(self, resource_id: str) -> str:
        return backend_name(f"{self._prefix}d_", resource_id)

    def _upsert_role(
        self, conn: psycopg.Connection[Any], role: str, password: str, plan: PlanSpec
    ) -> None:
        # Send a SCRAM verifier, never the plaintext: DDL can end up in server logs.
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        # Try CREATE first (the usual case, one round trip); a retry finds the role and updates it.
        attributes = sql.SQL("ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {}").format(
            sql.Identifier(role),
            sql.Literal(verifier.decode()),
            sql.Literal(int(plan.limits["max_connections"])),
        )
        try:
            conn.execute(sql.SQL("CREATE {}").format(attributes))
        except psycopg.errors.DuplicateObject:
            execute_past_tenants(conn, sql.SQL("ALTER {}").format(attributes), role=role)
        # A non-superuser admin must be a member of the role to give it a database (PG 15),
        # and membership lets it measure and drop the tenant's objects later.
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))

    def _drop(self, conn: psycopg.Connection[Any], resource_id: str) -> None:
        drop_database(conn, self._database_name(resource_id))
        drop_role(conn, self._connections, self._role_name(resource_id))

    def _check_capacity(
        self,
        conn: psycopg.Connection[Any],
        role: str,
        plan: PlanSpec,
        refusal: type[ProvisionRejected] | type[PlanChangeRejected],
    ) -> None:
        """Refuse a plan whose connections the server no longer has room for (see
        :func:`~addons.postgres.capacity.connection_room`)."""
        room = connection_room(conn, self._prefix, self._reserved, role)
        wanted = int(plan.limits["max_connections"])
        if wanted > room:
            raise refusal(
                f"This PostgreSQL server has room for {max(room, 0)} more connections; plan "
                f"{plan.slug} needs {wanted}. Try a smaller plan, or ask the operator for "
                "capacity."
            )

    def _url(self, role: str, password: str, database: str) -> str:
        return f"postgres://{quote(role)}:{quote(password)}@{self._public_host}/{quote(database)}"


def _describe(metric_name: str, value: float) -> str:
    if metric_name == "storage_bytes":
        return f"{value / 1024**2:,.1f} MB"
    return f"{int(value)} tables"
