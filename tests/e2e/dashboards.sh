#!/usr/bin/env bash
# The Grafana dashboards stay honest: every ops/grafana/dashboards/*.json has the structure our
# conventions ask for (always checked), and, against the dev stack's Prometheus and Postgres,
# every panel query runs without error and returns data once a little traffic went through:
# webhooks (good, bad signature, duplicate, unmapped, unparseable), an undecodable event (dead
# letters), deliveries to a receiver stub (one endpoint that answers 200, one that answers 500),
# two workflows (one completes, one fails after a retry), the events the business views count
# (customers, low stock, SLA breaches, payments), and cache-proxy requests (L1 and L2 hits,
# misses, a bypass, an upstream 5xx, a proxy whose Redis is down, an invalidation). tests/e2e/dashboards.py runs the queries; see ops/grafana/README.md.
source "$(dirname "$0")/lib.sh"
H=$HOOKSTREAM
dashboards=("$HS_SOURCE_DIR"/ops/grafana/dashboards/*.json)
check() { /usr/bin/python3 "$HS_SOURCE_DIR/tests/e2e/dashboards.py" "$@" "${dashboards[@]}"; }

expect_rc 0 "the dashboards' structure" -- check --structure-only
[ "$RC" = 0 ] || echo "$OUT"
# The checker can fail: a dashboard whose uid is not its file name, with an unknown data source, a
# macro Grafana does not have, an undefined variable and a SQL target without format, is refused.
bad=$(mktemp -d)
cat >"$bad/renamed.json" <<'EOF'
{"uid": "overview", "title": "bad", "schemaVersion": 39, "templating": {"list": []},
 "panels": [
  {"id": 1, "type": "timeseries", "title": "a", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
   "datasource": {"type": "prometheus", "uid": "nope"}, "targets": [{"refId": "A", "expr": "up"}]},
  {"id": 2, "type": "timeseries", "title": "b", "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8},
   "datasource": {"type": "prometheus", "uid": "hs-prometheus"},
   "targets": [{"refId": "A", "expr": "rate(x{a=~\"$shop\"}[$__foo])"}]},
  {"id": 3, "type": "table", "title": "c", "gridPos": {"x": 0, "y": 8, "w": 24, "h": 8},
   "datasource": {"type": "grafana-postgresql-datasource", "uid": "hs-postgres"},
   "targets": [{"refId": "A", "rawSql": "SELECT 1"}]}]}
EOF
expect_rc 1 "a broken dashboard is refused" -- /usr/bin/python3 "$HS_SOURCE_DIR/tests/e2e/dashboards.py" \
    --structure-only "$bad/renamed.json"
expect_match "$OUT" "uid 'overview' is not the file name 'renamed'" "naming the uid"
expect_match "$OUT" "panel 'a' target A: unknown data source" "naming the data source"
expect_match "$OUT" 'panel .b. target A: macro \$__foo is not allowed' "naming the macro"
expect_match "$OUT" 'panel .b. target A: variable \$shop is not defined' "naming the variable"
expect_match "$OUT" "panel 'c' target A: format None" "naming the SQL target without format"
rm -rf "$bad"

if [ -z "${HS_PROMETHEUS_URL:-}" ] || [ -z "${HS_DEV_DIR:-}" ] || [ -z "${HS_WEBHOOKS_URL:-}" ]; then
    echo "skipped: the queries need the dev stack with Prometheus (HS_PROMETHEUS_URL, HS_DEV_DIR," \
        "HS_WEBHOOKS_URL from D/env; Prometheus is the Debian package prometheus)"
    finish
    exit 0
fi

tmp=$(mktemp -d)
pids=()
endpoints=()
run=$$$(date +%s)
wfdir="$HS_DEV_DIR/workflows"
cleanup() {
    ((E2E_FAILS > 0)) && failed_summary
    for id in "${endpoints[@]}"; do "$H" endpoints delete "$id" >/dev/null 2>&1; done
    rm -f "$wfdir/e2e-dash-$run".yaml "$wfdir/e2e-dash-fail-$run".yaml
    rm -f "$HS_DEV_DIR"/prometheus/targets/e2e-dash-*-"$run".json
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- services being written: their panels may be empty until this build has them ----------------
absent=()
has_cache=0
"$H" cache-proxy --help >/dev/null 2>&1 && has_cache=1 || { absent+=(--absent hs_cache_); echo "note: no cache-proxy in this build"; }
"$H" analytics --help >/dev/null 2>&1 || { absent+=(--absent hs_analytics_); echo "note: no analytics in this build"; }

# ---- cache: an upstream stub, a proxy on the stack's Redis and one whose Redis is down ------------
lines_at_least() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
# start_proxy NAME REDIS: cache-proxy with the routes below; sets NAME_url; Prometheus scrapes it
# through a target file of its own (its admin address is added to proxy_admins).
start_proxy() {
    "$H" cache-proxy --config "$tmp/routes.yaml" --upstream "$upstream" --listen 127.0.0.1:0 \
        --admin-listen 127.0.0.1:0 --redis "$2" >"$tmp/$1.out" 2>>"$tmp/$1.log" &
    pids+=($!)
    wait_for 10 lines_at_least "$tmp/$1.out" 2 || fail "cache-proxy $1 did not start: $(tail -3 "$tmp/$1.log")"
    printf -v "$1_url" '%s' "$(sed -n 1p "$tmp/$1.out")"
    local admin
    admin=$(sed -n 2p "$tmp/$1.out" | sed 's|^http://||')
    printf '[{"targets": ["%s"], "labels": {"job": "cache-proxy"}}]\n' "$admin" \
        >"$HS_DEV_DIR/prometheus/targets/e2e-dash-$1-$run.json"
    proxy_admins+=("$admin")
}
proxy_admins=()
target_up() { # target_up HOST:PORT: Prometheus discovered and scraped it
    curl -s "$HS_PROMETHEUS_URL/api/v1/targets" |
        jq -e --arg a "$1" 'any(.data.activeTargets[]; .labels.instance == $a and .health == "up")' >/dev/null
}
if ((has_cache)); then
    /usr/bin/python3 "$HS_SOURCE_DIR/tests/stubs/cache_upstream.py" --port 0 --port-file "$tmp/up.port" \
        --record "$tmp/up.jsonl" >/dev/null 2>"$tmp/up.log" &
    pids+=($!)
    wait_for 5 test -s "$tmp/up.port" || fail "the upstream stub did not start"
    upstream="http://127.0.0.1:$(cat "$tmp/up.port")"
    # products stay in L1 (hits there); customers only in Redis (hits in L2)
    printf 'cache_routes:\n  - {path: "/products/{id}", tags: ["product:{id}"], ttl: 10m, l1_ttl: 2m}\n' >"$tmp/routes.yaml"
    printf '  - {path: "/customers/{id}", tags: ["customer:{id}"], ttl: 10m, l1_ttl: 0s}\n' >>"$tmp/routes.yaml"
    start_proxy proxy "$HS_REDIS_URL"
    start_proxy noredis "redis://127.0.0.1:$(free_port)"
fi
# ---- receivers and endpoints ---------------------------------------------------------------------
start_stub recv --fail /fail=500:100000
order_id="9$(date +%s%N | cut -c1-14)" # the order of this run only
filter="{\"==\": [{\"var\": \"data.order_id\"}, \"$order_id\"]}"
for path in ok fail; do
    expect_rc 0 "endpoint /$path" -- "$H" endpoints add --url "$recv_url/$path" --events 'order.*' \
        --filter "$filter" --policy 200ms,200ms --json
    id=$(jq -r .id <<<"$OUT" 2>/dev/null)
    [ -n "$id" ] && [ "$id" != null ] && endpoints+=("$id")
done

# ---- workflows: one completes, one fails after a retry -------------------------------------------
cat >"$wfdir/e2e-dash-$run.yaml" <<EOF
name: e2e-dash-$run
trigger:
  events: [order.placed]
  condition: {"==": [{"var": "event.data.order_id"}, "$order_id"]}
steps:
  - {id: call, type: http, method: POST, url: "$recv_url/wf", body: {order: "{{ event.data.order_id }}"}}
  - {id: note, type: log, message: "order {{ event.data.order_id }} done"}
EOF
cat >"$wfdir/e2e-dash-fail-$run.yaml" <<EOF
name: e2e-dash-fail-$run
trigger:
  events: [order.placed]
  condition: {"==": [{"var": "event.data.order_id"}, "$order_id"]}
steps:
  - id: call
    type: http
    url: "$recv_url/fail"
    retry: {initial_interval: 100ms, maximum_attempts: 2}
EOF
loaded() { "$H" workflows list 2>/dev/null | grep -q "e2e-dash-fail-$run"; }
wait_for 15 loaded && pass "the workflows are loaded" || fail "workflows did not load: $("$H" workflows list 2>&1 | tail -3)"
# The proxies' counters must be scraped before the first wave, or the first scrape holds both
# waves and their rates show no increase (Prometheus applies new targets every 5 s).
for a in "${proxy_admins[@]}"; do
    wait_for 20 target_up "$a" || fail "Prometheus did not scrape the cache-proxy at $a"
done

xcache() { curl -s -o /dev/null -D - -H "X-Tenant: e2e-$run" "$@" | tr -d '\r' | sed -n 's/^[Xx]-[Cc]ache: //p'; }
# cache_wave N: a miss then an L1 hit, a miss then an L2 hit, a bypass, an upstream 5xx, and a
# product.updated event the invalidator turns into an L1 eviction
cache_wave() {
    ((has_cache)) || return 0
    local p="/products/$run$1" c="/customers/$run$1" got
    got="$(xcache "$proxy_url$p") $(xcache "$proxy_url$p") $(xcache "$proxy_url$c") $(xcache "$proxy_url$c")"
    got+=" $(xcache -H 'Cache-Control: no-cache' "$proxy_url$p")"
    expect_match "$got" '^MISS HIT-L1 MISS HIT-L2 (BYPASS|MISS)$' "cache wave $1: misses, L1 and L2 hits, a bypass"
    curl -s -o /dev/null -H "X-Tenant: e2e-$run" "$proxy_url/products/x$run?status=503"
    xcache "$noredis_url$p" >/dev/null
    "$H" produce --type product.updated --tenant "e2e-$run" \
        "{\"product_id\":\"$run$1\",\"title\":\"Hat\",\"status\":\"active\",\"variants\":[],\"updated_at\":1700000000000}" \
        >/dev/null 2>"$tmp/produce.err" || fail "produce product.updated: $(cat "$tmp/produce.err")"
}

# ---- traffic -------------------------------------------------------------------------------------
data="$HS_SOURCE_DIR/tests/data/mapping/shopify"
secret=shpss_hookstream_demo # the dev stack's demo source (src/dev_parts.c)
# (sed, not jq: jq's numbers are doubles, and an order id is a 64-bit integer)
sed "0,/\"id\": [0-9]*/s//\"id\": $order_id/" "$data/orders_create/body" >"$tmp/order"
post() { # post TOPIC BODY WEBHOOK_ID [SIGNATURE]: prints the status
    local sig=${4:-$(openssl dgst -sha256 -hmac "$secret" -binary "$2" | base64)}
    curl -s -o /dev/null -w '%{http_code}' -X POST "$HS_WEBHOOKS_URL/webhooks/demo" \
        -H 'Content-Type: application/json' -H "X-Shopify-Topic: $1" -H "X-Shopify-Hmac-Sha256: $sig" \
        -H "X-Shopify-Webhook-Id: $3" -H 'X-Shopify-Shop-Domain: example.myshopify.com' \
        --data-binary "@$2"
}
wave() { # wave N: a round of every kind of webhook, and an undecodable event
    local codes="" i
    for i in 1 2; do codes+="$(post orders/create "$tmp/order" "dash-$run-$1-$i") "; done
    codes+="$(post orders/create "$tmp/order" "dash-$run-$1-1") "
    codes+="$(post orders/create "$tmp/order" "dash-$run-$1-bad" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=) "
    codes+="$(post app/uninstalled "$data/unmapped_topic/body" "dash-$run-$1-unmapped") "
    codes+="$(post orders/create "$data/unparseable_body/body" "dash-$run-$1-unparseable")"
    expect_match "$codes" '^202 202 200 401 20[02] 20[02]$' "wave $1: accepted, duplicate, 401, unmapped, unparseable"
    printf 'not an event %s\n' "$run" | kcat -P -b "$HS_KAFKA_BROKERS" -t hs.events.orders -k "$order_id" 2>/dev/null ||
        fail "kcat could not produce the undecodable event"
    business_events "$1"
}
# business_events N: what the business views count besides orders (analytics, business.json)
business_events() {
    local now id="e2e-$run-$1"
    now=$(($(date +%s) * 1000))
    {
        printf '{"type":"customer.created","data":{"customer_id":"%s","email":"%s@example.com","accepts_marketing":false,"tags":[],"created_at":%s,"attributes":{}}}\n' "$id" "$id" "$now"
        printf '{"type":"inventory.low","data":{"inventory_item_id":"%s","sku":"SKU-%s","product_id":"%s","location_id":"l1","available":3,"threshold":10,"updated_at":%s,"attributes":{}}}\n' "$id" "$id" "$id" "$now"
        printf '{"type":"support.sla.breached","data":{"ticket_id":"%s","ticket_kind":"conversation","policy":"first_reply","metric":"first_reply","target_minutes":15,"breached_at":%s,"attributes":{}}}\n' "$id" "$now"
        printf '{"type":"payment.succeeded","data":{"payment_id":"%s","amount":1200,"currency":"EUR","created_at":%s,"attributes":{}}}\n' "$id" "$now"
    } >"$tmp/business.jsonl"
    "$H" produce --from-file "$tmp/business.jsonl" >/dev/null 2>"$tmp/produce.err" ||
        fail "produce the business events: $(cat "$tmp/produce.err")"
}
# finished N: the runs of both workflows of wave 1..N ended (2 accepted orders a wave)
finished() {
    [ "$(sql "SELECT count(*) FROM workflow_runs WHERE workflow LIKE 'e2e-dash%-$run'
              AND status IN ('completed', 'failed')")" -ge $(($1 * 4)) ]
}
# scraped_since T: every target's last scrape started after unix time T (so Prometheus holds what
# every service counted before T)
scraped_since() {
    curl -s "$HS_PROMETHEUS_URL/api/v1/targets" | jq -e --argjson t "$1" '
        def unix: capture("^(?<d>[^.]+?)(\\.[0-9]+)?(?<z>Z|[+-][0-9]{2}:[0-9]{2})$") |
            (.d + "Z" | fromdateiso8601) - (if .z == "Z" then 0 else
                ((.z[1:3] | tonumber) * 3600 + (.z[4:6] | tonumber) * 60) *
                (if .z[0:1] == "-" then -1 else 1 end) end);
        [.data.activeTargets[] | .lastScrape | unix] | length > 0 and min > $t' >/dev/null 2>&1
}
# Two waves with a scrape of their effects between them, so that rates and quantiles have an
# increase to show even on a fresh stack.
wave 1
cache_wave 1
wait_for 20 finished 1 || fail "wave 1: the workflow runs did not end"
# analytics flushes every second: one more for its counters
t=$(($(date +%s) + 1))
wait_for 20 scraped_since "$t" && pass "Prometheus scraped the effects of wave 1" ||
    fail "wave 1: not every target was scraped after it ($(curl -s "$HS_PROMETHEUS_URL/api/v1/targets" |
        jq -c '[.data.activeTargets[] | {job: .labels.job, health, lastScrape, lastError}]'))"
