#!/usr/bin/env bash
# Local PostgreSQL 15 (Debian cluster 15/main) on 127.0.0.1:5432, with the adapter's admin role.
# Usage: scripts/services/postgres.sh start|stop|status
#
# Besides the admin role, start sets the cluster up for logical replication (Debezium, see
# scripts/services/CONNECT_NOTES.md): wal_level=logical, enough WAL senders and replication slots,
# a bound on the WAL that slots may hold, and the marketplace_ops database whose one
# SECURITY DEFINER function lets the non-superuser admin create connector roles with REPLICATION.
#
# Environment (all optional):
#   POSTGRES_ADMIN_USER / POSTGRES_ADMIN_PASSWORD  (default marketplace_admin / marketplace-admin-dev)
#   POSTGRES_MAX_REPLICATION_SLOTS   lower bound for max_replication_slots  (default 20)
#   POSTGRES_MAX_WAL_SENDERS         lower bound for max_wal_senders        (default 20)
#   POSTGRES_MAX_SLOT_WAL_KEEP_SIZE  max_slot_wal_keep_size in MB           (default 1024)
set -euo pipefail

ADMIN_USER="${POSTGRES_ADMIN_USER:-marketplace_admin}"
ADMIN_PASSWORD="${POSTGRES_ADMIN_PASSWORD:-marketplace-admin-dev}"
MIN_REPLICATION_SLOTS="${POSTGRES_MAX_REPLICATION_SLOTS:-20}"
MIN_WAL_SENDERS="${POSTGRES_MAX_WAL_SENDERS:-20}"
# Plans sell up to 120 connections (standard-0); the adapter never sells more slots than the
# server has, so the local server has room for a few such tenants.
MIN_CONNECTIONS="${POSTGRES_MAX_CONNECTIONS:-400}"
SLOT_WAL_KEEP_MB="${POSTGRES_MAX_SLOT_WAL_KEEP_SIZE:-1024}"
VERSION=15
CLUSTER=main

log() { printf '[postgres] %s\n' "$*"; }

install_if_missing() {
  if [ -x "/usr/lib/postgresql/$VERSION/bin/postgres" ] && command -v pg_ctlcluster >/dev/null; then
    return
  fi
  log "installing postgresql-$VERSION"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-$VERSION" >/dev/null
}

ensure_cluster() {
  if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$VERSION/$CLUSTER"; then
    log "creating cluster $VERSION/$CLUSTER"
    pg_createcluster "$VERSION" "$CLUSTER" --port 5432 -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  fi
}

is_up() { pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; }

psql_su() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

ensure_admin_role() {
  # CREATEDB + CREATEROLE, never SUPERUSER; pg_signal_backend to end tenant sessions on
  # deprovision, pg_read_all_stats for usage sampling.
  psql_su -v user="$ADMIN_USER" -v password="$ADMIN_PASSWORD" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I LOGIN', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD %L', :'user', :'password') \gexec
SELECT format('GRANT pg_signal_backend, pg_read_all_stats TO %I', :'user') \gexec
SQL
}

setting() { psql_su -At -d postgres -c "SELECT setting FROM pg_settings WHERE name = '$1'"; }

