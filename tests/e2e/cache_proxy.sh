#!/usr/bin/env bash
# cache-proxy as a user meets it: `hookstream cache-proxy` in front of an upstream stub
# (tests/stubs/cache_upstream.py, which counts its calls) with a Redis of the test's own
# (started here, so it can be stopped). MISS then HIT-L1, a restart then HIT-L2, tenants and
# vary headers kept apart, no-cache, singleflight, 5xx and timeouts never cached,
# stale_if_error, oversized and private answers not cached, write-through invalidation,
# invalidation messages dropping L1, and Redis stopped (still serving, counted, logged once)
# and back (the L1 is dropped once the subscription is made again).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cache_lib.bash"
own_redis_test proxy.log

/usr/bin/python3 "$HS_SOURCE_DIR/tests/stubs/cache_upstream.py" --port 0 --port-file up.port \
    --record up.jsonl >/dev/null 2>up.log &
pids+=($!)
wait_for 5 test -s up.port || fail "the upstream stub did not start"
up="http://127.0.0.1:$(cat up.port)" upstream=$up

cat >routes.yaml <<'EOF'
cache_routes:
  - path: /products/{id}
    tags: ["product:{id}"]
    ttl: 10m
    l1_ttl: 2m
    vary: [Accept]
    write_through: true
  - path: /customers/{id}
    tags: ["customer:{id}"]
  - path: /stale/{id}
    tags: ["stale:{id}"]
    ttl: 1s
    l1_ttl: 0s
    stale_if_error: 1h
EOF
export HS_CACHE_UPSTREAM_TIMEOUT_MS=1000
export HS_CACHE_MAX_OBJECT_BYTES=1000 HS_CACHE_MAX_RESPONSE_BYTES=100000 HS_CACHE_WORKERS=16
restart_proxy() { # P, A: the proxy and its admin URL, ppid_ its pid
    start_proxy proxy
    P=$proxy A=$proxy_admin ppid_=$proxy_pid
}
restart_proxy

