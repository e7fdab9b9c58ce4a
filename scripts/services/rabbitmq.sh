#!/usr/bin/env bash
# Local dev / CI RabbitMQ for the add-on marketplace broker.
#
#   scripts/services/rabbitmq.sh start|stop|restart|status|logs|ctl <rabbitmqctl args...>
#
# * Installs Debian's rabbitmq-server (3.10.x on Debian 12) with apt-get if it is missing,
#   without letting the package start the system service.
# * Runs one node, rabbit@localhost, as the `rabbitmq` user, with all of its state, config
#   and logs under <repo>/.services/rabbitmq/ (nothing in /etc/rabbitmq or
#   /var/lib/rabbitmq/mnesia is used; only the Erlang cookie in /var/lib/rabbitmq).
# * Listens on loopback only: AMQP 127.0.0.1:5672, management 127.0.0.1:15672,
#   Erlang distribution 127.0.0.1:25672, epmd 127.0.0.1:4369.
# * Ensures an administrator user for the broker's adapter (not guest):
#   RABBITMQ_ADMIN_USERNAME (default marketplace_admin) /
#   RABBITMQ_ADMIN_PASSWORD (default marketplace-admin-dev).
#
# Exit codes: 0 ok; 1 failure; 2 usage; status: 3 = not running, 1 = running but unhealthy.
#
# Other knobs (env): RABBITMQ_AMQP_PORT (5672), RABBITMQ_MANAGEMENT_PORT (15672),
#   RABBITMQ_START_TIMEOUT (seconds, default 120), RABBITMQ_STATE_DIR
#   (default <repo>/.services/rabbitmq).
set -Eeuo pipefail

SCRIPT_PATH="$(readlink -f -- "${BASH_SOURCE[0]}")" # resolve symlinks: repo root is relative to the real file
SCRIPT_DIR="$(dirname -- "$SCRIPT_PATH")"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/../.." && pwd -P)"

ADMIN_USER="${RABBITMQ_ADMIN_USERNAME:-marketplace_admin}"
ADMIN_PASS="${RABBITMQ_ADMIN_PASSWORD:-marketplace-admin-dev}"
AMQP_PORT="${RABBITMQ_AMQP_PORT:-5672}"
MGMT_PORT="${RABBITMQ_MANAGEMENT_PORT:-15672}"
DIST_PORT=$((AMQP_PORT + 20000)) # RabbitMQ's default: AMQP port + 20000
START_TIMEOUT="${RABBITMQ_START_TIMEOUT:-120}"
STATE_DIR="${RABBITMQ_STATE_DIR:-$REPO_ROOT/.services/rabbitmq}"
NODENAME="rabbit@localhost"
HOST="127.0.0.1"

RMQ_USER="rabbitmq"
RMQ_HOME="/var/lib/rabbitmq" # rabbitmq user's home: holds .erlang.cookie shared by server + CLI
RMQ_BIN="/usr/lib/rabbitmq/bin"

CONF_FILE="$STATE_DIR/rabbitmq.conf"
PLUGINS_FILE="$STATE_DIR/enabled_plugins"
LOG_DIR="$STATE_DIR/log"
MNESIA_BASE="$STATE_DIR/mnesia"
PID_FILE="$STATE_DIR/rabbitmq.pid"
NODE_LOG="$LOG_DIR/$NODENAME.log"
STARTUP_OUT="$LOG_DIR/startup_log"
STARTUP_ERR="$LOG_DIR/startup_err"
API="http://$HOST:$MGMT_PORT/api"