# Logical decoding for Debezium. wal_level, max_replication_slots and max_wal_senders only take
# effect at server start, so the cluster is restarted, once, when one of them has to change; on a
# machine that is already set up nothing is restarted. ALTER SYSTEM writes postgresql.auto.conf,
# which wins over postgresql.conf and conf.d.
ensure_replication_settings() {
  local restart=0
  if [ "$(setting wal_level)" != logical ]; then
    psql_su -d postgres -c "ALTER SYSTEM SET wal_level = logical"; restart=1
  fi
  # Every connector holds one slot and one WAL sender while it streams; tests create many.
  if [ "$(setting max_replication_slots)" -lt "$MIN_REPLICATION_SLOTS" ]; then
    psql_su -d postgres -c "ALTER SYSTEM SET max_replication_slots = $MIN_REPLICATION_SLOTS"; restart=1
  fi
  if [ "$(setting max_wal_senders)" -lt "$MIN_WAL_SENDERS" ]; then
    psql_su -d postgres -c "ALTER SYSTEM SET max_wal_senders = $MIN_WAL_SENDERS"; restart=1
  fi
  if [ "$(setting max_connections)" -lt "$MIN_CONNECTIONS" ]; then
    psql_su -d postgres -c "ALTER SYSTEM SET max_connections = $MIN_CONNECTIONS"; restart=1
  fi
  # A slot keeps every WAL segment from its restart_lsn on, so a paused, failed or abandoned
  # connector (or a slot that outlived its connector) would fill the disk. With a bound, PostgreSQL
  # invalidates such a slot instead (pg_replication_slots.wal_status = 'lost'); its connector then
  # fails and needs a new slot and a new snapshot. Reloadable, no restart needed.
  if [ "$(setting max_slot_wal_keep_size)" != "$SLOT_WAL_KEEP_MB" ]; then
    psql_su -d postgres -c "ALTER SYSTEM SET max_slot_wal_keep_size = '${SLOT_WAL_KEEP_MB}MB'" \
      -c "SELECT pg_reload_conf()" >/dev/null
  fi
  if [ "$restart" = 1 ]; then
    log "restarting cluster $VERSION/$CLUSTER for wal_level=logical, max_replication_slots, max_wal_senders"
    pg_ctlcluster "$VERSION" "$CLUSTER" restart -m fast
  fi
  local level slots senders
  level=$(setting wal_level) slots=$(setting max_replication_slots) senders=$(setting max_wal_senders)
  if [ "$level" != logical ] || [ "$slots" -lt "$MIN_REPLICATION_SLOTS" ] || [ "$senders" -lt "$MIN_WAL_SENDERS" ]; then
    log "ERROR: wal_level=$level max_replication_slots=$slots max_wal_senders=$senders after the restart"
    exit 1
  fi
}

# Connector roles (Debezium's database.user) need the REPLICATION attribute, and on PostgreSQL 15
# only a superuser may create a REPLICATION role or change one (the admin's CREATEROLE is not
# enough, and giving the admin REPLICATION does not help either; see CONNECT_NOTES.md). This
# superuser-owned SECURITY DEFINER function in the superuser-owned database marketplace_ops is the
# one narrow door: it creates, or resets the password of, connector roles with LOGIN
# REPLICATION and nothing else, from a SCRAM verifier (never a plaintext password), and makes the
# caller a member so that the caller can SET ROLE to it (slots), DROP OWNED BY and DROP ROLE it.
# Only the admin role may connect to the database and execute the function. The default connection
# limit, 8, leaves room over what one Debezium 3.6 task holds: 2 JDBC connections and 1 WAL sender,
# plus 1 JDBC connection with heartbeat.action.query.
ensure_ops_database() {
  psql_su -d postgres <<'SQL'
SET client_min_messages = warning;
SELECT 'CREATE DATABASE marketplace_ops OWNER postgres'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'marketplace_ops') \gexec
REVOKE ALL ON DATABASE marketplace_ops FROM PUBLIC;
SQL
  psql_su -d marketplace_ops -v admin="$ADMIN_USER" <<'SQL'
SET client_min_messages = warning;
BEGIN;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS marketplace_ops AUTHORIZATION postgres;
REVOKE ALL ON SCHEMA marketplace_ops FROM PUBLIC;
CREATE OR REPLACE FUNCTION marketplace_ops.create_replication_role(
    role_name text, password_verifier text, connection_limit integer DEFAULT 8)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  r pg_catalog.pg_roles%ROWTYPE;
  tries integer := 0;
