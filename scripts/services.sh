#!/usr/bin/env bash
# Start (or stop) the local service stack the adapters default to. Idempotent.
# Usage: scripts/services.sh start|stop|status
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action="${1:-start}"
for service in postgres rabbitmq kafka; do
  "$here/services/$service.sh" "$action"
done
