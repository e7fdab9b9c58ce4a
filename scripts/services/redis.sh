#!/usr/bin/env bash
# Local Redis (Debian's redis-server) on 127.0.0.1:6379 for the job queue (QUEUE_URL=redis://…).
# Usage: scripts/services/redis.sh start|stop|status
#
# * Installs redis-server with apt-get if it is missing, without letting the package start or
#   enable the system service (that one would bind the same port with /etc/redis's config).
# * Runs one server as the `redis` user with its pid file, log and working directory under
#   <repo>/.services/redis (REDIS_STATE_DIR). No persistence: the queue's jobs only point at
#   rows in the broker's store, and the reconciler re-drives anything a lost job left behind.
# * Loopback only, protected mode on. Knobs (env): REDIS_PORT (6379), REDIS_STATE_DIR.
# Exit codes: 0 ok; 1 failure; 2 usage; status: 3 = not running.
set -euo pipefail

SCRIPT_PATH="$(readlink -f -- "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd -- "$(dirname -- "$SCRIPT_PATH")/../.." && pwd -P)"
PORT="${REDIS_PORT:-6379}"
HOST=127.0.0.1
STATE_DIR="${REDIS_STATE_DIR:-$REPO_ROOT/.services/redis}"
PID_FILE="$STATE_DIR/redis.pid"
LOG_FILE="$STATE_DIR/redis.log"
CONF_FILE="$STATE_DIR/redis.conf"
RUN_AS=redis
POLICY_RC=/usr/sbin/policy-rc.d

log() { printf '[redis] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $EUID -ne 0 && "${1:-}" != status ]]; then
  command -v sudo >/dev/null 2>&1 && exec sudo -E -- bash "$SCRIPT_PATH" "$@"
  die "must run as root (needs apt-get and to run the server as the '$RUN_AS' user)"
fi

is_installed() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }

ping() { timeout 2 redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null | grep -qx PONG; }

# pid of our server, if it is alive and really ours (a recycled pid is not).
server_pid() {
  local pid
  [[ -s "$PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]] || return 1
  echo "$pid"
}

install_if_missing() {
  is_installed && return 0
  log "installing redis-server"
  # invoke-rc.d must not start the packaged service during the install.
  local created=0
  if [[ ! -e "$POLICY_RC" ]]; then
    printf '#!/bin/sh\n# temporary, from %s\nexit 101\n' "$0" >"$POLICY_RC"
    chmod 0755 "$POLICY_RC"
    created=1
    trap 'rm -f "$POLICY_RC"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  if [[ $created -eq 1 ]]; then rm -f "$POLICY_RC"; trap - EXIT; fi
  is_installed || die "redis-server still missing after apt-get"
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now redis-server.service >/dev/null 2>&1 || true
  fi
  getent passwd "$RUN_AS" >/dev/null || RUN_AS=root
}

write_config() {
  mkdir -p "$STATE_DIR"
  cat >"$CONF_FILE" <<EOF
# Written by scripts/services/redis.sh; edits are overwritten on start.
bind $HOST
port $PORT
protected-mode yes
daemonize yes
pidfile $PID_FILE
logfile $LOG_FILE
dir $STATE_DIR
save ""
appendonly no
EOF
  getent passwd "$RUN_AS" >/dev/null || RUN_AS=root
  chown -R "$RUN_AS:" "$STATE_DIR"
}

start() {
  install_if_missing
  if server_pid >/dev/null && ping; then
    log "already running on $HOST:$PORT (pid $(server_pid))"
    return 0
  fi
  if ping; then
    die "something else answers on $HOST:$PORT; stop it or set REDIS_PORT"
  fi
  write_config
  rm -f "$PID_FILE"
  log "starting on $HOST:$PORT (state in $STATE_DIR)"
  runuser -u "$RUN_AS" -- redis-server "$CONF_FILE"
  local deadline=$((SECONDS + 30))
  until ping; do
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "not answering after 30 s"
    fi
    sleep 0.1
  done
  log "ready on redis://$HOST:$PORT/0 (pid $(server_pid || echo '?'))"
}

stop() {
  local pid
  if ! pid="$(server_pid)"; then
    log "not running"
    rm -f "$PID_FILE"
    return 0
  fi
  redis-cli -h "$HOST" -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  if ping; then
    echo "running: redis://$HOST:$PORT/0 (pid $(server_pid || echo 'not ours')), state $STATE_DIR"
    return 0
  fi
  echo "not running"
  return 3
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