# get PATH [CURL ARGS...]: sets ST (status), XC (X-Cache), AGE, BODY
get() {
    local path=$1; shift
    curl -s -D hdr -o body "$@" "$P$path"
    ST=$(awk 'NR==1 {print $2}' hdr)
    XC=$(tr -d '\r' <hdr | awk -F': ' 'tolower($1)=="x-cache" {print $2}')
    AGE=$(tr -d '\r' <hdr | awk -F': ' 'tolower($1)=="age" {print $2}')
    BODY=$(cat body)
}
calls() { curl -s "$up/_calls" | jq -r --arg k "GET $1" '.[$k] // 0'; }
metric() { curl -s "$A/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_above() { [ "$(metric "$1")" -gt "$2" ]; }
expect_eq() { if [ "$1" = "$2" ]; then pass "$3"; else fail "$3: got '$1', want '$2'"; fi; }

# ---- tiers ------------------------------------------------------------------------------------
get /products/1
expect_eq "$ST $XC" "200 MISS" "first GET is a MISS"
get /products/1
expect_eq "$ST $XC" "200 HIT-L1" "second GET is a HIT-L1"
[ -n "$AGE" ] && pass "hits carry Age ($AGE)" || fail "no Age on a hit"
expect_eq "$(calls /products/1)" 1 "the upstream was called once"
expect_eq "$(jq -r .hop <<<"$BODY") $(jq -r .xff <<<"$BODY")" "null 127.0.0.1" \
    "hop-by-hop headers dropped, X-Forwarded-For added"
grep -qi '^x-hop' hdr && fail "the upstream's Connection-listed header reached the client" ||
    pass "the upstream's hop-by-hop headers are not passed on"
kill "$ppid_"; wait "$ppid_" 2>/dev/null
restart_proxy
get /products/1
expect_eq "$ST $XC" "200 HIT-L2" "after a restart the answer comes from Redis"
expect_eq "$(calls /products/1)" 1 "still one upstream call"

# ---- the key: tenant, vary --------------------------------------------------------------------
get /customers/7 -H 'X-Tenant: acme'
a=$BODY
get /customers/7 -H 'X-Tenant: beta'
expect_eq "$XC $(jq -r .tenant <<<"$BODY")" "MISS beta" "another tenant is another entry"
get /customers/7 -H 'X-Tenant: acme'
expect_eq "$XC $BODY" "HIT-L1 $a" "each tenant gets its own answer"
get /customers/7 -H 'X-Tenant: a:b'
expect_eq "$ST" 400 "a malformed tenant is refused"
get /products/2 -H 'Accept: application/json'
get /products/2 -H 'Accept: text/plain'
expect_eq "$XC $(jq -r .accept <<<"$BODY")" "MISS text/plain" "a vary header is part of the key"
get /products/2 -H 'Accept: application/json'
expect_eq "$XC $(jq -r .accept <<<"$BODY")" "HIT-L1 application/json" "same vary value: a hit"
get /products/2 -H 'Accept: application/json' -H 'Authorization: Bearer x'
expect_eq "$XC" BYPASS "credentials the route does not vary on pass through"

# ---- no-cache, singleflight ---------------------------------------------------------------------
get /products/1 -H 'Cache-Control: no-cache'
expect_eq "$XC $(calls /products/1)" "BYPASS 2" "no-cache goes to the upstream"
fresh=$(jq -r .call <<<"$BODY")
get /products/1
expect_eq "$XC $(jq -r .call <<<"$BODY")" "HIT-L1 $fresh" "and refreshes the cache"
sf=()
for i in $(seq 10); do
    curl -s -o "sfbody$i" -w '%{http_code}' "$P/products/sf?sleep=0.5" >"sfcode$i" &
    sf+=($!)
done
wait "${sf[@]}"
expect_eq "$(cat sfcode* | tr -d '\n')" "$(printf '200%.0s' $(seq 10))" "10 concurrent misses of one key answered 200"
expect_eq "$(calls /products/sf)" 1 "10 concurrent misses made 1 upstream call"
expect_eq "$(md5sum sfbody* | awk '{print $1}' | sort -u | wc -l)" 1 "all 10 got the same answer"
w=$(metric 'hs_cache_singleflight_waits_total{route="/products/{id}"}')
[ "${w:-0}" -ge 9 ] && pass "9 waits counted ($w)" || fail "singleflight waits: $w"

# ---- bad answers --------------------------------------------------------------------------------
get '/products/e?status=500'
get '/products/e?status=500'
expect_eq "$ST $XC $(calls /products/e)" "500 MISS 2" "a 5xx is passed on and never cached"
get '/products/slow?sleep=2'
expect_eq "$ST" 504 "an upstream past cache.upstream_timeout_ms is 504"
grep -q '"msg":"upstream call failed".*"route":"/products/{id}".*"status":500.*"latency_s"' proxy.log &&
    pass "upstream errors are logged with route, status and latency" || fail "no upstream error log"
get '/products/big?size=5000'
get '/products/big?size=5000'
expect_eq "$ST $XC ${#BODY} $(calls /products/big)" "200 MISS 5000 2" \
    "an answer over cache.max_object_bytes passes through uncached"
get '/products/huge?size=200000'
expect_eq "$ST" 502 "an answer over cache.max_response_bytes is 502"
get '/products/ns?cc=no-store'
get '/products/ns?cc=no-store'
expect_eq "$(calls /products/ns)" 2 "Cache-Control no-store is not cached"
get '/products/ck?cookie=1'
get '/products/ck?cookie=1'
expect_eq "$(calls /products/ck) $XC" "2 MISS" "an answer setting a cookie is not cached"
e=$(metric 'hs_cache_upstream_errors_total{route="/products/{id}",reason="status_5xx"}')
expect_eq "$e" 2 "5xx counted as upstream errors"

# ---- stale_if_error -----------------------------------------------------------------------------
get /stale/1
good=$BODY
sleep 1.1 # past the 1 s ttl
curl -s -X POST "$up/_down" >/dev/null
get /stale/1
expect_eq "$ST $XC $BODY" "200 STALE $good" "the upstream failing: the last good copy, X-Cache STALE"
get /stale/2
expect_eq "$ST" 503 "no copy to fall back on: the upstream's error"
curl -s -X POST "$up/_up" >/dev/null
get /stale/1
expect_eq "$XC" MISS "the upstream back: fresh again"

# ---- invalidation -------------------------------------------------------------------------------
get /products/5
v1=$(jq -r .version <<<"$BODY")
get /products/5
expect_eq "$XC" HIT-L1 "cached before the write"
curl -s -o /dev/null -w '%{http_code}' -X PUT -d '{"v":2}' "$P/products/5" >st
expect_eq "$(cat st)" 200 "PUT through a write_through route"
get /products/5
expect_eq "$XC $(jq -r .version <<<"$BODY")" "MISS $((v1 + 1))" "the write invalidated both tiers"
[ "$(redis-cli -p "$rport" get 'hs:cache:g::product:5')" = 1 ] && pass "the tag's generation moved" ||
    fail "generation of product:5"
get /customers/9
get /customers/9
expect_eq "$XC" HIT-L1 "in L1"
redis-cli -p "$rport" publish hs:cache:invalidate "$(printf '\tcustomer:9\t1')" >/dev/null
wait_for 3 bash -c "curl -s -D - -o /dev/null $P/customers/9 | grep -q 'X-Cache: HIT-L2'" &&
    pass "a published invalidation drops the L1 entry" || fail "L1 entry survived the message"
redis-cli -p "$rport" publish hs:cache:invalidate "garbage" >/dev/null
wait_for 3 grep -q 'malformed invalidation message ignored' proxy.log &&
    pass "a malformed message is logged and ignored" || fail "malformed message"

# ---- Redis down and back ------------------------------------------------------------------------
redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1
get /products/1
expect_eq "$ST $XC" "200 HIT-L1" "Redis down: L1 still answers"
get /products/r1
get /products/r1
expect_eq "$ST $(calls /products/r1)" "200 1" "Redis down: misses go upstream and fill L1"
for i in 1 2 3; do get "/products/r$((i + 1))"; done
expect_eq "$(metric hs_cache_redis_up)" 0 "hs_cache_redis_up is 0"
errs=$(metric 'hs_cache_redis_errors_total{op="get"}')
[ "${errs:-0}" -ge 3 ] && pass "Redis errors counted ($errs)" || fail "redis errors: $errs"
expect_eq "$(grep -c 'redis unavailable' proxy.log)" 1 "the outage is logged once"
flushes=$(metric hs_cache_l1_flushes_total)
start_redis
wait_for 10 metric_is hs_cache_redis_up 1 || fail "hs_cache_redis_up did not come back"
wait_for 10 metric_above hs_cache_l1_flushes_total "$flushes" &&
    pass "resubscribed: the L1 was dropped" || fail "no L1 flush after the subscription came back"
get /products/1
expect_eq "$XC" MISS "after the outage nothing old is served from L1"
get /products/1
expect_eq "$XC" HIT-L1 "and caching works again"

kill "$ppid_"
wait "$ppid_"
rc=$?
grep -q '"msg":"cache-proxy stopped"' proxy.log && [ "$rc" = 0 ] && pass "stops on SIGTERM, exit 0" ||
    fail "no clean stop (exit $rc)"
finish