wave 2
cache_wave 2
wait_for 20 finished 2 || fail "wave 2: the workflow runs did not end"

# ---- every panel returns data ----------------------------------------------------------------------
# Deliveries, workflow runs and the consumers' lag statistics (every 5 s) reach Prometheus a few
# scrapes later: the whole check runs again until it passes or the deadline.
all_pass() { check --prometheus "$HS_PROMETHEUS_URL" --dsn "$HS_POSTGRES_DSN" "${absent[@]}" >"$tmp/check" 2>&1; }
if wait_for 40 all_pass; then
    pass "every panel query of ${#dashboards[@]} dashboards returns data ($(grep -c "^ok:" "$tmp/check") targets, ${SECONDS} s)"
else
    while read -r line; do fail "${line#FAIL: }"; done < <(grep '^FAIL' "$tmp/check")
fi
# ... and a panel without data is caught: a copy of a dashboard with one query for a metric that
# does not exist, and one SQL query that finds no row.
jq '.uid = "nodata" | .panels[0].targets[0].expr = "sum(hs_no_such_metric_total)"
    | .panels += [{"id": 999, "type": "table", "title": "no rows", "gridPos": {"x": 0, "y": 99, "w": 24, "h": 4},
        "datasource": {"type": "grafana-postgresql-datasource", "uid": "hs-postgres"},
        "targets": [{"refId": "A", "rawSql": "SELECT id FROM endpoints WHERE false", "format": "table"}]}]' \
    "$HS_SOURCE_DIR/ops/grafana/dashboards/overview.json" >"$tmp/nodata.json"
expect_rc 1 "a panel without data fails the check" -- /usr/bin/python3 "$HS_SOURCE_DIR/tests/e2e/dashboards.py" \
    --prometheus "$HS_PROMETHEUS_URL" --dsn "$HS_POSTGRES_DSN" "$tmp/nodata.json"
expect_match "$OUT" "nodata.json panel .* target A: no data: sum\(hs_no_such_metric_total\)" "naming the panel and query"
expect_match "$OUT" "nodata.json panel 'no rows' target A: no rows" "and the SQL panel without rows"
finish