BEGIN
  -- Connector roles are <prefix>c_<tail>: any broker prefix that starts with mkt_ (tests use
  -- mkt_t1a2b3c4_), then the segment c, then one segment without '_'. Tenant owner roles are
  -- <prefix>u_<hex>: their next-to-last segment is u, never c, so they cannot match.
  IF role_name IS NULL OR length(role_name) > 63
     OR role_name !~ '^mkt_([a-z0-9]+_)*c_[a-z0-9]+$' THEN
    RAISE EXCEPTION 'not a connector role name: %', coalesce(quote_literal(role_name), 'NULL')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'mkt_, optional segments of a-z and 0-9 each ending in _, then c_ and a-z/0-9 (at most 63 characters)';
  END IF;
  IF password_verifier IS NULL OR password_verifier !~
      '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$' THEN
    RAISE EXCEPTION 'password_verifier is not a SCRAM-SHA-256 verifier'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'send a verifier (libpq PQencryptPasswordConn, psycopg pgconn.encrypt_password), never the password';
  END IF;
  IF connection_limit IS NULL OR connection_limit NOT BETWEEN 1 AND 20 THEN
    RAISE EXCEPTION 'connection_limit must be between 1 and 20' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  LOOP
    SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = role_name;
    EXIT WHEN FOUND;
    BEGIN
      EXECUTE format('CREATE ROLE %I LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE'
                     ' NOBYPASSRLS NOINHERIT CONNECTION LIMIT %s PASSWORD %L',
                     role_name, connection_limit, password_verifier);
      r := NULL;
      EXIT;
    EXCEPTION WHEN duplicate_object THEN  -- created concurrently: check it, then update it
      tries := tries + 1;
      IF tries > 3 THEN RAISE; END IF;
    END;
  END LOOP;
  IF r.rolname IS NOT NULL THEN
    -- Only ever touch connector roles: never a superuser or any role with other powers.
    IF r.rolsuper OR NOT r.rolreplication OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls THEN
      RAISE EXCEPTION 'role % exists and is not a connector role', quote_ident(role_name)
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN CONNECTION LIMIT %s PASSWORD %L',
                   role_name, connection_limit, password_verifier);
  END IF;
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN
    EXECUTE format('GRANT %I TO %I', role_name, session_user);
  END IF;
END
$fn$;
COMMENT ON FUNCTION marketplace_ops.create_replication_role(text, text, integer) IS
  'Create (or reset the password and connection limit of) a LOGIN REPLICATION connector role (mkt_..._c_<tail>), '
  'from a SCRAM-SHA-256 verifier, and make the caller a member. Installed by scripts/services/postgres.sh.';
REVOKE ALL ON FUNCTION marketplace_ops.create_replication_role(text, text, integer) FROM PUBLIC;
SELECT format('GRANT CONNECT ON DATABASE marketplace_ops TO %I', :'admin') \gexec
SELECT format('GRANT USAGE ON SCHEMA marketplace_ops TO %I', :'admin') \gexec
SELECT format('GRANT EXECUTE ON FUNCTION marketplace_ops.create_replication_role(text, text, integer) TO %I', :'admin') \gexec
COMMIT;
SQL
}

wait_ready() {
  local deadline=$((SECONDS + 60))
  until PGPASSWORD="$ADMIN_PASSWORD" psql -X -q -h 127.0.0.1 -p 5432 -U "$ADMIN_USER" -d postgres \
      -c 'SELECT 1' >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not ready after 60 s"; tail -n 30 "/var/log/postgresql/postgresql-$VERSION-$CLUSTER.log" || true
      exit 1
    fi
    sleep 0.2
  done
}

# Tenants reach their own database only: nobody but the admin may connect to the maintenance
# database (where every tenant's database and role name could be listed) or to template1 (an idle
# session there would make CREATE DATABASE ... TEMPLATE template1 fail; the adapter copies
# template0 anyway, which refuses all connections).
close_shared_databases() {
  psql_su -d postgres -v admin="$ADMIN_USER" <<'SQL'
SET client_min_messages = warning;
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
SELECT format('GRANT CONNECT ON DATABASE postgres TO %I', :'admin') \gexec
SQL
}

start() {
  install_if_missing
  ensure_cluster
  if ! is_up; then
    log "starting cluster $VERSION/$CLUSTER"
    pg_ctlcluster "$VERSION" "$CLUSTER" start
  fi
  ensure_replication_settings
  ensure_admin_role
  ensure_ops_database
  close_shared_databases
  wait_ready
  log "ready on 127.0.0.1:5432 (admin role $ADMIN_USER)"
}

stop() {
  if command -v pg_ctlcluster >/dev/null && is_up; then
    pg_ctlcluster "$VERSION" "$CLUSTER" stop -m fast
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) is_up ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