log() { printf '[rabbitmq] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# privileges
# ---------------------------------------------------------------------------------------------
# (status and logs work unprivileged; everything else needs root)
if [[ $EUID -ne 0 && "${1:-}" != status && "${1:-}" != logs ]]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -E -- bash "$SCRIPT_PATH" "$@"
    fi
    die "must run as root (needs apt-get and to run the broker as the '$RMQ_USER' user)"
fi

# Controlled environment for every RabbitMQ process (server and CLI tools). `env -i` keeps
# stray RABBITMQ_* / ERL_* variables of the caller (and /etc/rabbitmq/rabbitmq-env.conf)
# from changing the node; both sides must agree on node name, cookie (HOME) and files.
# setpriv (util-linux) switches to the rabbitmq user and execs in place, so no parent
# process lingers (unlike su/runuser, which the Debian /usr/sbin wrappers use).
AS_RMQ=(env -i
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    HOME="$RMQ_HOME" LANG=C.UTF-8 LC_ALL=C.UTF-8
    RABBITMQ_NODENAME="$NODENAME"
    RABBITMQ_CONFIG_FILE="$CONF_FILE"
    RABBITMQ_ADVANCED_CONFIG_FILE="$STATE_DIR/advanced.config"
    RABBITMQ_CONF_ENV_FILE="$STATE_DIR/rabbitmq-env.conf"
    RABBITMQ_ENABLED_PLUGINS_FILE="$PLUGINS_FILE"
    RABBITMQ_MNESIA_BASE="$MNESIA_BASE"
    RABBITMQ_LOG_BASE="$LOG_DIR"
    RABBITMQ_PID_FILE="$PID_FILE"
    RABBITMQ_DIST_PORT="$DIST_PORT"
    ERL_EPMD_ADDRESS=127.0.0.1
    setpriv --reuid="$RMQ_USER" --regid="$RMQ_USER" --init-groups --)

# Run a command as the rabbitmq user, from a directory it can read.
as_rmq() {
    (cd "$STATE_DIR" 2>/dev/null || cd "$RMQ_HOME"; exec "${AS_RMQ[@]}" "$@" 9>&-)
}

ctl() { as_rmq "$RMQ_BIN/rabbitmqctl" "$@"; }

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' rabbitmq-server 2>/dev/null || true)" == installed ]] &&
        [[ -x "$RMQ_BIN/rabbitmq-server" ]] && getent passwd "$RMQ_USER" >/dev/null
}

# alive = exists and is not a zombie (in containers whose PID 1 does not reap orphans,
# exited daemons linger as zombies and `kill -0` still succeeds on them)
pid_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# pid of our beam.smp if it is alive (from the pid file RabbitMQ writes at boot)
node_pid() {
    local pid
    [[ -s "$PID_FILE" ]] || return 1
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" ]] && pid_alive "$pid" || return 1
    # guard against a recycled pid: it must be a beam started with our pid file
    # (the mnesia dir etc. are not on the command line in 3.10, but in the environment)
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == beam* ]] || return 1
    grep -qzx -- "RABBITMQ_PID_FILE=$PID_FILE" "/proc/$pid/environ" 2>/dev/null || return 1
    echo "$pid"
}

# HTTP status code of an authenticated management API GET ("000" when nothing answers)
api_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time "${2:-3}" \
        -u "$ADMIN_USER:$ADMIN_PASS" "$API/$1" 2>/dev/null || true
}
api_get() { curl -fsS --max-time 3 -u "$ADMIN_USER:$ADMIN_PASS" "$API/$1"; }

healthy() { [[ "$(api_code overview 2)" == 200 ]]; }

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Print log tails, freshest last: the node log (skipped when this boot never reached it, i.e.
# it is older than startup_log, which is truncated at launch), then startup_log/startup_err,
# which hold early boot output such as "BOOT FAILED" from config errors.
show_logs() {
    local n="${1:-60}" all="${2:-}" f
    for f in "$NODE_LOG" "$STARTUP_OUT" "$STARTUP_ERR"; do
        [[ -s "$f" ]] || continue
        if [[ "$f" == "$NODE_LOG" && -z "$all" && -e "$STARTUP_OUT" && ! "$f" -nt "$STARTUP_OUT" ]]; then
            continue
        fi
        printf '\n----- tail -n %s %s -----\n' "$n" "$f" >&2
        tail -n "$n" "$f" >&2
    done
    printf '\n' >&2
}

# Is our node registered with epmd (i.e. has Erlang distribution started)? `epmd -names` is a
# tiny C client: unlike rabbitmqctl it neither takes a second nor spawns an epmd daemon.
epmd_has_node() {
    command -v epmd >/dev/null 2>&1 || return 0 # cannot tell; let rabbitmqctl find out
    ERL_EPMD_ADDRESS=127.0.0.1 timeout 5 epmd -names 2>/dev/null | grep -q "^name ${NODENAME%@*} at port"
}

# Stop a lingering epmd if (and only if) no Erlang node is registered with it any more.
# RabbitMQ and every CLI call start epmd on demand; it would otherwise stay running.
cleanup_epmd() {
    command -v epmd >/dev/null 2>&1 || return 0
    local names
    names="$(ERL_EPMD_ADDRESS=127.0.0.1 timeout 5 epmd -names 2>/dev/null)" || return 0
    if ! grep -q '^name ' <<<"$names"; then
        ERL_EPMD_ADDRESS=127.0.0.1 timeout 5 epmd -kill >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_BACKUP=""
POLICY_RC_CREATED=0
restore_policy_rc() {
    if [[ $POLICY_RC_CREATED -eq 1 ]]; then
        rm -f "$POLICY_RC"
        [[ -n "$POLICY_RC_BACKUP" ]] && mv -f "$POLICY_RC_BACKUP" "$POLICY_RC"
        POLICY_RC_CREATED=0
    fi
}

# Make invoke-rc.d refuse to start services while we install (Docker images already ship a
# policy-rc.d that exits 101; elsewhere install a temporary one and restore afterwards).
block_service_start() {
    if [[ -x "$POLICY_RC" ]]; then
        local rc=0
        "$POLICY_RC" rabbitmq-server start >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 101 ]] && return 0
        POLICY_RC_BACKUP="$(mktemp "$POLICY_RC.rabbitmq-sh.XXXXXX")"
        mv -f "$POLICY_RC" "$POLICY_RC_BACKUP"
    fi
    POLICY_RC_CREATED=1
    trap restore_policy_rc EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    printf '#!/bin/sh\n# temporary, from %s\nexit 101\n' "$0" >"$POLICY_RC"
    chmod 0755 "$POLICY_RC"
}

