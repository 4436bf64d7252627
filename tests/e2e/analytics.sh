#!/usr/bin/env bash
# What `hookstream analytics` does, as a user sees it: a known mix of events ends up in the
# windows and business views with exact counts and revenue (also when the stored offsets lie
# past the partitions' ends: a recreated topic is read from its start); malformed records go to
# <group>.dlq with their reason while the events after them are counted; a late event updates
# its own (old) window; while Postgres refuses the service's connections it stops committing,
# says so on /readyz and retries, and afterwards the totals are exact. (kill -9 under load:
# analytics_kill.sh.)
source "$(dirname "$0")/lib.sh"
stack_test analytics analytics.log
topic="e2e.an.$run"
group="e2e-an-$run"
role="e2e_an_$run"
"$H" topics create "$topic" --partitions 3 >/dev/null
export HS_ANALYTICS_FLUSH_MS=200 HS_ANALYTICS_RETRY_MAX_MS=400

# analytics logs in as a role of its own, so the outage below concerns it alone
an_cleanup() {
    deliver_cleanup
    psql -q "$E2E_ADMIN_DSN" -c "drop role if exists $role" >/dev/null 2>&1
}
trap an_cleanup EXIT
sql "create role $role login; grant all on schema public to $role;
     grant all on all tables in schema public to $role;
     grant all on all sequences in schema public to $role;
     grant all on all functions in schema public to $role" || fail "create role $role"
an_dsn=$(sed -E "s#^(postgres(ql)?://)([^@/]*@)?#\1$role@#" <<<"$HS_POSTGRES_DSN")

# stored offsets past the partitions' ends (the topic was recreated): read again from the start
sql "insert into consumer_offsets (group_id, topic, partition, next_offset)
     select '$group', '$topic', p, 1000000 from generate_series(0, 2) p" || fail "store offsets"

port=$(free_port)
an_url="http://127.0.0.1:$port"
HS_POSTGRES_DSN=$an_dsn "$H" analytics --listen "127.0.0.1:$port" --topics "$topic" \
    --group "$group" >"$tmp/analytics.out" 2>"$tmp/analytics.log" &
pids+=($!)
wait_for 20 curl -fs "$an_url/healthz" -o /dev/null || fail "analytics did not start"

total() { sql "select coalesce(sum(events), 0) from analytics_minute where source like '/e2e/%'"; }
offsets() { sql "select coalesce(sum(next_offset), 0) from consumer_offsets where group_id = '$group'"; }
metric() { curl -s "$an_url/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
produce() { "$H" produce --topic "$topic" --from-file "$1" >/dev/null 2>>"$tmp/produce.log"; }
now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
# conditions wait_for polls (it runs a command, so each poll reads afresh)
total_is() { test "$(total)" = "$1"; }
window_is() { test "$(sql "select events from analytics_minute where bucket = '$1'")" = "$2"; }
metric_ge() { test "$(metric "$1")" -ge "$2"; }

# ---- a known mix ---------------------------------------------------------------------------
t=$(now)
ev() { # type tenant data
    printf '{"type":"%s","tenant":"%s","source":"/e2e/%s","time":"%s","data":%s}\n' \
        "$1" "$2" "$2" "$t" "$3"
}
order() { # tenant id currency total customer
    ev order.placed "$1" "{\"order_id\":\"$2\",\"customer\":{\"id\":\"$5\",\"email\":\"x@y.z\"},
        \"currency\":\"$3\",\"total_price\":\"$4\",\"subtotal_price\":\"$4\",\"total_tax\":\"0\",
        \"financial_status\":\"paid\",\"line_items\":[],\"created_at\":1,\"updated_at\":1}" |
        tr -d '\n'
    echo
}
{
    order acme o1 EUR 10.00 c1
    order acme o2 EUR 20.50 c2
    order acme o3 EUR 30.25 c1
    order acme o4 EUR 100 c3
    order globex o5 USD 5.00 c9
    order globex o6 USD 7 c9
    for i in 1 2 3; do
        ev payment.succeeded acme "{\"payment_id\":\"p$i\",\"amount\":1999,\"currency\":\"usd\",\"customer_id\":\"c1\",\"created_at\":1}"
    done
    for c in n1 n2; do
        ev customer.created acme "{\"customer_id\":\"$c\",\"email\":\"$c@y.z\",\"accepts_marketing\":false,\"tags\":[],\"created_at\":1}"
    done
    ev customer.created globex '{"customer_id":"n3","email":"n3@y.z","accepts_marketing":false,"tags":[],"created_at":1}'
    ev inventory.low acme '{"inventory_item_id":"i1","sku":"HAT-1","location_id":"l1","available":2,"threshold":5,"updated_at":1}'
    ev support.sla.breached acme '{"ticket_id":"t1","ticket_kind":"ticket","policy":"gold","metric":"first_reply_time","target_minutes":60,"breached_at":1}'
} >"$tmp/mix.jsonl"
produce "$tmp/mix.jsonl" || fail "produce the mix: $(tail -2 "$tmp/produce.log")"
wait_for 20 total_is 14 || fail "mix: $(total) of 14 events counted"
expect_match "$(sql "select event_type, sum(events) from analytics_minute group by 1 order by 1" |
    tr '\n' ' ')" '^customer.created\|3 inventory.low\|1 order.placed\|6 payment.succeeded\|3 support.sla.breached\|1 $' \
    "counts per type"
expect_match "$(sql "select tenant, currency, revenue, orders from analytics_revenue_hourly order by 1" |
    tr '\n' ' ')" '^acme\|EUR\|160.7500\|4 globex\|USD\|12.0000\|2 $' "revenue per currency"
