#!/usr/bin/env bash
# cache-proxy's singleflight against invalidations, made deterministic with an upstream that
# holds its answers until the test releases them (tests/stubs/product_api.py, .hold/.release)
# and a Redis of the test's own. Concurrent misses of one key still make one upstream call.
# A request that arrives after an invalidation never gets the answer of an upstream call that
# began before it: it must not wait for that call but make one of its own (and the requests
# after it share that one). Checked twice: the invalidation seen only in Redis's generations
# (written through a second proxy publishing on another channel, so the first proxy hears
# nothing), and with Redis down, seen only in the proxy's own L1 stamps (written through it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cache_lib.bash"
own_redis_test proxy1.log

mkdir api
/usr/bin/python3 "$HS_SOURCE_DIR/tests/stubs/product_api.py" --port 0 --port-file api.port \
    --record api.jsonl --dir api >/dev/null 2>api.log &
pids+=($!)
wait_for 10 test -s api.port || { fail "the upstream stub did not start"; exit 1; }

cat >routes.yaml <<'EOF'
cache_routes:
  - path: /products/{id}
    tags: ["product:{id}"]
    ttl: 10m
    l1_ttl: 1m
    write_through: true
EOF
upstream="http://127.0.0.1:$(cat api.port)"
start_proxy proxy1
start_proxy proxy2 --set cache.invalidation_channel=e2e-elsewhere
ready() { curl -fs "$1/readyz" -o /dev/null; }
wait_for 10 ready "$proxy1_admin" && wait_for 10 ready "$proxy2_admin" ||
    { fail "the proxies are not ready"; exit 1; }

# get NAME ID: GET /products/ID through proxy1 in the background into NAME.{hdr,body}
get() {
    curl -s -D "$1.hdr" -o "$1.body" "$proxy1/products/$2" &
    eval "$1_pid=$!"
}
xcache() { tr -d '\r' <"$1.hdr" | awk -F': ' 'tolower($1)=="x-cache" {print $2}'; }
upstream_gets() { jq -s --arg p "/products/$1" '[.[] | select(.method=="GET" and .path==$p)] | length' api.jsonl; }
upstream_gets_are() { [ "$(upstream_gets "$1")" = "$2" ]; }
metric() { curl -s "$proxy1_admin/metrics" | awk -v k="$1" '$1 == k {s+=$2} END {print s+0}'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
waits='hs_cache_singleflight_waits_total{route="/products/{id}"}'
put() { # put PROXY ID BODY: the write's status (BODY and a newline become the product)
    curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "$3"$'\n' "$1/products/$2"
}

# ---- concurrent misses: one upstream call ------------------------------------------------------
echo '{"id":"c","v":1}' >api/c.json
touch api/c.hold
for i in 1 2 3 4; do get "c$i" c; done
wait_for 10 metric_is "$waits" 3 || fail "3 of 4 concurrent misses should wait: $(metric "$waits")"
expect_match "$(upstream_gets c)" '^1$' "4 concurrent misses of one key: 1 upstream call"
touch api/c.release
wait "$c1_pid" "$c2_pid" "$c3_pid" "$c4_pid"
expect_match "$(cat c1.body c2.body c3.body c4.body | sort | uniq -c | tr -s ' ')" \
    '^ 4 \{"id":"c","v":1\}$' "all 4 got its answer"

# ---- an invalidation seen in Redis only --------------------------------------------------------
w0=$(metric "$waits")
echo '{"id":"p","v":"old"}' >api/p.json
touch api/p.hold
get a p
wait_for 10 upstream_gets_are p 1 || fail "the first GET did not reach the upstream"
expect_match "$(put "$proxy2" p '{"id":"p","v":"new"}')" '^200$' "the API changed through proxy2"
expect_match "$(redis-cli -p "$rport" get 'hs:cache:g::product:p')" '^1$' "product:p's generation moved"
expect_match "$(metric hs_cache_invalidations_received_total)" '^0$' \
    "proxy1 heard no message: only Redis's generations tell it"
get b p
get c p
wait_for 10 upstream_gets_are p 2 ||
    fail "a GET after the invalidation waited for the upstream call begun before it"
wait_for 10 metric_is "$waits" $((w0 + 1)) || fail "the 2 GETs after it should share one call"
expect_match "$(upstream_gets p)" '^2$' "the 2 GETs after it made one upstream call, not two"
touch api/p.release
wait "$a_pid" "$b_pid" "$c_pid"
expect_match "$(cat a.body)" '"old"' "the GET from before the change got the old body"
expect_match "$(cat b.body c.body | sort | uniq -c | tr -s ' ')" '^ 2 \{"id":"p","v":"new"\}$' \
    "both GETs from after the invalidation got the new body"
get d p
wait "$d_pid"
expect_match "$(xcache d) $(cat d.body)" '^HIT-L1 .*"new"' "the new body is cached, not the old"
expect_match "$(metric 'hs_cache_stale_rejections_total{tier="l2"}')" '^1$' \
    "the old answer's store was refused by the generation guard"

# ---- Redis down: an invalidation seen in the L1 stamps only ------------------------------------
redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1
wait_for 10 metric_is hs_cache_redis_up 0 || fail "proxy1 did not notice Redis going away"
echo '{"id":"q","v":"old"}' >api/q.json
touch api/q.hold
get a q
wait_for 10 upstream_gets_are q 1 || fail "the first GET did not reach the upstream"
expect_match "$(put "$proxy1" q '{"id":"q","v":"new"}')" '^200$' "the API changed through proxy1"
get b q
wait_for 10 upstream_gets_are q 2 ||
    fail "Redis down: a GET after a write-through waited for the upstream call begun before it"
touch api/q.release
wait "$a_pid" "$b_pid"
expect_match "$(cat a.body) $(cat b.body)" '"old".*"new"' \
    "Redis down: the GET from after the write got the new body"
get d q
wait "$d_pid"
expect_match "$(xcache d) $(cat d.body)" '^HIT-L1 .*"new"' "Redis down: the new body is in L1"
expect_match "$(metric 'hs_cache_stale_rejections_total{tier="l1"}')" '^[1-9]' \
    "the old answer's L1 insert was refused by the stamp guard"

kill -TERM "$proxy1_pid"
wait "$proxy1_pid"
expect_match "$?" '^0$' "proxy1 stops cleanly on SIGTERM (under ASan: nothing leaked)"
finish
