#!/usr/bin/env bash
# The cache end to end, as a user runs it: `hookstream cache-proxy` in front of an upstream stub
# (tests/stubs/product_api.py) and `hookstream invalidator` on the events. A GET is a MISS, then
# a HIT-L1; the upstream changes and a product.updated is produced: the next GETs (polled) get
# the new body. Then the race the generation guard is for: a miss whose upstream call read the
# old body before the change, and that answers only after the invalidation, is not cached: the
# next GET is a MISS with the new body, and the proxy counts the stale-guard rejection.
source "$(dirname "$0")/lib.sh"
[ -n "${HS_REDIS_URL:-}" ] || { echo "skipped: HS_REDIS_URL is not set (run it from ops/test.sh)"; exit 0; }
stack_test cflow invalidator.log
topic="e2e.cflow.$run"
"$H" topics create "$topic" --partitions 2 >/dev/null
# keys and channel of the run's own: other runs share the stack's Redis
export HS_CACHE_REDIS_PREFIX="e2e:$run:" HS_CACHE_INVALIDATION_CHANNEL="e2e:$run:invalidate"
export HS_INVALIDATOR_TOPICS="$topic" HS_INVALIDATOR_GROUP="e2e-cflow-$run"
cat >hookstream.yaml <<'EOF'
cache_routes:
  - path: /products/{id}
    tags: ["product:{id}"]
    ttl: 10m
    l1_ttl: 1m
EOF
export HS_CONFIG="$tmp/hookstream.yaml"

mkdir api
/usr/bin/python3 "$HS_SOURCE_DIR/tests/stubs/product_api.py" --port 0 --port-file "$tmp/api.port" \
    --record "$tmp/api.jsonl" --dir "$tmp/api" >/dev/null 2>"$tmp/api.log" &
pids+=($!)
wait_for 10 test -s "$tmp/api.port" || fail "the upstream stub did not start"

iport=$(free_port)
"$H" invalidator --listen "127.0.0.1:$iport" >/dev/null 2>>"$tmp/invalidator.log" &
pids+=($!)
inv="http://127.0.0.1:$iport"
assigned() { curl -s "$inv/metrics" | grep -q '^hs_consumer_rebalances_total{[^}]*kind="assign"[^}]*} [1-9]'; }
wait_for 30 assigned || fail "the invalidator got no partitions"

pport=$(free_port) aport=$(free_port)
"$H" cache-proxy --upstream "http://127.0.0.1:$(cat "$tmp/api.port")" --listen "127.0.0.1:$pport" \
    --admin-listen "127.0.0.1:$aport" >/dev/null 2>"$tmp/proxy.log" &
pids+=($!)
proxy="http://127.0.0.1:$pport" admin="http://127.0.0.1:$aport"
wait_for 20 curl -fs "$admin/readyz" -o /dev/null || fail "cache-proxy not ready: $(tail -3 "$tmp/proxy.log")"

# get ID: the body of GET /products/ID for tenant acme in $BODY, its X-Cache in $XC
get() {
    BODY=$(curl -s -D "$tmp/headers" -H 'X-Tenant: acme' "$proxy/products/$1")
    XC=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^[Xx]-[Cc]ache: //p')
}
body_is() { get "$1"; [ "$BODY" = "$2" ]; }
updated() { # updated ID: a product.updated of tenant acme
    "$H" produce --type product.updated --topic "$topic" --tenant acme \
        "{\"product_id\":\"$1\",\"title\":\"Hat\",\"status\":\"active\",\"variants\":[],\"updated_at\":1700000000000}" \
        >/dev/null 2>>"$tmp/produce.log" || fail "produce product.updated $1"
}
metric() { curl -s "$1/metrics" | grep -E "^$2" | awk '{s+=$NF} END {print s+0}'; }

# ---- miss, hit, change, invalidation -----------------------------------------------------------
echo '{"id":"p1","price":"10.00"}' >api/p1.json
get p1
expect_match "$XC $BODY" '^MISS \{"id":"p1","price":"10.00"\}$' "first GET is a MISS with the upstream body"
get p1
expect_match "$XC $BODY" '^HIT-L1 \{"id":"p1","price":"10.00"\}$' "second GET is a HIT-L1"
echo '{"id":"p1","price":"12.00"}' >api/p1.json
get p1
expect_match "$XC $BODY" '^HIT-L1 .*"10.00"' "the cache answers the old body until an event says otherwise"
updated p1
wait_for 20 body_is p1 '{"id":"p1","price":"12.00"}' && pass "after product.updated the new body is served" ||
    fail "still $XC $BODY after product.updated"
get p1
expect_match "$XC $BODY" '^HIT-L1 .*"12.00"' "the new body is cached again"

# ---- a slow miss racing the invalidation is not cached -----------------------------------------
echo '{"id":"p2","price":"old"}' >api/p2.json
touch api/p2.hold
curl -s -H 'X-Tenant: acme' "$proxy/products/p2" >"$tmp/racer.body" &
racer=$!
held() { grep -q '"path":"/products/p2".*"held":true' "$tmp/api.jsonl"; }
wait_for 10 held || fail "the racing request did not reach the upstream"
echo '{"id":"p2","price":"new"}' >api/p2.json
rm api/p2.hold
updated p2
bumped() { [ "$(redis-cli -u "$HS_REDIS_URL" get "e2e:${run}:g:acme:product:p2")" = 1 ]; }
wait_for 20 bumped || fail "the invalidation of product:p2 did not happen"
touch api/p2.release
wait "$racer"
expect_match "$(cat "$tmp/racer.body")" '"old"' "the racing request gets the body it read before the change"
get p2
expect_match "$XC $BODY" '^MISS .*"new"' "the next GET is a MISS with the new body: the old one was not cached"
get p2
expect_match "$XC $BODY" '^HIT-L1 .*"new"' "and the new body is cached"
expect_match "$(metric "$admin" 'hs_cache_stale_rejections_total\{tier="l2"\}')" '^[1-9]' \
    "the proxy counted the stale-guard rejection"
expect_match "$(metric "$inv" 'hs_invalidator_events_total\{type="product.updated",outcome="invalidated"\}')" '^2$' \
    "the invalidator counted both events"
finish
