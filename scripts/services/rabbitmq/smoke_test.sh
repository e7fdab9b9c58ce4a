#!/usr/bin/env bash
# Smoke test against a running node (scripts/services/rabbitmq.sh start):
# management API tenant lifecycle + AMQP limits via pika. Cleans up after itself.
#   PYTHON=/path/to/python-with-pika scripts/services/rabbitmq/smoke_test.sh
# (e.g. python3 -m venv /tmp/rvenv && /tmp/rvenv/bin/pip install pika; PYTHON=/tmp/rvenv/bin/python)
set -euo pipefail
PYTHON="${PYTHON:-python3}"
ADMIN="${RABBITMQ_ADMIN_USERNAME:-marketplace_admin}:${RABBITMQ_ADMIN_PASSWORD:-marketplace-admin-dev}"
API="http://127.0.0.1:${RABBITMQ_MANAGEMENT_PORT:-15672}/api"
AMQP_PORT="${RABBITMQ_AMQP_PORT:-5672}"
VH=smoke-vh U=smoke-user P=smoke-pass-123
fail() { echo "FAIL: $*" >&2; exit 1; }
req() { # method path expected-codes [json]
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' -u "$ADMIN" -H 'content-type: application/json' \
        -X "$1" "$API$2" ${4:+-d "$4"})"
    [[ " $3 " == *" $code "* ]] || fail "$1 $2 -> $code (expected $3)"
    echo "ok  $1 $2 -> $code"
}
cleanup() { curl -s -o /dev/null -u "$ADMIN" -X DELETE "$API/vhosts/$VH"; curl -s -o /dev/null -u "$ADMIN" -X DELETE "$API/users/$U"; }
trap cleanup EXIT

req GET /overview 200
req PUT "/vhosts/$VH" "201 204" '{"description":"smoke"}'
req PUT "/users/$U" "201 204" "{\"password\":\"$P\",\"tags\":\"\"}"
req PUT "/permissions/$VH/$U" "201 204" '{"configure":".*","write":".*","read":".*"}'
req PUT "/vhost-limits/$VH/max-connections" 204 '{"value":2}'
req PUT "/vhost-limits/$VH/max-queues" 204 '{"value":3}'
req PUT "/operator-policies/$VH/plan-caps" "201 204" '{"pattern":".*","apply-to":"queues","priority":0,"definition":{"max-length":5}}'

"$PYTHON" - "amqp://$U:$P@127.0.0.1:$AMQP_PORT/$VH" <<'PY'
import sys, pika
url = sys.argv[1]
c1 = pika.BlockingConnection(pika.URLParameters(url))
ch = c1.channel(); ch.confirm_delivery()
ch.queue_declare("q1")
for i in range(7):
    ch.basic_publish("", "q1", f"m{i}".encode())
got = []
while True:
    m = ch.basic_get("q1", auto_ack=True)
    if m[0] is None: break
    got.append(m[2].decode())
assert got == [f"m{i}" for i in range(2, 7)], got
print("ok  publish/consume; operator policy max-length 5 kept", got)
c2 = pika.BlockingConnection(pika.URLParameters(url))
try:
    pika.BlockingConnection(pika.URLParameters(url))
    sys.exit("FAIL: 3rd connection was accepted")
except pika.exceptions.ProbableAccessDeniedError as e:
    print("ok  3rd connection refused:", e)
ch.queue_declare("q2"); ch.queue_declare("q3")
try:
    ch.queue_declare("q4")
    sys.exit("FAIL: 4th queue was accepted")
except pika.exceptions.ChannelClosedByBroker as e:
    print("ok  4th queue refused:", e)
c2.close(); c1.close()
PY

req DELETE "/vhosts/$VH" 204
req GET "/vhosts/$VH" 404
req DELETE "/users/$U" 204
req GET "/users/$U" 404
trap - EXIT
echo "smoke test passed"
