# Shared by kafka.sh and kafka-connect.sh (sourced, not run): installing the JDK and Maven,
# the Maven pom's fingerprint, the per-script lock, and stopping a JVM by pid.
# The caller sets SCRIPT_NAME, STATE, LOCKFILE, POM, HOST and STOP_TIMEOUT before calling these.
# shellcheck shell=bash

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

apt_install() {
  # Install without updating first. Run `apt-get update` only when the package cannot be found.
  command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available"
  [ "$(id -u)" = 0 ] || die "$1 is missing; install it (apt-get install $1) or run as root"
  log "installing $1 with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >/dev/null
  fi
}

# ensure_java WHAT: a Java 17+ runtime, for WHAT (named in the error).
ensure_java() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v java >/dev/null || die "java still not found after installing openjdk-17-jre-headless"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  case "$major" in
    1.*|[0-9]|1[0-6]) die "$1 needs Java 17+, found java.specification.version=$major" ;;
  esac
}

ensure_mvn() {
  command -v mvn >/dev/null || apt_install maven
  command -v mvn >/dev/null || die "mvn still not found after installing maven"
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

lock() {
  mkdir -p "$STATE"
  exec 9>"$LOCKFILE"
  flock -w 300 9 || die "another $SCRIPT_NAME is still running (lock $LOCKFILE)"
}

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
}
