#!/usr/bin/env bash
# README command 1 end to end: ./ops/dev.sh (deps check, build, dev up, demo events, URLs) from
# another directory, with its own stack directory (HS_DEV_DIR), then status, a second run that
# finds the stack up, and ./ops/dev.sh down.
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
export HS_DEV_DIR=$tmp/stack
export HS_BUILD_DIR
HS_BUILD_DIR=$(dirname "$HOOKSTREAM")
dev=$HS_SOURCE_DIR/ops/dev.sh
trap '"$dev" down --purge >/dev/null 2>&1; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

expect_rc 0 "ops/dev.sh" -- "$dev"
[ "$RC" = 0 ] || printf '%s\n%s\n' "$OUT" "$ERR" >&2
for type in order.placed customer.created payment.succeeded inventory.low; do
    expect_match "$OUT" "produced $type" "demo produced $type"
done
expect_match "$OUT" "hs\.events\.[a-z]+ \[[0-9]+@[0-9]+\] [a-z.]+ key=[^ ]+ \{" \
    "demo shows events read back decoded"
for var in HS_KAFKA_BROKERS HS_POSTGRES_DSN HS_REDIS_URL HS_REGISTRY_URL HS_DELIVER_URL; do
    expect_match "$OUT" "^  $var +[a-z0-9:/@.]+" "prints $var"
done
expect_match "$OUT" "http://127\.0\.0\.1:[0-9]+/metrics" "prints a /metrics URL"
expect_match "$OUT" "stop with \./ops/dev\.sh down" "says how to stop"
expect_match "$OUT" "hookstream endpoints add --url" "shows how to subscribe an endpoint"
expect_match "$OUT" "HS_DELIVER_TOKEN +\(admin token, in" "the admin token is not printed"
[ -f "$HS_DEV_DIR/env" ] && pass "stack in HS_DEV_DIR" || fail "no env in $HS_DEV_DIR"

expect_rc 0 "ops/dev.sh status" -- "$dev" status
expect_match "$OUT" "^registry +[0-9]+ +ready" "status shows the registry ready"
expect_match "$OUT" "^deliver +[0-9]+ +ready" "status shows deliver ready"
expect_rc 0 "ops/dev.sh again" -- "$dev"
expect_match "$OUT" "already up" "a second run reuses the stack"
expect_rc 2 "ops/dev.sh with a bad argument" -- "$dev" sideways
expect_rc 0 "ops/dev.sh down" -- "$dev" down
expect_match "$OUT" "stopped broker" "down stops the stack"
expect_rc 3 "status after down" -- "$dev" status
finish
