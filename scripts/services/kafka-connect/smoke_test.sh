#!/usr/bin/env bash
# End-to-end smoke test of PostgreSQL -> Debezium on Kafka Connect -> Kafka, against the running
# local stack (scripts/services.sh start). See smoke_test.py for what it does; it cleans up after
# itself and ends with "N passed, N failed".
#   scripts/services/kafka-connect/smoke_test.sh [--restart-worker | --kill-worker]
# Needs psycopg and confluent-kafka: it uses the repo's .venv (make venv) unless PYTHON is set.
set -euo pipefail
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
root=$(cd -- "$here/../../.." && pwd -P)
PYTHON="${PYTHON:-$root/.venv/bin/python}"
[ -x "$PYTHON" ] || { echo "smoke_test.sh: no $PYTHON; run 'make venv' or set PYTHON" >&2; exit 2; }
exec "$PYTHON" "$here/smoke_test.py" "$@"
