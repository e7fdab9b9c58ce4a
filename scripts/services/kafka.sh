#!/usr/bin/env bash
# Local single-node Apache Kafka 4.x (KRaft, combined broker+controller) for development and CI.
#
#   scripts/services/kafka.sh start    install if missing, format once, start, wait until ready
#   scripts/services/kafka.sh stop     SIGTERM, wait, then SIGKILL; safe when not running
#   scripts/services/kafka.sh status   exit 0 healthy, 1 running but not answering, 3 not running
#
# Jars come from Maven Central (scripts/services/kafka/pom.xml, fetched once into
# .services/kafka/libs). All state lives under .services/kafka/ in the repo root (git-ignored):
#   libs/ jars + .complete marker   data/ KRaft metadata + topic logs   logs/ server.log, kafka.out
#   config/ generated server.properties, log4j2 configs, admin-client.properties   kafka.pid
# Delete .services/kafka/data to start with an empty cluster. Delete .services/kafka to start over
# completely; the Maven cache (~/.m2 by default) is kept.
#
# Client side: bootstrap 127.0.0.1:9092, SASL_PLAINTEXT, SCRAM-SHA-512, admin user below.
# The Java CLIs take --command-config / --config .services/kafka/config/admin-client.properties,
# e.g. quotas (confluent-kafka has no client-quota API):
#   java -cp '.services/kafka/libs/*' kafka.admin.ConfigCommand --bootstrap-server 127.0.0.1:9092 \
#     --command-config .services/kafka/config/admin-client.properties \
#     --alter --add-config 'producer_byte_rate=65536' --entity-type users --entity-name U
# Reserved SCRAM user names that the application must never create or delete:
#   kafka-internal-controller (a super user), kafka-internal-scram-anchor-aaxkudyg (see below).
#
# Environment (all optional):
#   KAFKA_ADMIN_USERNAME   super user created at format time    (default marketplace_admin)
#   KAFKA_ADMIN_PASSWORD   its password                         (default marketplace-admin-dev)
#   KAFKA_PORT             SASL_PLAINTEXT client listener port  (default 9092)
#   KAFKA_CONTROLLER_PORT  controller listener port             (default 9093; the quorum's voter
#                          endpoint is written at format time, so change it only with a re-format)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness        (default 90)
#   KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL  (default 30)
#   KAFKA_HEAP_OPTS        broker heap                          (default "-Xms256m -Xmx512m")
#   KAFKA_PROBE            auto | python | java                 (default auto: python if $PYTHON runs)
#   PYTHON                 interpreter for the stdlib probe     (default python3)
#   KAFKA_M2_REPO          Maven local repository               (default: Maven's, i.e. ~/.m2/repository)
# The admin credentials are written into the metadata log at format time. Changing them later
# needs a re-format (rm -rf .services/kafka/data); start refuses to run with mismatched ones.
set -euo pipefail

SCRIPT_DIR=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")") # via symlinks too
SCRIPT_NAME=kafka.sh
# shellcheck source-path=SCRIPTDIR source=jvm-common.sh
source "$SCRIPT_DIR/jvm-common.sh"
ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
ASSETS="$SCRIPT_DIR/kafka"
POM="$ASSETS/pom.xml"

