#!/usr/bin/env bash
# Start (or stop) the local service stack the adapters default to. Idempotent.
# Usage: scripts/services.sh start|stop|status
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action="${1:-start}"
services=(postgres rabbitmq kafka kafka-connect redis) # kafka-connect needs kafka (and uses postgres)
if [ "$action" = stop ]; then
  services=(redis kafka-connect kafka rabbitmq postgres) # dependants first
fi
for service in "${services[@]}"; do
  "$here/services/$service.sh" "$action"
done
