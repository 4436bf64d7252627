#!/usr/bin/env bash
# Exactly once in effect: events are produced continuously while `hookstream analytics` is
# killed with SIGKILL twice at random moments and restarted; once it caught up, the windows count
# every produced event exactly once and the stored offsets match. (The rest: analytics.sh.)
source "$(dirname "$0")/lib.sh"
stack_test analytics_kill analytics.log
topic="e2e.ankill.$run"
group="e2e-ankill-$run"
"$H" topics create "$topic" --partitions 3 >/dev/null
# frequent flushes, so the kills land between and inside them; a killed member leaves the group
# after 3 s (the embedded broker then adds its 3 s join delay)
export HS_ANALYTICS_FLUSH_MS=100 HS_KAFKA_SESSION_TIMEOUT_MS=3000 HS_KAFKA_HEARTBEAT_INTERVAL_MS=1000
chunks=32 per=150
n=$((chunks * per))

committed() { sql "select coalesce(sum(next_offset), 0) from consumer_offsets where group_id = '$group'"; }
counted() { sql "select coalesce(sum(events), 0) from analytics_minute where tenant = 'load'"; }
caught_up() { test "$(committed)" = "$n"; }

# the load: chunk files of order.placed / payment.succeeded events, produced one every 0.4 s
for ((c = 0; c < chunks; c++)); do
    for ((i = 0; i < per; i++)); do
        k=$((c * per + i))
        if ((k % 3)); then
            printf '{"type":"order.placed","tenant":"load","source":"/e2e/load","data":{"order_id":"o%d","customer":{"id":"c%d","email":"x@y.z"},"currency":"EUR","total_price":"1.00","subtotal_price":"1","total_tax":"0","financial_status":"paid","line_items":[],"created_at":1,"updated_at":1}}\n' "$k" "$((k % 50))"
        else
            printf '{"type":"payment.succeeded","tenant":"load","source":"/e2e/load","data":{"payment_id":"p%d","amount":100,"currency":"usd","created_at":1}}\n' "$k"
        fi
    done >"$tmp/chunk$c.jsonl"
done
(
    for ((c = 0; c < chunks; c++)); do
        "$H" produce --topic "$topic" --from-file "$tmp/chunk$c.jsonl" >/dev/null 2>>"$tmp/produce.log" ||
            echo "chunk $c failed" >>"$tmp/produce.failed"
        sleep 0.4
    done
    touch "$tmp/produced"
) &
pids+=($!)

start() { # starts analytics with its own log $tmp/analytics.$1.log (the last goes to analytics.log)
    "$H" analytics --listen 127.0.0.1:0 --topics "$topic" --group "$group" \
        >"$tmp/analytics.$1.out" 2>"$tmp/analytics.$1.log" &
    anpid=$!
    pids+=($anpid)
}
assigned() { grep -q '"kind":"assign"' "$tmp/analytics.$1.log"; }

committed_past() { test "$(committed)" -gt "$1"; }

mid=0
for kill in 1 2; do
    start "$kill"
    wait_for 20 assigned "$kill" || fail "instance $kill got no partitions"
    # once it committed something of its own, at a random moment of the next 0.6 s
    wait_for 10 committed_past "$(committed)" || fail "instance $kill committed nothing"
    sleep "0.$((RANDOM % 6))"
    before=$(committed)
    kill -9 "$anpid"
    wait "$anpid" 2>/dev/null
    echo "killed instance $kill with $before of $n events committed"
    ((before > 0 && before < n)) && mid=$((mid + 1))
done
start last
wait_for 30 test -e "$tmp/produced" || fail "the load did not finish"
[ -e "$tmp/produce.failed" ] && fail "produce: $(cat "$tmp/produce.failed")"
wait_for 30 caught_up || fail "committed $(committed) of $n"
cp "$tmp/analytics.last.log" "$tmp/analytics.log"
((mid > 0)) && pass "a kill landed while the load was being committed" ||
    fail "no kill landed mid-stream (committed at the kills: 0 or all)"
expect_match "$(counted)" "^$n\$" "every produced event counted exactly once"
expect_match "$(sql "select sum(events) from analytics_hourly where tenant = 'load'")" "^$n\$" \
    "hourly rollup exact"
orders=$((n - (n + 2) / 3))
expect_match "$(sql "select revenue from analytics_revenue_hourly where tenant = 'load'")" \
    "^$orders.0000\$" "revenue exact ($orders orders of 1.00 EUR)"
finish