expect_match "$(sql "select amount_sum, amount_min, amount_max from analytics_hourly where event_type = 'payment.succeeded'")" \
    '^59.9700\|19.9900\|19.9900$' "payments in USD from minor units"
expect_match "$(sql "select sum(new_customers) from analytics_new_customers_hourly")" '^3$' "new customers"
expect_match "$(sql "select sku, available, threshold from analytics_low_stock_skus")" '^HAT-1\|2\|5$' \
    "low-stock SKU"
expect_match "$(sql "select sum(breaches) from analytics_sla_breaches_hourly")" '^1$' "SLA breaches"
expect_match "$(sql "select sum(orders) from analytics_orders_per_minute where tenant = 'acme'")" '^4$' \
    "orders per minute"
expect_match "$(sql "select customers from analytics_distinct_customers_hourly where tenant = 'acme'")" \
    '^5$' "distinct customers (c1 c2 c3 n1 n2)"
expect_match "$(offsets)" '^14$' "offsets of the 14 records stored with the windows"
expect_match "$(grep -c 'ends before its stored offset' "$tmp/analytics.log")" '^3$' \
    "partitions ending before their stored offsets were read from their start"
wait_for 10 bash -c "'$H' groups describe '$group' 2>/dev/null | grep -q 'total lag 0'" ||
    fail "offsets not committed to Kafka as well: $("$H" groups describe "$group" 2>&1 | tail -1)"

# ---- malformed records ---------------------------------------------------------------------
bad=$(/usr/bin/python3 "$(dirname "$0")/analytics_kafka.py" bad "$HS_KAFKA_BROKERS" "$topic") ||
    fail "produce malformed records"
ev order.placed acme '{"order_id":"o7","customer":{"id":null,"email":"x@y.z"},"currency":"EUR","total_price":"twelve","subtotal_price":"0","total_tax":"0","financial_status":"paid","line_items":[],"created_at":1,"updated_at":1}' >"$tmp/bad.jsonl"
order acme o8 EUR 1.00 c1 >>"$tmp/bad.jsonl"
order acme o9 EUR 2.00 c1 >>"$tmp/bad.jsonl"
produce "$tmp/bad.jsonl" || fail "produce after the malformed ones"
wait_for 20 total_is 16 || fail "events after the malformed ones: $(total) of 16"
dlq=$(/usr/bin/python3 "$(dirname "$0")/analytics_kafka.py" dlq "$HS_KAFKA_BROKERS" "$group.dlq" \
    $((bad + 1)))
printf '%s\n' "$dlq" >"$tmp/dlq.txt"
for want in "^invalid_envelope\|$topic\|header hs_tenant is not UTF-8" \
    "^invalid_envelope\|$topic\|header ce_time is not an RFC 3339 time" \
    "^invalid_envelope\|$topic\|missing header ce_type" \
    "^undecodable\|$topic\|.*magic" "^unknown_schema\|$topic\|schema id 999999" \
    "^invalid_field\|$topic\|total_price is not an amount"; do
    grep -Eq -- "$want" "$tmp/dlq.txt" && pass "dead letter $want" ||
        fail "no dead letter like /$want/ in: $dlq"
done
wait_for 5 metric_ge 'hs_analytics_events_total{type="order.placed",outcome="dlq"}' 5 ||
    fail "dlq metric: $(curl -s "$an_url/metrics" | grep outcome=.dlq)"
expect_match "$(offsets)" "^$((14 + bad + 3))\$" "offsets passed the dead letters"

# ---- a late event updates its old window ---------------------------------------------------
t=$(date -u -d '2 hours ago' +%Y-%m-%dT%H:%M:30.000Z)
minute="$(date -u -d "${t%.*}" '+%Y-%m-%d %H:%M'):00+00"
order acme late1 EUR 3.00 c1 >"$tmp/late.jsonl"
produce "$tmp/late.jsonl"
wait_for 20 window_is "$minute" 1 ||
    fail "late event not in its window $minute"
order acme late2 EUR 4.00 c1 >"$tmp/late.jsonl"
produce "$tmp/late.jsonl"
wait_for 20 window_is "$minute" 2 ||
    fail "second late event did not update window $minute"
expect_match "$(sql "select amount_sum from analytics_hourly where bucket = date_trunc('hour', '$minute'::timestamptz)")" \
    '^7.0000$' "late amounts in their hour"
wait_for 5 metric_ge 'hs_analytics_events_total{type="order.placed",outcome="late"}' 2 ||
    fail "late metric"

# ---- Postgres refuses analytics: it holds its windows, retries, then totals are exact -------
before=$(total)
sql "alter role $role nologin;
     select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = '$role'" >/dev/null
t=$(now)
for i in 1 2 3 4 5; do order outage "out$i" EUR 1.00 c1; done >"$tmp/outage.jsonl"
produce "$tmp/outage.jsonl"
wait_for 15 bash -c "curl -s '$an_url/readyz' | grep -q 'flush failing'" ||
    fail "readyz during the outage: $(curl -s "$an_url/readyz")"
wait_for 5 metric_ge 'hs_analytics_flushes_total{outcome="error"}' 2 ||
    fail "flush errors not counted (retried)"
expect_match "$(total)" "^$before\$" "nothing committed while Postgres refuses"
sql "alter role $role login" >/dev/null
wait_for 20 total_is $((before + 5)) || fail "after the outage: $(total), want $((before + 5))"
wait_for 10 curl -fs "$an_url/readyz" -o /dev/null || fail "readyz after the outage"
sleep 0.5
expect_match "$(sql "select sum(events) from analytics_minute where tenant = 'outage'")" '^5$' \
    "outage events counted exactly once"
expect_match "$(offsets)" "^$((14 + bad + 3 + 2 + 5))\$" "offsets exact after the outage"
finish
