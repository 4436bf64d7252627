#!/usr/bin/env bash
# `hookstream invalidator` as a user meets it, against a Redis of the test's own seeded the way
# cache-proxy stores entries (SET entry + SADD into the tag set): a product.updated event deletes
# exactly its tenant's tagged entries, bumps the tag's generation and publishes the invalidation;
# an event without a rule, one whose template names a missing field and an undecodable one are
# counted and logged and the partition moves on. Then Redis goes down while events arrive: the
# invalidator holds their offsets through a SIGTERM and a kill -9, and once Redis is back every
# invalidation is applied.
source "$(dirname "$0")/lib.sh"
stack_test inv invalidator.log
topic="e2e.inv.$run"
"$H" topics create "$topic" --partitions 2 >/dev/null
export HS_INVALIDATOR_TOPICS="$topic" HS_INVALIDATOR_GROUP="e2e-inv-$run"
export HS_INVALIDATOR_RETRY_MAX_MS=200 HS_CONSUMER_SHUTDOWN_DEADLINE_MS=500
export HS_KAFKA_SESSION_TIMEOUT_MS=3000 HS_CONSUMER_REVOKE_WAIT_MS=200

rport=$(free_port)
mkdir "$tmp/redis"
start_redis() {
    redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --save "" --appendonly no \
        >>"$tmp/redis.log" 2>&1 &
    pids+=($!)
    wait_for 10 redis-cli -p "$rport" ping >/dev/null 2>&1 || fail "redis did not start"
}
start_redis
export HS_REDIS_URL="redis://127.0.0.1:$rport"
r() { redis-cli -p "$rport" "$@"; }
P="hs:cache:"

start_inv() {
    local port
    port=$(free_port)
    inv_url="http://127.0.0.1:$port"
    "$H" invalidator --listen "127.0.0.1:$port" >>"$tmp/invalidator.out" 2>>"$tmp/invalidator.log" &
    ipid=$!
    pids+=($ipid)
    wait_for 20 curl -fs "$inv_url/healthz" -o /dev/null ||
        fail "invalidator did not start: $(tail -5 "$tmp/invalidator.log")"
}
# metric REGEX: the sum of the samples whose line starts with REGEX
metric() { curl -s "$inv_url/metrics" | grep -E "^$1" | awk '{s+=$NF} END {print s+0}'; }
metric_ge() { [ "$(metric "$1")" -ge "$2" ]; }
product() { # product ID TENANT [KEY]
    "$H" produce --type product.updated --topic "$topic" --tenant "$2" ${3:+--key "$3"} \
        "{\"product_id\":\"$1\",\"title\":\"Hat\",\"status\":\"active\",\"variants\":[],\"updated_at\":1700000000000}" \
        >/dev/null || fail "produce product.updated $1"
}
seed() { # seed TENANT TAG ENTRY...: entries stored under TAG as the proxy does
    local t=$1 tag=$2; shift 2
    for e in "$@"; do r set "${P}e:$t:$e" "body of $e" >/dev/null; r sadd "${P}t:$t:$tag" "${P}e:$t:$e" >/dev/null; done
}
gone() { [ "$(r exists "$@")" = 0 ]; }
gen() { r get "${P}g:$1:$2"; }

# ---- a configuration error is named before anything starts ------------------------------------
printf 'invalidations:\n  customer.updated: ["customer:{data.id}"]\n' >bad.yaml
expect_rc 1 "a rule naming a field the type lacks is refused" -- "$H" invalidator -C bad.yaml
expect_match "$ERR" 'bad.yaml:2: invalidations.customer.updated: template "customer:\{data.id\}": customer.updated has no scalar field data.id' \
    "the error names file, line, type, template and field"
printf 'invalidations:\n  product.deleted: ["product:{data.product_id}"]\n' >bad.yaml
expect_rc 1 "an unknown event type is refused" -- "$H" invalidator -C bad.yaml
expect_match "$ERR" 'invalidations.product.deleted: no event type matches' "the error names the type"

# ---- invalidation ------------------------------------------------------------------------------
seed acme product:p-1 f1 f2
seed acme product:p-2 f3
seed other product:p-1 f4
redis-cli -p "$rport" subscribe "${P}invalidate" >"$tmp/published" 2>&1 &
pids+=($!)
start_inv
wait_for 10 curl -fs "$inv_url/readyz" -o /dev/null || fail "invalidator not ready"
product p-1 acme
wait_for 20 gone "${P}e:acme:f1" "${P}e:acme:f2" "${P}t:acme:product:p-1" ||
    fail "entries of product:p-1 not deleted"
[ "$(r exists "${P}e:acme:f3" "${P}e:other:f4")" = 2 ] && pass "other tags and tenants kept" ||
    fail "an entry of another tag or tenant was deleted"
