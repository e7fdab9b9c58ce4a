#!/usr/bin/env bash
# Local Apache Kafka Connect (distributed mode, one worker) with Debezium's PostgreSQL connector,
# for development and CI. It runs against the Kafka of scripts/services/kafka.sh.
#
#   scripts/services/kafka-connect.sh start    fetch jars if missing, start, wait until ready
#   scripts/services/kafka-connect.sh stop     SIGTERM, wait, then SIGKILL; safe when not running
#   scripts/services/kafka-connect.sh status   exit 0 healthy, 1 running but not answering, 3 not running
#
# Jars come from Maven Central (scripts/services/kafka-connect/pom.xml, two profiles, fetched once):
# the worker (connect-runtime 4.1.2, the broker's Kafka version) into .services/kafka-connect/libs,
# Debezium's PostgreSQL connector (3.6.1.Final) into
# .services/kafka-connect/plugins/debezium-connector-postgres. All state is under
# .services/kafka-connect/ (git-ignored): libs/ plugins/ config/ logs/connect.log kafka-connect.pid.
# The cluster's own state (connector configs, source offsets, statuses) lives in Kafka, in the
# compacted topics _marketplace_connect_{configs,offsets,status}, so connectors survive a restart
# of the worker and even rm -rf .services/kafka-connect.
#
# The worker and its producer, consumer and admin clients log in to Kafka as the Kafka admin user
# (a super user, see kafka.sh): SASL_PLAINTEXT, SCRAM-SHA-512. A connector may log its producer in
# as someone else with producer.override.sasl.jaas.config (connector.client.config.override.policy
# is All). REST API: http://127.0.0.1:8083 (the broker reads KAFKA_CONNECT_URL, default that).
# See scripts/services/CONNECT_NOTES.md for the connector config, privileges and pitfalls.
#
# Environment (all optional):
#   KAFKA_ADMIN_USERNAME / KAFKA_ADMIN_PASSWORD  the worker's Kafka login (default marketplace_admin /
#                                   marketplace-admin-dev, the same defaults as kafka.sh)
#   KAFKA_PORT                      Kafka's SASL_PLAINTEXT port on 127.0.0.1        (default 9092)
#   KAFKA_CONNECT_PORT              REST port on 127.0.0.1                          (default 8083)
#   KAFKA_CONNECT_GROUP_ID          group.id, also the internal topics' infix      (default marketplace-connect)
#   KAFKA_CONNECT_HEAP_OPTS         worker heap     (default "-Xms640m -Xmx640m -Xmn384m")
#   KAFKA_CONNECT_START_TIMEOUT     seconds to wait for readiness                  (default 120)
#   KAFKA_CONNECT_STOP_TIMEOUT      seconds between SIGTERM and SIGKILL             (default 30)
#   KAFKA_M2_REPO                   Maven local repository (default: Maven's, ~/.m2/repository)
set -euo pipefail

SCRIPT_DIR=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
SCRIPT_NAME=kafka-connect.sh
# shellcheck source-path=SCRIPTDIR source=jvm-common.sh
source "$SCRIPT_DIR/jvm-common.sh"
ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
POM="$SCRIPT_DIR/kafka-connect/pom.xml"

STATE="$ROOT/.services/kafka-connect"
LIBS="$STATE/libs"
PLUGINS="$STATE/plugins"
DEBEZIUM_DIR="$PLUGINS/debezium-connector-postgres"
CONF="$STATE/config"
LOGS="$STATE/logs"
PIDFILE="$STATE/kafka-connect.pid"
LOCKFILE="$STATE/.lock"
MARKER="$STATE/.jars-complete"

HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
PORT="${KAFKA_CONNECT_PORT:-8083}"
GROUP_ID="${KAFKA_CONNECT_GROUP_ID:-marketplace-connect}"
ADMIN_USER="${KAFKA_ADMIN_USERNAME:-marketplace_admin}"
ADMIN_PASSWORD="${KAFKA_ADMIN_PASSWORD:-marketplace-admin-dev}"
HEAP_OPTS="${KAFKA_CONNECT_HEAP_OPTS:--Xms640m -Xmx640m -Xmn384m}"
START_TIMEOUT="${KAFKA_CONNECT_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_CONNECT_STOP_TIMEOUT:-30}"
PLUGIN_CLASS="io.debezium.connector.postgresql.PostgresConnector"
# Internal topics: one set per group.id. Underscore-prefixed so that no tenant prefix matches them.
TOPIC_BASE="_${GROUP_ID//-/_}"
# Marks our JVM on its command line, so a recycled pid is never mistaken for the worker.
PROC_TAG="-Dmarketplace.kafka-connect.state=$STATE"
MAIN_CLASS="org.apache.kafka.connect.cli.ConnectDistributed"


