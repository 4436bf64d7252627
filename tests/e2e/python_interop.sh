#!/usr/bin/env bash
# Interop: an event written by `hookstream produce` is read by a stock Python Kafka client
# (confluent_kafka) and decoded with Apache Avro for Python using the schema fetched from the
# registry by the id in the message (interop.py). Runs against the stack of ops/test.sh.
source "$(dirname "$0")/lib.sh"
if [ -z "${HS_KAFKA_BROKERS:-}" ] || [ -z "${HS_REGISTRY_URL:-}" ]; then
    echo "skipped: HS_KAFKA_BROKERS and HS_REGISTRY_URL are not set (run it from ops/test.sh)"
    exit 0
fi
python=/usr/bin/python3
if ! "$python" -c 'import confluent_kafka, avro.io' 2>/dev/null; then
    fail "$python lacks confluent_kafka or avro (Debian python3-confluent-kafka python3-avro; ops/deps.sh)"
    finish
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# A fresh order id and event id, so the test finds its own event among earlier ones.
id="interop-$(date +%s%N)-$$"
jq -c --arg o "order-$id" '.order_id = $o' \
    "$HS_SOURCE_DIR/tests/data/avro/order.placed/input.json" >"$tmp/order.json"

expect_rc 0 "hookstream produce order.placed" -- \
    "$HOOKSTREAM" produce --type order.placed --id "$id" "$(cat "$tmp/order.json")"
expect_rc 0 "python reads and decodes it" -- \
    "$python" "$(dirname "$0")/interop.py" --id "$id" --data "$tmp/order.json"
printf '%s\n' "$OUT"
[ "$RC" = 0 ] || printf '%s\n' "$ERR" >&2
finish