[ "$(gen acme product:p-1)" = 1 ] && pass "generation bumped" || fail "generation $(gen acme product:p-1), want 1"
[ -z "$(gen other product:p-1)" ] && pass "other tenant's generation untouched" || fail "other tenant bumped"
wait_for 5 grep -qP '^acme\tproduct:p-1\t1$' "$tmp/published" &&
    pass "published tenant, tag, generation" || fail "not published: $(cat "$tmp/published")"
wait_for 5 metric_ge 'hs_invalidator_events_total\{type="product.updated",outcome="invalidated"\}' 1 ||
    fail "invalidated event not counted"
expect_match "$(metric hs_invalidator_tags_total)" '^1$' "one tag invalidation counted"
expect_match "$(metric hs_invalidator_keys_deleted_total)" '^2$' "two deleted entries counted"
expect_match "$(metric 'hs_invalidator_seconds_count')" '^1$' "latency observed"

# ---- bad input: no rule, missing field, undecodable; the partition moves on -------------------
"$H" produce --type order.placed --topic "$topic" --key p-2 '{"order_id":"o-1","customer":{"email":"a@b.c"},"currency":"EUR","total_price":"1.00","subtotal_price":"1.00","total_tax":"0.00","financial_status":"paid","line_items":[],"created_at":1700000000000,"updated_at":1700000000000}' >/dev/null
"$H" produce --type inventory.low --topic "$topic" --tenant acme --key p-2 \
    '{"inventory_item_id":"i-1","location_id":"l-1","available":1,"threshold":5,"updated_at":1700000000000}' >/dev/null
printf 'not avro' | kcat -P -b "$HS_KAFKA_BROKERS" -t "$topic" -k p-2 -H ce_specversion=1.0 \
    -H ce_id=bad-1 -H ce_type=product.updated -H ce_source=/e2e -H hs_tenant=acme
product p-2 acme p-2 # same key: runs only after the three before it finished
wait_for 20 gone "${P}e:acme:f3" || fail "the event after the bad ones was not processed"
expect_match "$(metric 'hs_invalidator_events_total\{type="order.placed",outcome="no_rule"\}')" '^1$' \
    "no rule counted"
expect_match "$(metric 'hs_invalidator_events_total\{type="inventory.low",outcome="missing_field"\}')" '^1$' \
    "missing field counted"
expect_match "$(grep 'names a missing field' "$tmp/invalidator.log")" '"field": ?"data.product_id".*"offset"|"offset".*"field": ?"data.product_id"' \
    "missing field logged with field and offset"
expect_match "$(metric 'hs_invalidator_events_total\{type="product.updated",outcome="undecodable"\}')" '^1$' \
    "undecodable counted"
expect_match "$(grep 'undecodable event skipped' "$tmp/invalidator.log")" '"offset"' "undecodable logged"

# ---- Redis down while events arrive: offsets held through SIGTERM and kill -9 ------------------
seed acme product:p-3 f5
r save >/dev/null
r shutdown save >/dev/null 2>&1
wait_for 5 bash -c "! redis-cli -p $rport ping >/dev/null 2>&1" || fail "redis still up"
for i in 3 4 5 6; do product "p-$i" acme; done
wait_for 20 metric_ge hs_invalidator_redis_errors_total 1 || fail "redis errors not counted"
code=$(curl -s -o /dev/null -w '%{http_code}' "$inv_url/readyz")
expect_match "$code" '^503$' "/readyz fails while redis is down"
expect_match "$(grep -c 'dependency unavailable' "$tmp/invalidator.log")" '^1$' "the outage is logged once"
kill -TERM "$ipid"
wait "$ipid"
rc=$?
[ "$rc" = 0 ] && pass "SIGTERM stops it while redis is down (exit 0)" ||
    fail "invalidator exited $rc on SIGTERM"
start_inv
wait_for 20 metric_ge hs_invalidator_redis_errors_total 1 || fail "restarted: redis errors not counted"
kill -9 "$ipid"
wait "$ipid" 2>/dev/null
start_inv
wait_for 20 metric_ge hs_invalidator_redis_errors_total 1 || fail "after kill -9: redis errors not counted"
start_redis
all_bumped() { for i in 3 4 5 6; do [ "$(gen acme "product:p-$i")" -ge 1 ] 2>/dev/null || return 1; done; }
wait_for 20 all_bumped && pass "every invalidation applied once redis is back" ||
    fail "generations after the outage: $(for i in 3 4 5 6; do printf '%s ' "$(gen acme product:p-$i)"; done)"
gone "${P}e:acme:f5" && pass "the entry stored before the outage is deleted" || fail "f5 survived"
wait_for 10 curl -fs "$inv_url/readyz" -o /dev/null && pass "/readyz recovers" || fail "/readyz still failing"
expect_match "$(grep -c 'available again' "$tmp/invalidator.log")" '^[1-9]' "the recovery is logged"
finish