STATE="$ROOT/.services/kafka"
LIBS="$STATE/libs"
DATA="$STATE/data"
LOGS="$STATE/logs"
CONF="$STATE/config"
PIDFILE="$STATE/kafka.pid"
LOCKFILE="$STATE/.lock"
MARKER="$LIBS/.complete"
CREDS_FINGERPRINT="$STATE/admin.fingerprint"
CONTROLLER_SECRET="$CONF/controller.secret"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
ADMIN_USER="${KAFKA_ADMIN_USERNAME:-marketplace_admin}"
ADMIN_PASSWORD="${KAFKA_ADMIN_PASSWORD:-marketplace-admin-dev}"
# Internal principal for the controller listener (SASL/PLAIN, loopback only). It is a super user,
# so the application must never create a SCRAM user with this name.
CONTROLLER_USER="kafka-internal-controller"
# Workaround for a Kafka bug (ScramDelta.apply() in every release up to 4.4.0 at least). When a
# broker replays its metadata log on restart, the replay starts from an empty image. If the first
# SCRAM change it iterates (HashMap order) is a deletion, the broker drops *every* SCRAM
# credential, the admin's included, and all SCRAM logins fail until the storage is re-formatted.
# Any deleted SCRAM user in the log can trigger this (unbind deletes users). This user is created at
# format time, ahead of everything else, and its name has String.hashCode() == 0, so it is always
# the first entry iterated and the map can never become empty. It has a random password that is
# not stored, no ACLs, and is not a super user. The application must never delete it.
SCRAM_ANCHOR_USER="kafka-internal-scram-anchor-aaxkudyg"
SCRAM_LOSS_HINT="If SCRAM users were deleted before a restart, this can be the Kafka SCRAM replay bug described at SCRAM_ANCHOR_USER in $0. A storage formatted by an older kafka.sh has no anchor user; wipe it with: $0 stop; rm -rf .services/kafka/data"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
PROBE_MODE="${KAFKA_PROBE:-auto}"
PY="${PYTHON:-python3}"
# Marks our JVM on its command line, so a recycled pid is never mistaken for the broker.
PROC_TAG="-Dmarketplace.kafka.state=$STATE"


# ---------------------------------------------------------------- prerequisites