# ---------------------------------------------------------------- prerequisites



validate_credentials() {
  [[ "$ADMIN_USER" =~ ^[A-Za-z0-9._-]+$ ]] \
    || die "KAFKA_ADMIN_USERNAME may only contain letters, digits, '.', '_' and '-'"
  [[ "$ADMIN_PASSWORD" =~ ^[A-Za-z0-9._~!@#%^\&*+=:/?-]+$ ]] \
    || die "KAFKA_ADMIN_PASSWORD may only contain letters, digits and ._~!@#%^&*+=:/?-"
  [[ "$GROUP_ID" =~ ^[A-Za-z0-9_-]+$ ]] \
    || die "KAFKA_CONNECT_GROUP_ID may only contain letters, digits, '_' and '-'"
}

# ---------------------------------------------------------------- jars

jars_complete() { [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$(pom_hash)" ]; }

# mvn_copy PROFILE DIR: the profile's runtime dependencies, flat, into DIR (atomically).
mvn_copy() {
  local profile=$1 dest=$2 tmp="$2.tmp"
  local -a repo=()
  [ -n "${KAFKA_M2_REPO:-}" ] && repo=("-Dmaven.repo.local=$KAFKA_M2_REPO")
  rm -rf "$tmp"
  if ! mvn -B -q "${repo[@]}" -f "$POM" -P "$profile" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$STATE/mvn-$profile.log" 2>&1; then
    tail -n 40 "$STATE/mvn-$profile.log" >&2
    die "Maven could not fetch the $profile jars (full output: $STATE/mvn-$profile.log)"
  fi
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

fetch_jars() {
  jars_complete && return 0
  ensure_mvn
  log "fetching Kafka Connect and Debezium jars with Maven (first run only) ..."
  local t0=$SECONDS want
  rm -f "$MARKER"
  mvn_copy worker "$LIBS"
  mkdir -p "$PLUGINS"
  mvn_copy debezium "$DEBEZIUM_DIR"
  for want in "$LIBS/connect-runtime-[0-9]*.jar" "$LIBS/connect-json-[0-9]*.jar" \
      "$LIBS/kafka-clients-[0-9]*.jar" "$LIBS/log4j-slf4j-impl-*.jar" \
      "$DEBEZIUM_DIR/debezium-connector-postgres-*.jar" "$DEBEZIUM_DIR/postgresql-*.jar"; do
    compgen -G "$want" >/dev/null || die "Maven finished but $want is missing"
  done
  # The plugin must not bring its own Kafka APIs (see the pom).
  if compgen -G "$DEBEZIUM_DIR/kafka-clients-*.jar" >/dev/null || compgen -G "$DEBEZIUM_DIR/connect-api-*.jar" >/dev/null; then
    die "the Debezium plugin directory holds Kafka API jars; check the exclusions in $POM"
  fi
  pom_hash >"$MARKER"
  log "fetched $(find "$LIBS" "$DEBEZIUM_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- config
write_configs() {
  mkdir -p "$CONF" "$LOGS"
  local jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$ADMIN_USER\" password=\"$ADMIN_PASSWORD\";"
  (
    umask 077
    cat >"$CONF/connect-distributed.properties.tmp" <<EOF
# Generated by scripts/services/kafka-connect.sh. Do not edit; changes are overwritten on start.
bootstrap.servers=$HOST:$KAFKA_PORT
group.id=$GROUP_ID

# The cluster's state, in Kafka. The worker creates these compacted topics on first start.
config.storage.topic=${TOPIC_BASE}_configs
offset.storage.topic=${TOPIC_BASE}_offsets
status.storage.topic=${TOPIC_BASE}_status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=5
status.storage.partitions=2
# Source offsets (for Debezium: the LSN it has processed) are committed this often. Debezium
# confirms an LSN to PostgreSQL (pg_replication_slots.confirmed_flush_lsn) only after its offset
# is committed, so this also bounds how stale the slot lag reading is. Default 60000.
offset.flush.interval.ms=5000

# Change events as plain JSON without the {"schema": ..., "payload": ...} envelope. Heroku's
# Streaming Data Connectors deliver the Debezium change event itself (before, after, source, op,
# ts_ms) as the record value and the primary key columns as the key; consumers parse the JSON
# directly. With schemas.enable=true every message would carry the full Connect schema, several
# times the size of the row. A connector may still override key.converter/value.converter.
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false

# REST API, loopback only. Connector configs, database.password included, are readable there.
listeners=http://$HOST:$PORT
rest.advertised.host.name=$HOST
rest.advertised.port=$PORT
rest.advertised.listener=http

# Plugins: Debezium in its own directory. service_load finds them through META-INF/services
# (Debezium and Kafka's own jars have the manifests), which saves the reflective scan at startup.
plugin.path=$PLUGINS
plugin.discovery=service_load

# Each connector may set producer.override.* (and consumer./admin.override.*), e.g. its own
# producer.override.sasl.jaas.config, so that its writes are authorized and throttled as the
# tenant's Kafka user. The broker, not tenants, writes connector configs.
connector.client.config.override.policy=All

# Topics a connector writes to are created by the worker only for connectors that set
# topic.creation.default.replication.factor and .partitions, with the admin client below unless
# the connector sets admin.override.*. See CONNECT_NOTES.md.
topic.creation.enable=true

# One worker: when it restarts, give its connectors back at once instead of waiting up to
# 5 minutes for the old member to come back (incremental cooperative rebalancing).
scheduled.rebalance.max.delay.ms=0

# The worker's own Kafka clients (group membership, internal topics): the Kafka admin user.
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$jaas
# Producers of source tasks (Debezium), unless a connector overrides them.
producer.security.protocol=SASL_PLAINTEXT
producer.sasl.mechanism=SCRAM-SHA-512
producer.sasl.jaas.config=$jaas
# Consumers of sink tasks.
consumer.security.protocol=SASL_PLAINTEXT
consumer.sasl.mechanism=SCRAM-SHA-512
consumer.sasl.jaas.config=$jaas
# Admin clients for topic creation and dead letter queues.
admin.security.protocol=SASL_PLAINTEXT
admin.sasl.mechanism=SCRAM-SHA-512
admin.sasl.jaas.config=$jaas
EOF
    mv "$CONF/connect-distributed.properties.tmp" "$CONF/connect-distributed.properties"
  )

  cat >"$CONF/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/services/kafka-connect.sh. connect.log (INFO, rolled at 10 MB);
     WARN and above also go to connect.out with the JVM's own output. -->
<Configuration status="warn">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %X{connector.context}%m (%c:%L)%n"/>
      <ThresholdFilter level="WARN"/>
    </Console>
    <RollingFile name="Connect" fileName="${sys:kafka.logs.dir}/connect.log"
                 filePattern="${sys:kafka.logs.dir}/connect.log.%i">
      <PatternLayout pattern="[%d] %p %X{connector.context}%m (%c:%L)%n"/>
      <SizeBasedTriggeringPolicy size="10MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="STDOUT"/>
      <AppenderRef ref="Connect"/>
    </Root>
    <!-- Every client logs its full config at INFO on creation; that is most of the log otherwise. -->
    <Logger name="org.apache.kafka.clients.producer.ProducerConfig" level="WARN"/>
    <Logger name="org.apache.kafka.clients.consumer.ConsumerConfig" level="WARN"/>
    <Logger name="org.apache.kafka.clients.admin.AdminClientConfig" level="WARN"/>
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
    <Logger name="org.apache.kafka.common.utils.AppInfoParser" level="WARN"/>
    <Logger name="org.reflections" level="ERROR"/>
  </Loggers>
</Configuration>
EOF
}

# ---------------------------------------------------------------- process
worker_pid() {
  local pid
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_worker "$pid"; then
      echo "$pid"
      return 0
    fi
  fi
  local f
  while IFS= read -r f; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    if is_our_worker "$pid"; then
      echo "$pid" >"$PIDFILE"
      echo "$pid"
      return 0
    fi
  done < <(grep -lzF -e "$PROC_TAG" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 1
}

is_our_worker() {
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ "$cmd" == *"$PROC_TAG "* && "$cmd" == *" $MAIN_CLASS "* ]]
}


# http_get PATH: print the body of a GET on the REST API; non-zero unless the status is 200.
# Plain bash (/dev/tcp), so neither curl nor python is needed. HTTP/1.0: the server closes.
http_get() {
  local resp status
  # shellcheck disable=SC2016 # the inner script expands its own positional parameters
  resp=$(timeout 10 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s:%s\r\nAccept: application/json\r\n\r\n" "$2" "$0" "$1" >&3
    cat <&3' "$HOST" "$PORT" "$1" 2>/dev/null) || return 1
  status=$(head -n1 <<<"$resp" | tr -d '\r')
  [[ "$status" == "HTTP/1."?" 200"* ]] || { HTTP_ERR="$status"; return 1; }
  sed '1,/^\r\{0,1\}$/d' <<<"$resp"
}

# One readiness check: the REST API answers and lists the Debezium connector class.
probe() {
  local body
  HTTP_ERR=""
  port_in_use "$PORT" || { PROBE_ERR="port $PORT not open"; return 1; }
  body=$(http_get /connectors) || { PROBE_ERR="GET /connectors: ${HTTP_ERR:-no answer}"; return 1; }
  body=$(http_get /connector-plugins) || { PROBE_ERR="GET /connector-plugins: ${HTTP_ERR:-no answer}"; return 1; }
  [[ "$body" == *"\"$PLUGIN_CLASS\""* ]] || { PROBE_ERR="$PLUGIN_CLASS is not among the connector plugins"; return 1; }
  return 0
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  PROBE_ERR=""
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_logs
      READY_ERR="the worker exited during startup (see $LOGS)"
      return 1
    fi
    probe && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_logs
      READY_ERR="worker not ready after ${START_TIMEOUT}s (last probe: ${PROBE_ERR:-none})"
      return 1
    fi
    sleep 1
  done
}

show_logs() {
  local f
  for f in "$LOGS/connect.out" "$LOGS/connect.log"; do
    [ -s "$f" ] || continue
    log "---- last lines of $f ----"
    tail -n 40 "$f" >&2
  done
}

# The worker needs Kafka. Check the port first, for a clear message instead of a worker that
# retries for minutes (scripts/services.sh starts kafka before kafka-connect).
check_kafka() {
  port_in_use "$KAFKA_PORT" \
    || die "Kafka is not listening on $HOST:$KAFKA_PORT; start it first (scripts/services/kafka.sh start)"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  validate_credentials
  lock
  local pid
  if pid=$(worker_pid); then
    if probe; then
      log "already running (pid $pid) and healthy on http://$HOST:$PORT"
      return 0
    fi
    log "already running (pid $pid), waiting for readiness ..."
    wait_ready "$pid" || die "$READY_ERR"
    log "ready on http://$HOST:$PORT"
    return 0
  fi
  rm -f "$PIDFILE"

  ensure_java "Kafka Connect 4.x and Debezium 3.x"
  fetch_jars
  write_configs
  check_kafka
  port_in_use "$PORT" && die "port $PORT on $HOST is already in use by another process (not our worker)"

  log "starting Kafka Connect (group $GROUP_ID) on http://$HOST:$PORT against $HOST:$KAFKA_PORT"
  local t0=$SECONDS
  if [ -f "$LOGS/connect.out" ] && [ "$(stat -c %s "$LOGS/connect.out")" -gt 10485760 ]; then
    mv -f "$LOGS/connect.out" "$LOGS/connect.out.1"
  fi
  printf '\n===== kafka-connect.sh start %s =====\n' "$(date '+%F %T')" >>"$LOGS/connect.out"
  # Sized for change data capture on two shared cores (bench/data_connector.py, 100,000-row
  # inserts): Debezium allocates about 20 kB per change event, and serial GC spent 0.8 s
  # collecting in each bulk run (young pauses of 30-60 ms); a 384 MB young generation and the
  # parallel collector cut that to a few short pauses. Once warm, C2 cuts the streaming
  # thread's CPU per event by about 40% (1.5 s -> 0.9 s per 100,000 events). The price: an
  # RSS of about 650 MB and about 1 s more to start.
  # KAFKA_CONNECT_HEAP_OPTS is split into words on purpose.
  # shellcheck disable=SC2086
  (
    cd "$STATE"
    exec setsid nohup java $HEAP_OPTS \
      -XX:+UseParallelGC -XX:MaxMetaspaceSize=256m \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      "$PROC_TAG" \
      -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$CONF/log4j2.xml" \
      -cp "$LIBS/*" "$MAIN_CLASS" "$CONF/connect-distributed.properties" \
      >>"$LOGS/connect.out" 2>&1 </dev/null 9>&-
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  sleep 0.3
  if ! is_our_worker "$pid"; then
    local _
    pid=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pid=$(worker_pid) && break
      sleep 0.3
    done
    if [ -z "$pid" ] || ! is_our_worker "$pid"; then
      show_logs
      die "the worker process did not start"
    fi
  fi
  if ! wait_ready "$pid"; then
    log "start failed, stopping the worker it launched (pid $pid)"
    stop_pid "$pid" >/dev/null 2>&1 || true
    rm -f "$PIDFILE"
    die "$READY_ERR"
  fi
  log "ready on http://$HOST:$PORT (pid $pid, ${SECONDS}s total, $((SECONDS - t0))s to start)"
}

cmd_stop() {
  lock
  local pid
  if ! pid=$(worker_pid); then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  log "stopping worker (pid $pid)"
  stop_pid "$pid"
  rm -f "$PIDFILE"
  log "stopped"
}

# SIGTERM (the worker stops its tasks, commits offsets and leaves the group), then SIGKILL.

cmd_status() {
  local pid
  if ! pid=$(worker_pid); then
    echo "kafka-connect: not running"
    return 3
  fi
  if probe; then
    echo "kafka-connect: running (pid $pid), healthy on http://$HOST:$PORT"
    return 0
  fi
  echo "kafka-connect: running (pid $pid) but not healthy: $PROBE_ERR"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