apt_install() {
    local -a opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    local candidate
    candidate="$(apt-cache policy "$@" 2>/dev/null | awk '/Candidate:/ {print $2}' | sort -u)"
    if [[ -z "$candidate" || "$candidate" == *"(none)"* ]]; then
        log "apt-get update (no install candidate for: $*)"
        apt-get update -q -o DPkg::Lock::Timeout=300 >&2
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >&2; then
        log "apt-get install failed; retrying after apt-get update"
        apt-get update -q -o DPkg::Lock::Timeout=300 >&2
        DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >&2
    fi
}

ensure_installed() {
    local -a pkgs=()
    is_installed || pkgs+=(rabbitmq-server)
    command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
    [[ ${#pkgs[@]} -eq 0 ]] && return 0

    log "installing: ${pkgs[*]}"
    block_service_start
    apt_install "${pkgs[@]}"
    restore_policy_rc
    is_installed || die "rabbitmq-server still not installed after apt-get"

    # On a systemd machine the package enables rabbitmq-server.service (default config, all
    # interfaces, same ports). It would clash with this node after a reboot: disable it.
    if [[ " ${pkgs[*]} " == *" rabbitmq-server "* && -d /run/systemd/system ]] &&
        command -v systemctl >/dev/null 2>&1; then
        log "disabling the system rabbitmq-server.service (this script runs its own node)"
        systemctl disable --now rabbitmq-server.service >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------------------------------------
# state dir, config, plugins
# ---------------------------------------------------------------------------------------------
prepare_state() {
    mkdir -p "$STATE_DIR" "$LOG_DIR" "$MNESIA_BASE"
    # runtime state only: keep it out of git even if the repo's .gitignore does not cover it
    [[ -e "$STATE_DIR/.gitignore" ]] || printf '*\n' >"$STATE_DIR/.gitignore"

    # the broker runs as $RMQ_USER: it must reach and write the state dir
    chown -R "$RMQ_USER:$RMQ_USER" "$STATE_DIR"
    if ! setpriv --reuid="$RMQ_USER" --regid="$RMQ_USER" --init-groups -- \
        test -w "$STATE_DIR" -a -x "$MNESIA_BASE"; then
        die "user '$RMQ_USER' cannot write $STATE_DIR (a parent directory is not world-searchable?)." \
            "Set RABBITMQ_STATE_DIR to a directory it can reach, e.g. /var/lib/rabbitmq/dev"
    fi

    local tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
# Generated by scripts/services/rabbitmq.sh on every start -- edits are overwritten.
listeners.tcp.default = $HOST:$AMQP_PORT
listeners.ssl = none
management.tcp.ip = $HOST
management.tcp.port = $MGMT_PORT
distribution.listener.interface = $HOST
distribution.listener.port_range.min = $DIST_PORT
distribution.listener.port_range.max = $DIST_PORT
loopback_users.guest = true
log.file.level = info
log.console = false
log.file.rotation.size = 10485760
log.file.rotation.count = 3
# Tenants share the node: a few of RabbitMQ's default 128 MiB messages at once could raise the
# memory alarm, which blocks every tenant's publishers. 16 MiB, as the add-on's docs say.
max_message_size = 16777216
EOF
    # First boot of an empty node creates this user instead of guest (saves ~5 s of
    # rabbitmqctl calls); later changes are applied by ensure_admin. Only for values that
    # need no quoting in rabbitmq.conf.
    local safe='^[A-Za-z0-9._@+-]+$'
    if [[ "$ADMIN_USER" =~ $safe && "$ADMIN_PASS" =~ $safe ]]; then
        cat >>"$tmp" <<EOF
default_user = $ADMIN_USER
default_pass = $ADMIN_PASS
default_user_tags.administrator = true
EOF
    fi
    if ! cmp -s "$tmp" "$CONF_FILE"; then
        install -m 0640 -o "$RMQ_USER" -g "$RMQ_USER" "$tmp" "$CONF_FILE"
    fi
    rm -f "$tmp"

    # rabbitmq_management, enabled offline (the file is read at boot)
    if [[ ! -s "$PLUGINS_FILE" ]]; then
        printf '[rabbitmq_management].\n' >"$PLUGINS_FILE"
        chown "$RMQ_USER:$RMQ_USER" "$PLUGINS_FILE"
    elif ! grep -qw rabbitmq_management "$PLUGINS_FILE"; then
        as_rmq "$RMQ_BIN/rabbitmq-plugins" enable --offline rabbitmq_management >&2
    fi
}

# ---------------------------------------------------------------------------------------------
# admin user
# ---------------------------------------------------------------------------------------------
ensure_admin() {
    local whoami
    whoami="$(api_get whoami 2>/dev/null || true)"
    if [[ "$whoami" == *'"administrator"'* ]]; then
        return 0
    fi
    log "creating/updating administrator user '$ADMIN_USER'"
    local out
    if ! out="$(ctl add_user "$ADMIN_USER" "$ADMIN_PASS" 2>&1)"; then
        if grep -qi 'already exists' <<<"$out"; then
            ctl change_password "$ADMIN_USER" "$ADMIN_PASS" >/dev/null
        else
            printf '%s\n' "$out" >&2
            die "rabbitmqctl add_user failed"
        fi
    fi
    ctl set_user_tags "$ADMIN_USER" administrator >/dev/null
    ctl set_permissions -p / "$ADMIN_USER" '.*' '.*' '.*' >/dev/null
}

# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------
# Serialise start/stop/restart (parallel make targets, CI steps); status/ctl do not lock.
take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>>"$STATE_DIR/.lock"
    if ! flock -w $((START_TIMEOUT + 60)) 9; then
        die "another $0 start/stop is still running (lock $STATE_DIR/.lock)"
    fi
}

start_failed() {
    show_logs
    node_pid >/dev/null || cleanup_epmd
    die "$@"
}

cmd_start() {
    local t0=$SECONDS
    if command -v curl >/dev/null 2>&1 && healthy; then
        log "already running and healthy (amqp://$HOST:$AMQP_PORT, http://$HOST:$MGMT_PORT)"
        return 0
    fi

    take_lock
    if healthy; then # another invocation finished starting it while we waited for the lock
        log "already running and healthy"
        return 0
    fi
    ensure_installed
    prepare_state

    local deadline=$((SECONDS + START_TIMEOUT)) pid launcher=""
    if pid="$(node_pid)"; then
        log "node already running (pid $pid); checking it"
    else
        rm -f "$PID_FILE"
        local p
        for p in "$AMQP_PORT" "$MGMT_PORT" "$DIST_PORT"; do
            if port_in_use "$p"; then
                ss -ltnp 2>/dev/null | grep -E "[:.]$p\b" >&2 || true
                die "port $HOST:$p is already in use by another process (a system RabbitMQ? try: service rabbitmq-server stop)"
            fi
        done
        log "starting $NODENAME (state: $STATE_DIR)"
        : >"$STARTUP_OUT"
        : >"$STARTUP_ERR"
        chown "$RMQ_USER:$RMQ_USER" "$STARTUP_OUT" "$STARTUP_ERR"
        # Detached like `rabbitmq-server -detached`, but keeping early boot output (config
        # errors happen before the log file exists) in startup_log/startup_err, as the
        # Debian wrapper does. setsid: own session, survives this shell, no controlling tty.
        (cd "$STATE_DIR" && exec setsid "${AS_RMQ[@]}" "$RMQ_BIN/rabbitmq-server" \
            </dev/null >>"$STARTUP_OUT" 2>>"$STARTUP_ERR" 9>&-) & # 9 = our lock fd
        launcher=$!
    fi

    # Wait for the pid file (the first thing the node writes) and then for the node to
    # register with epmd (distribution starts a bit later; `rabbitmqctl await_startup` fails
    # at once with "nodedown" before that). Bail out early if the launcher dies.
    while ! node_pid >/dev/null || ! epmd_has_node; do
        if [[ -n "$launcher" ]] && ! pid_alive "$launcher"; then
            start_failed "rabbitmq-server exited during startup (logs above; state in $STATE_DIR)"
        fi
        ((SECONDS < deadline)) || start_failed "timed out waiting for the node to come up (pid file $PID_FILE, epmd)"
        sleep 0.2
    done

    local remaining rc
    while :; do
        remaining=$((deadline - SECONDS))
        ((remaining > 5)) || remaining=5
        rc=0
        ctl await_startup --timeout "$remaining" >/dev/null 2>"$STATE_DIR/.await_err" || rc=$?
        [[ $rc -eq 0 ]] && break
        # 69 = node unreachable (e.g. still setting up distribution): retry while it lives
        if [[ $rc -eq 69 ]] && node_pid >/dev/null && ((SECONDS < deadline)); then
            sleep 0.5
            continue
        fi
        cat "$STATE_DIR/.await_err" >&2 || true
        start_failed "node did not finish booting within ${START_TIMEOUT}s (rabbitmqctl await_startup exit $rc; if it is still running: $0 status / stop)"
    done
    rm -f "$STATE_DIR/.await_err"

    ensure_admin

    local code=000
    while :; do
        code="$(api_code overview 2)"
        [[ "$code" == 200 ]] && break
        if ((SECONDS >= deadline)); then
            start_failed "management API $API/overview not ready (last HTTP code $code)"
        fi
        sleep 0.3
    done
    log "ready in $((SECONDS - t0))s: amqp://$ADMIN_USER:***@$HOST:$AMQP_PORT/  http://$HOST:$MGMT_PORT/ (pid $(node_pid))"
}

cmd_stop() {
    local pid
    [[ -d "$STATE_DIR" ]] && take_lock
    if ! pid="$(node_pid)"; then
        log "not running"
        rm -f "$PID_FILE"
        cleanup_epmd
        return 0
    fi
    log "stopping $NODENAME (pid $pid)"
    if ! (cd "$STATE_DIR" && exec timeout 120 "${AS_RMQ[@]}" "$RMQ_BIN/rabbitmqctl" shutdown 9>&-) \
        >/dev/null 2>&1 && pid_alive "$pid"; then
        log "rabbitmqctl shutdown failed; sending SIGTERM"
        kill -TERM "$pid" 2>/dev/null || true
    fi
    local i
    for ((i = 0; i < 300; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        log "still alive after 30s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    cleanup_epmd
    log "stopped"
}

cmd_status() {
    local code pid
    code="$(api_code overview 2)"
    if [[ "$code" == 200 ]]; then
        local ov version erl
        ov="$(api_get overview 2>/dev/null || true)"
        version="$(sed -n 's/.*"rabbitmq_version":"\([^"]*\)".*/\1/p' <<<"$ov")"
        erl="$(sed -n 's/.*"erlang_version":"\([^"]*\)".*/\1/p' <<<"$ov")"
        echo "running: $NODENAME pid $(node_pid || echo '?') RabbitMQ $version Erlang $erl"
        echo "  amqp://$HOST:$AMQP_PORT/  management http://$HOST:$MGMT_PORT/ (admin user $ADMIN_USER)"
        echo "  state $STATE_DIR"
        return 0
    fi
    if pid="$(node_pid)"; then
        echo "unhealthy: node process $pid is alive but GET $API/overview gave HTTP $code" \
            "(still booting, or admin user '$ADMIN_USER' missing/wrong password -> run start)"
        return 1
    fi
    echo "not running"
    return 3
}

usage() {
    sed -n '2,4p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        restart)
            cmd_stop
            cmd_start
            ;;
        status) cmd_status ;;
        logs) show_logs "${1:-100}" all 2>&1 ;;
        ctl)
            is_installed || die "rabbitmq-server is not installed (run: $0 start)"
            local rc=0
            ctl "$@" || rc=$?
            node_pid >/dev/null || cleanup_epmd # the CLI spawns epmd when no node is running
            return "$rc"
            ;;
        *) usage ;;
    esac
}

main "$@"