validate_credentials() {
  [[ "$ADMIN_USER" =~ ^[A-Za-z0-9._-]+$ ]] \
    || die "KAFKA_ADMIN_USERNAME may only contain letters, digits, '.', '_' and '-'"
  [[ "$ADMIN_PASSWORD" =~ ^[A-Za-z0-9._~!@#%^\&*+=:/?-]+$ ]] \
    || die "KAFKA_ADMIN_PASSWORD may only contain letters, digits and ._~!@#%^&*+=:/?-"
  if [ "$ADMIN_USER" = "$CONTROLLER_USER" ] || [ "$ADMIN_USER" = "$SCRAM_ANCHOR_USER" ]; then
    die "KAFKA_ADMIN_USERNAME may not be $ADMIN_USER (reserved)"
  fi
}

# ---------------------------------------------------------------- jars

libs_complete() { [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$(pom_hash)" ]; }

fetch_libs() {
  libs_complete && return 0
  ensure_mvn
  log "fetching Kafka jars with Maven (first run only) ..."
  local tmp="$STATE/libs.tmp" t0=$SECONDS
  local -a repo=()
  [ -n "${KAFKA_M2_REPO:-}" ] && repo=("-Dmaven.repo.local=$KAFKA_M2_REPO")
  rm -rf "$tmp"
  if ! mvn -B -q "${repo[@]}" -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$STATE/mvn.log" 2>&1; then
    tail -n 40 "$STATE/mvn.log" >&2
    die "Maven could not fetch the Kafka jars (full output: $STATE/mvn.log)"
  fi
  local want
  for want in 'kafka_2.13-*.jar' 'kafka-tools-[0-9]*.jar' 'kafka-clients-*.jar' 'log4j-core-*.jar' 'log4j-slf4j*-impl-*.jar'; do
    compgen -G "$tmp/$want" >/dev/null || die "Maven finished but $want is missing in $tmp"
  done
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  pom_hash >"$MARKER"
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

# JVM for short-lived tools (StorageTool, ClusterTool): small heap, quick startup.
tool_java() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j2.configurationFile="$CONF/tools-log4j2.xml" -cp "$LIBS/*" "$@"
}

# ---------------------------------------------------------------- config
controller_password() {
  if [ ! -s "$CONTROLLER_SECRET" ]; then
    (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$CONTROLLER_SECRET")
  fi
  cat "$CONTROLLER_SECRET"
}

write_configs() {
  mkdir -p "$CONF" "$LOGS" "$DATA"
  local cpw
  cpw=$(controller_password)
  (
    umask 077
    # Generated on every start from this script. Edit the script, not the file.
    cat >"$CONF/server.properties.tmp" <<EOF
# Generated by scripts/services/kafka.sh. Do not edit; changes are overwritten on start.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CPORT
controller.listener.names=CONTROLLER
listeners=SASL_PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=SASL_PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT

# Client/inter-broker listener: SCRAM-SHA-512. The admin user is created by
# 'StorageTool format --add-scram' so it exists before the first start.
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$ADMIN_PASSWORD";

# Controller listener: SASL/PLAIN with a single internal user, not ANONYMOUS. SCRAM can't be
# used there because SCRAM credentials live in the metadata log that the controller serves.
# The sasl.jaas.config without a mechanism prefix is the client side (broker -> controller).
# The plain. one is the server side and lists the accepted users.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$CONTROLLER_USER" password="$cpw";
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$CONTROLLER_USER" password="$cpw" user_$CONTROLLER_USER="$cpw";

# Authorization: ACLs in the metadata log. Anything not allowed by an ACL is denied.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$ADMIN_USER;User:$CONTROLLER_USER
# Authenticated sessions must re-authenticate this often (KIP-368), so deleting a SCRAM
# credential drops its live connections within a minute.
connections.max.reauth.ms=60000

auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

log.dirs=$DATA
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
    mv "$CONF/server.properties.tmp" "$CONF/server.properties"

    cat >"$CONF/admin-client.properties" <<EOF
# Admin client config for the Java CLIs, e.g.
#   java -cp '.services/kafka/libs/*' kafka.admin.ConfigCommand \\
#     --bootstrap-server $HOST:$PORT --command-config .services/kafka/config/admin-client.properties ...
bootstrap.servers=$HOST:$PORT
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$ADMIN_PASSWORD";
EOF
  )

  cat >"$CONF/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/services/kafka.sh. Broker logging: server.log (INFO) and
     authorizer.log (ACL denials), both rolled at 10 MB; WARN and above also go to kafka.out. -->
<Configuration status="warn">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <ThresholdFilter level="WARN"/>
    </Console>
    <RollingFile name="Server" fileName="${sys:kafka.logs.dir}/server.log"
                 filePattern="${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="10MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
    <RollingFile name="Authorizer" fileName="${sys:kafka.logs.dir}/authorizer.log"
                 filePattern="${sys:kafka.logs.dir}/authorizer.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="10MB"/>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="STDOUT"/>
      <AppenderRef ref="Server"/>
    </Root>
    <Logger name="kafka.authorizer.logger" level="INFO" additivity="false">
      <AppenderRef ref="Authorizer"/>
    </Logger>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Logger name="state.change.logger" level="INFO"/>
  </Loggers>
</Configuration>
EOF

  cat >"$CONF/tools-log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="STDERR" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers><Root level="WARN"><AppenderRef ref="STDERR"/></Root></Loggers>
</Configuration>
EOF
}

probe_client_properties() {
  cat <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$ADMIN_USER" password="$ADMIN_PASSWORD";
request.timeout.ms=5000
default.api.timeout.ms=8000
EOF
}

creds_fingerprint() { printf '%s\0%s' "$ADMIN_USER" "$ADMIN_PASSWORD" | sha256sum | cut -d' ' -f1; }

# The admin credentials live in the metadata log from format time on. Refuse to run with other ones.
check_credentials_match_storage() {
  if [ -f "$DATA/meta.properties" ] && [ -f "$CREDS_FINGERPRINT" ] \
      && [ "$(cat "$CREDS_FINGERPRINT")" != "$(creds_fingerprint)" ]; then
    die "the storage was formatted with other admin credentials than KAFKA_ADMIN_USERNAME/KAFKA_ADMIN_PASSWORD now say; use those, or wipe it: $0 stop; rm -rf '$DATA'"
  fi
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  log "formatting KRaft storage in $DATA (admin user $ADMIN_USER)"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  local cluster_id anchor_password
  cluster_id=$(tool_java kafka.tools.StorageTool random-uuid)
  anchor_password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  # The anchor comes first so that it is the first SCRAM record in the log (see SCRAM_ANCHOR_USER).
  if ! tool_java kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$CONF/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$SCRAM_ANCHOR_USER,password=\"$anchor_password\"]" \
      --add-scram "SCRAM-SHA-512=[name=$ADMIN_USER,password=\"$ADMIN_PASSWORD\"]" \
      >"$LOGS/format.log" 2>&1; then
    cat "$LOGS/format.log" >&2
    rm -rf "$DATA"
    die "kafka.tools.StorageTool format failed"
  fi
  creds_fingerprint >"$CREDS_FINGERPRINT"
}

# ---------------------------------------------------------------- process
# Prints the broker's pid if it is running. It reads the pid file and checks the process's command
# line, and if that fails it scans /proc for our tag (the pid file may have been deleted).
broker_pid() {
  local pid
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_broker "$pid"; then
      echo "$pid"
      return 0
    fi
  fi
  local f
  while IFS= read -r f; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    if is_our_broker "$pid"; then
      echo "$pid" >"$PIDFILE"
      echo "$pid"
      return 0
    fi
  done < <(grep -lzF -e "$PROC_TAG" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 1
}

is_our_broker() {
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ "$cmd" == *"$PROC_TAG "* && "$cmd" == *" kafka.Kafka "* ]]
}


# ---------------------------------------------------------------- readiness
python_ok() { command -v "$PY" >/dev/null 2>&1 && "$PY" -c 'import hashlib, socket' >/dev/null 2>&1; }

# One readiness check. Returns 0 ready, 1 not ready, 2 authentication failed.
# The JVM probe takes a second or two, so auto prefers the stdlib python probe.
probe() {
  local mode=$PROBE_MODE
  if [ "$mode" = auto ]; then
    if python_ok; then mode=python; else mode=java; fi
    PROBE_MODE=$mode
  fi
  port_in_use "$PORT" || { PROBE_ERR="port $PORT not open"; return 1; }
  local rc=0
  if [ "$mode" = python ]; then
    PROBE_ERR=$(KAFKA_PROBE_HOST=$HOST KAFKA_PROBE_PORT=$PORT KAFKA_PROBE_USER=$ADMIN_USER \
      KAFKA_PROBE_PASSWORD=$ADMIN_PASSWORD "$PY" - 2>&1 >/dev/null <<<"$PROBE_PY") || rc=$?
    [ "$rc" -le 2 ] || rc=1
  else
    # ClusterTool cluster-id calls DescribeCluster through the Admin client with the admin's SASL
    # config. The config is written from the current environment, like the python probe's input.
    local props
    props=$(umask 077; mktemp "$STATE/probe-client.XXXXXX")
    probe_client_properties >"$props"
    PROBE_ERR=$(tool_java org.apache.kafka.tools.ClusterTool cluster-id \
      --bootstrap-server "$HOST:$PORT" --config "$props" 2>&1 >/dev/null) || rc=$?
    rm -f "$props"
    if [ "$rc" -ne 0 ]; then
      if grep -q 'SaslAuthenticationException' <<<"$PROBE_ERR"; then rc=2; else rc=1; fi
      PROBE_ERR=$(grep -E 'Exception' <<<"$PROBE_ERR" | tail -n1 || true)
    fi
  fi
  return "$rc"
}

# Polls until the admin can authenticate and describe the cluster. On failure it prints the log
# tails, sets READY_ERR, and returns non-zero.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT)) auth_failures=0 rc
  PROBE_ERR="" READY_ERR=""
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_logs
      READY_ERR="the broker exited during startup (see $LOGS)"
      return 1
    fi
    rc=0; probe || rc=$?
    case $rc in
      0) return 0 ;;
      2) auth_failures=$((auth_failures + 1))
         if [ "$auth_failures" -ge 5 ]; then
           show_logs
           READY_ERR="the broker is up but rejects the admin credentials ($PROBE_ERR). $SCRAM_LOSS_HINT"
           return 1
         fi ;;
      *) auth_failures=0 ;;
    esac
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_logs
      READY_ERR="broker not ready after ${START_TIMEOUT}s (last probe: ${PROBE_ERR:-none})"
      return 1
    fi
    sleep 1
  done
}

show_logs() {
  local f
  for f in "$LOGS/kafka.out" "$LOGS/server.log"; do
    [ -s "$f" ] || continue
    log "---- last lines of $f ----"
    tail -n 40 "$f" >&2
  done
}

# ---------------------------------------------------------------- commands

cmd_start() {
  validate_credentials
  lock
  local pid
  if pid=$(broker_pid); then
    local rc=0
    probe || rc=$?
    if [ "$rc" -eq 0 ]; then
      log "already running (pid $pid) and healthy on $HOST:$PORT"
      return 0
    fi
    [ "$rc" -ne 2 ] || die "broker (pid $pid) is running but rejects the admin credentials: $PROBE_ERR. $SCRAM_LOSS_HINT"
    log "already running (pid $pid), waiting for readiness ..."
    wait_ready "$pid" || die "$READY_ERR"
    log "ready on $HOST:$PORT"
    return 0
  fi
  rm -f "$PIDFILE"

  check_credentials_match_storage
  ensure_java "Kafka 4.x"
  fetch_libs
  write_configs
  format_storage

  local p
  for p in "$PORT" "$CPORT"; do
    port_in_use "$p" && die "port $p on $HOST is already in use by another process (not our broker)"
  done

  log "starting Kafka $(kafka_version) on $HOST:$PORT (controller $HOST:$CPORT)"
  local t0=$SECONDS
  if [ -f "$LOGS/kafka.out" ] && [ "$(stat -c %s "$LOGS/kafka.out")" -gt 10485760 ]; then
    mv -f "$LOGS/kafka.out" "$LOGS/kafka.out.1"
  fi
  printf '\n===== kafka.sh start %s =====\n' "$(date '+%F %T')" >>"$LOGS/kafka.out"
  # KAFKA_HEAP_OPTS is split into words on purpose.
  # shellcheck disable=SC2086
  (
    cd "$STATE"
    exec setsid nohup java $HEAP_OPTS \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      "$PROC_TAG" \
      -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$CONF/log4j2.xml" \
      -cp "$LIBS/*" kafka.Kafka "$CONF/server.properties" \
      >>"$LOGS/kafka.out" 2>&1 </dev/null 9>&-
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  sleep 0.3
  # If setsid had to fork, $! is not the JVM. Find the JVM by its tag then.
  if ! is_our_broker "$pid"; then
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pid=$(broker_pid) && break
      sleep 0.3
    done
    if [ -z "$pid" ] || ! is_our_broker "$pid"; then
      show_logs
      die "the broker process did not start"
    fi
  fi
  if ! wait_ready "$pid"; then
    # Don't leave a half-working broker behind (CI would carry on against it).
    log "start failed, stopping the broker it launched (pid $pid)"
    stop_pid "$pid" >/dev/null 2>&1 || true
    rm -f "$PIDFILE"
    die "$READY_ERR"
  fi
  log "ready on $HOST:$PORT (pid $pid, ${SECONDS}s total, $((SECONDS - t0))s to start)"
}

kafka_version() {
  local j
  j=$(compgen -G "$LIBS/kafka_2.13-*.jar" | head -n1)
  j=${j##*/kafka_2.13-}
  echo "${j%.jar}"
}

cmd_stop() {
  lock
  local pid
  if ! pid=$(broker_pid); then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  stop_pid "$pid"
  rm -f "$PIDFILE"
  log "stopped"
}

# SIGTERM (the broker then shuts down cleanly), wait up to KAFKA_STOP_TIMEOUT, then SIGKILL.

cmd_status() {
  validate_credentials
  local pid rc=0
  if ! pid=$(broker_pid); then
    echo "kafka: not running"
    return 3
  fi
  probe || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "kafka: running (pid $pid), healthy on $HOST:$PORT"
    return 0
  fi
  echo "kafka: running (pid $pid) but not healthy: $PROBE_ERR"
  return 1
}

# Stdlib-only readiness probe, fed to "$PYTHON -" on stdin. It authenticates with SASL/SCRAM-SHA-512
# (SaslHandshake v1 + SaslAuthenticate v1), checks the server signature, then calls
# DescribeCluster v0. It needs neither confluent-kafka nor a JVM, and one run takes about 0.1 s.
# Input comes through KAFKA_PROBE_* environment variables, so the password is never in argv.
# Exit: 0 ready, 1 not ready, 2 authentication failed, 3 protocol/input error.
PROBE_PY=$(cat <<'PYEOF'
import base64, hashlib, hmac, os, secrets, socket, struct, sys

class NotReady(Exception): pass
class AuthFailed(Exception): pass

CLIENT_ID = b"kafka-sh-probe"

def uvarint(data, pos):
    shift = result = 0
    while True:
        b = data[pos]; pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7

def compact_string(data, pos):
    n, pos = uvarint(data, pos)
    return (None, pos) if n == 0 else (data[pos:pos + n - 1].decode(), pos + n - 1)

def string(data, pos):
    (n,) = struct.unpack_from(">h", data, pos); pos += 2
    return (None, pos) if n < 0 else (data[pos:pos + n].decode(), pos + n)

def blob(data, pos):
    (n,) = struct.unpack_from(">i", data, pos); pos += 4
    return (None, pos) if n < 0 else (data[pos:pos + n], pos + n)

class Conn:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.corr = 0

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise NotReady("connection closed by broker")
            buf += chunk
        return bytes(buf)

    def request(self, api_key, version, body, flexible=False):
        self.corr += 1
        # request header v1 (v2 adds empty tagged fields for flexible versions)
        msg = struct.pack(">hhih", api_key, version, self.corr, len(CLIENT_ID)) + CLIENT_ID
        msg += (b"\x00" if flexible else b"") + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        (size,) = struct.unpack(">i", self.recv_exact(4))
        data = self.recv_exact(size)
        if struct.unpack_from(">i", data, 0)[0] != self.corr:
            raise RuntimeError("correlation id mismatch")
        return data, (uvarint(data, 4)[1] if flexible else 4)

def sasl_authenticate(conn, token):
    data, pos = conn.request(36, 1, struct.pack(">i", len(token)) + token)
    (err,) = struct.unpack_from(">h", data, pos)
    msg, pos = string(data, pos + 2)
    auth, pos = blob(data, pos)
    if err == 58:
        raise AuthFailed(msg or "SASL authentication failed")
    if err:
        raise NotReady(f"SaslAuthenticate error {err}: {msg}")
    return auth

def scram_login(conn, user, password):
    mech = b"SCRAM-SHA-512"
    data, pos = conn.request(17, 1, struct.pack(">h", len(mech)) + mech)
    (err,) = struct.unpack_from(">h", data, pos)
    if err:
        raise NotReady(f"SaslHandshake error {err}")
    cnonce = base64.b64encode(secrets.token_bytes(24)).decode()
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
    server_first = sasl_authenticate(conn, ("n,," + first_bare).encode()).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    nonce = attrs["r"]
    if not nonce.startswith(cnonce):
        raise RuntimeError("server nonce does not extend the client nonce")
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
    without_proof = "c=biws,r=" + nonce
    auth_msg = f"{first_bare},{server_first},{without_proof}".encode()
    sig = hmac.new(hashlib.sha512(client_key).digest(), auth_msg, hashlib.sha512).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
    server_final = sasl_authenticate(conn, f"{without_proof},p={proof}".encode()).decode()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha512).digest()
    expected = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha512).digest()).decode()
    if server_final != "v=" + expected:
        raise RuntimeError("bad SCRAM server signature")

def describe_cluster(conn):
    data, pos = conn.request(60, 0, b"\x00\x00", flexible=True)  # DescribeCluster v0
    _throttle, err = struct.unpack_from(">ih", data, pos)
    msg, pos = compact_string(data, pos + 6)
    if err:
        raise NotReady(f"DescribeCluster error {err}: {msg}")
    return compact_string(data, pos)[0]

def main():
    env = os.environ
    conn = None
    try:
        conn = Conn(env["KAFKA_PROBE_HOST"], int(env["KAFKA_PROBE_PORT"]), float(env.get("KAFKA_PROBE_TIMEOUT", "5")))
        scram_login(conn, env["KAFKA_PROBE_USER"], env["KAFKA_PROBE_PASSWORD"])
        print(describe_cluster(conn))
        return 0
    except AuthFailed as e:
        print(f"authentication failed: {e}", file=sys.stderr); return 2
    except (OSError, NotReady) as e:
        print(f"not ready: {e}", file=sys.stderr); return 1
    except Exception as e:
        print(f"probe error: {e!r}", file=sys.stderr); return 3
    finally:
        if conn is not None:
            conn.sock.close()

sys.exit(main())
PYEOF
)

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
