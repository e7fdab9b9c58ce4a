#!/usr/bin/env bash
# Local PostgreSQL 15 (Debian cluster 15/main) on 127.0.0.1:5432, with the adapter's admin role.
# Usage: scripts/services/postgres.sh start|stop|status
set -euo pipefail

ADMIN_USER="${POSTGRES_ADMIN_USER:-marketplace_admin}"
ADMIN_PASSWORD="${POSTGRES_ADMIN_PASSWORD:-marketplace-admin-dev}"
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

start() {
  install_if_missing
  ensure_cluster
  if ! is_up; then
    log "starting cluster $VERSION/$CLUSTER"
    pg_ctlcluster "$VERSION" "$CLUSTER" start
  fi
  ensure_admin_role
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
