#!/usr/bin/env bash
# `hookstream deliver` under faults, with one deliver and one receiver (receiver.py) for every
# check: a circuit breaker that opens and recovers, a slow endpoint beside a fast one,
# Retry-After, receivers that reset, hang, redirect or answer a huge body, broker errors
# injected through the embedded broker's control API, admin bad inputs, and
# `hookstream replay --group` (rewind while stopped, refusal while running, --force).
# Each endpoint only takes the events of its own currency (a filter), so the checks stay apart.
# E2E_KEEP=DIR keeps the run's files (deliver log, what the receiver got) in DIR.
source "$(dirname "$0")/lib.sh"
if [ -z "${HS_KAFKA_BROKERS:-}" ] || [ -z "${HS_POSTGRES_DSN:-}" ] ||
    [ -z "${HS_BROKER_CONTROL_URL:-}" ]; then
    echo "skipped: HS_KAFKA_BROKERS / HS_POSTGRES_DSN / HS_BROKER_CONTROL_URL are not set"
    exit 0
fi
H=$HOOKSTREAM
ctl=$HS_BROKER_CONTROL_URL
tmp=$(mktemp -d)
pids=()
cleanup() {
    curl -s -XDELETE "$ctl/errors" >/dev/null 2>&1
    curl -s -XPOST "$ctl/brokers/1/up" >/dev/null 2>&1
    deliver_cleanup
}
trap cleanup EXIT
cd "$tmp" || exit 1

deliver_env faults
topic="e2e.faults.$run"
rtopic="e2e.faults.replay.$run"
group="e2e-faults-$run"
export HS_DELIVER_TOPICS="$topic,$rtopic" HS_DELIVER_GROUP="$group"
export HS_DELIVER_BREAKER_MIN_REQUESTS=5 HS_DELIVER_BREAKER_OPEN_MS=500
export HS_KAFKA_HEARTBEAT_INTERVAL_MS=1000
export HS_DELIVER_TIMEOUT_MS=2000
"$H" topics create "$topic" --partitions 2 >/dev/null
"$H" topics create "$rtopic" --partitions 2 >/dev/null

secret="whsec_$(head -c 24 /dev/urandom | base64)"
script="/brk=500,500,500,500,500,500,500,500,500,500,500,500,204"
script+=";/slow=slow:1000;/fast=204;/ra=429:2,204;/rst=reset,reset,204;/hang=hang,204"
script+=";/redir=redirect,204;/big=big;/ok=204;/rp=204"
/usr/bin/python3 "$HS_SOURCE_DIR/tests/e2e/receiver.py" --port 0 --secret "$secret" \
    --log "$tmp/received" --script "$script" >"$tmp/receiver.port" 2>"$tmp/receiver.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/receiver.port" ] && break; sleep 0.05; done
recv="http://127.0.0.1:$(head -1 "$tmp/receiver.port")"

dport=$(free_port)
export HS_DELIVER_LISTEN="127.0.0.1:$dport" HS_DELIVER_URL="http://127.0.0.1:$dport"
api=$HS_DELIVER_URL
start_deliver() {
    "$H" deliver >>"$tmp/deliver.out" 2>>"$tmp/deliver.log" &
    dpid=$!
    pids+=($dpid)
    for _ in $(seq 300); do curl -fs "$api/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
    fail "deliver did not become ready: $(tail -5 "$tmp/deliver.log")"
}
stop_deliver() { kill -TERM "$dpid"; wait "$dpid" 2>/dev/null; }

order() { # order ID CURRENCY
    printf '{"order_id":"%s","customer":{"email":"x@example.com"},"currency":"%s",' "$1" "$2"
    printf '"total_price":"10.00","subtotal_price":"9.00","total_tax":"1.00",'
    printf '"financial_status":"paid","line_items":[{"product_id":"p1","title":"Hat",'
    printf '"quantity":1,"price":"4.50"}],"created_at":1700000000000,"updated_at":1700000000000}\n'
}
produce() { # produce TOPIC CURRENCY ID...
    local t=$1 c=$2 f="$tmp/batch.$2.jsonl"; shift 2
    for id in "$@"; do order "$id" "$c"; done >"$f"
    "$H" produce --type order.placed --topic "$t" --from-file "$f" >/dev/null 2>>"$tmp/produce.err"
}
ids() { local p=$1 n=$2; for i in $(seq 1 "$n"); do echo "$p$i-$run"; done | sort; }
# received PATH: order ids that reached PATH with a valid signature
received() { jq -r --arg p "$1" 'select(.path==$p and .valid) | .body | fromjson | .data.order_id' \
    "$tmp/received" 2>/dev/null | sort -u; }
posts() { curl -s "$recv/_stats" | jq --arg p "$1" '.[$p] // 0'; }
has_all() { [ -z "$(comm -23 <(ids "$2" "$3") <(received "$1"))" ]; }
metric() { curl -s "$api/metrics" | grep -E "^$1" | awk '{s+=$NF} END {print s+0}'; }
add_ep() { # add_ep PATH CURRENCY [OPTIONS...]: prints the endpoint id
    local p=$1 c=$2; shift 2
    "$H" endpoints add --url "$recv$p" --events order.placed --secret "$secret" --json \
        --filter "{\"==\":[{\"var\":\"data.currency\"},\"$c\"]}" "$@" | jq -r .id
}
start_deliver

# ---- admin bad inputs through the real service -------------------------------------------------
admin() { # admin TOKEN BODY: POST /v1/endpoints, prints "STATUS BODY"
    local auth=()
    [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
    curl -s -o "$tmp/admin.out" -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
        -d "$2" "$api/v1/endpoints"
    echo " $(cat "$tmp/admin.out")"
}
good='{"url":"http://127.0.0.1:9/x","event_types":["order.placed"]}'
expect_match "$(admin "admintoken$run" '{"url":"http://10.0.0.1/x","event_types":["order.placed"]}')" \
    '^422 .*"detail": ?"url: [^"]*private' "a URL to 10.0.0.1 is refused with 422 naming why (SSRF)"
expect_match "$(admin "admintoken$run" '{"url":"http://127.0.0.1:9/x","event_types":["nope.never"]}')" \
    '^422 .*event_types' "an unknown event type is refused with 422"
expect_match "$(admin "" "$good")" '^401 ' "no token: 401"
expect_match "$(admin "wrong$run" "$good")" '^401 ' "a wrong token: 401"
expect_match "$(admin "readtoken$run" "$good")" '^403 ' "a read-only token on a write: 403"
expect_match "$(admin "admintoken$run" '{"url":')" '^400 ' "malformed JSON: 400"

# ---- endpoints for the delivery checks ---------------------------------------------------------
brk=$(add_ep /brk BRK --policy "50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms" --max-in-flight 2)
slow=$(add_ep /slow SLO --max-in-flight 1)
fast=$(add_ep /fast SLO)
ra=$(add_ep /ra RAF --policy "50ms,50ms")
rst=$(add_ep /rst ODD --policy "50ms,50ms,50ms,50ms")
hang=$(add_ep /hang ODD --policy "50ms,50ms,50ms,50ms")
redir=$(add_ep /redir ODD --policy "50ms,50ms,50ms,50ms")
big=$(add_ep /big ODD)
ok=$(add_ep /ok EUR)
rp=$(add_ep /rp RPL)
expect_match "$brk $slow $fast $ra $rst $hang $redir $big $ok $rp" '^(ep_[^ ]+ ){9}ep_[^ ]+$' \
    "ten endpoints added"
sleep 1.2 # the endpoint list is reloaded at least every second

# ---- replay --group ----------------------------------------------------------------------------
rp_ids=$(ids r 5 | sort)
produce "$rtopic" RPL $rp_ids
wait_for 30 has_all /rp r 5 && pass "5 events reached /rp" || fail "rp got $(received /rp | wc -l)"
# each_at_least N: every /rp event arrived N times, always with one webhook-id per event
each_at_least() {
    local got
    got=$(jq -r 'select(.path=="/rp" and .valid) | [(.body|fromjson|.data.order_id), .id] | @tsv' \
        "$tmp/received" | sort | uniq -c | awk -v n="$1" '$1 >= n {print $2}' | sort -u)
    [ "$got" = "$rp_ids" ]
}
ids_stable() { [ "$(jq -r 'select(.path=="/rp") | .id' "$tmp/received" | sort -u | wc -l)" = 5 ]; }

expect_rc 2 "replay --group without --topic" -- "$H" replay --group "$group" --to-offset 0
expect_rc 2 "replay --group without a target" -- "$H" replay --group "$group" --topic "$rtopic"
expect_rc 2 "replay --group with two targets" -- "$H" replay --group "$group" --topic "$rtopic" \
    --to-offset 0 --by-duration 1h
expect_rc 2 "replay --group with a bad duration" -- "$H" replay --group "$group" --topic "$rtopic" \
    --by-duration soon

stop_deliver
expect_rc 0 "replay --group --to-offset 0 with deliver stopped" -- "$H" replay --group "$group" \
    --topic "$rtopic" --to-offset 0
start_deliver
wait_for 40 each_at_least 2 && pass "the restarted deliver re-delivered every event" ||
    fail "after --to-offset 0: $(jq -r 'select(.path=="/rp")|.id' "$tmp/received" | sort | uniq -c)"

stop_deliver
expect_rc 0 "replay --group --by-duration 1h with deliver stopped" -- "$H" replay --group "$group" \
    --topic "$rtopic" --by-duration 1h
start_deliver
wait_for 40 each_at_least 3 && pass "--by-duration: every event re-delivered again" ||
    fail "after --by-duration: $(jq -r 'select(.path=="/rp")|.id' "$tmp/received" | sort | uniq -c)"

expect_rc 0 "replay --group --force while deliver runs" -- "$H" replay --group "$group" \
    --topic "$rtopic" --to-offset 0 --force
wait_for 40 each_at_least 4 && pass "--force: the running deliver sought itself and re-delivered" ||
    fail "after --force: $(jq -r 'select(.path=="/rp")|.id' "$tmp/received" | sort | uniq -c)"
expect_rc 1 "replay --group while deliver runs, without --force" -- "$H" replay --group "$group" \
    --topic "$rtopic" --to-offset 0
expect_match "$ERR" "group $group has active members" "it names the group's active members"

ids_stable && pass "every re-delivery kept its event's webhook-id" || fail "webhook-ids changed"

# ---- a slow endpoint does not delay a fast one -------------------------------------------------
produce "$topic" SLO $(ids s 10)
wait_for 30 has_all /fast s 10 && pass "all 10 events reached the fast endpoint" ||
    fail "fast got $(received /fast | wc -l) of 10"
slow_then=$(received /slow | wc -l)
((slow_then < 10)) && pass "while the slow one (1 s each, one at a time) had $slow_then of 10" ||
    fail "the slow endpoint had all 10 before the fast one finished"

# ---- circuit breaker opens and recovers --------------------------------------------------------
produce "$topic" BRK $(ids b 40)
saw_open() { curl -s "$api/metrics" | grep -E "^hs_deliver_breaker_state\{[^}]*$brk[^}]*\} 1" -q; }
wait_for 30 saw_open && pass "the breaker of the failing endpoint opened" ||
    fail "hs_deliver_breaker_state never went to 1"

# ---- Retry-After, and receivers that reset, hang, redirect or answer 5 MB ----------------------
produce "$topic" RAF "ra1-$run"
produce "$topic" ODD $(ids d 3)

wait_for 60 has_all /brk b 40 && pass "after recovery all 40 events reached the breaker's endpoint" ||
    fail "breaker endpoint got $(received /brk | wc -l) of 40"
held=$(metric 'hs_deliver_attempts_total\{[^}]*outcome="held"')
((held > 0)) && pass "events were held while it was open ($held)" || fail "no held attempt"
n=$(posts /brk)
# 12 failures + 40 successes; each of the 40 events retrying every 50 ms while the breaker was
# open would have needed many more requests than that
((n <= 40 + 12 + 8)) && pass "the open breaker cost no HTTP calls ($n requests for 40 events)" ||
    fail "$n requests to /brk for 40 events"
state=$(curl -s "$api/metrics" | grep -E "^hs_deliver_breaker_state\{[^}]*$brk" | awk '{print $NF}')
expect_match "$state" '^0$' "and it is closed again"

wait_for 30 has_all /ra ra 1 && pass "the 429 event arrived in the end" || fail "ra1 never arrived"
at=($(jq -r 'select(.path=="/ra") | .at' "$tmp/received"))
ids_ra=$(jq -r 'select(.path=="/ra") | .id' "$tmp/received" | sort -u | wc -l)
expect_match "${#at[@]} $ids_ra" '^2 1$' "429 then 204: two requests with one webhook-id"
python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 2.0 else 1)" \
    "${at[0]}" "${at[1]}" && pass "the retry came no earlier than Retry-After: 2 asked" ||
    fail "retry after $(python3 -c "print(${at[1]} - ${at[0]})") s, Retry-After was 2"

for p in /rst /hang /redir /big; do
    wait_for 40 has_all "$p" d 3 && pass "$p: all 3 events delivered in the end" ||
        fail "$p got $(received "$p" | wc -l) of 3"
done
# every failed attempt is in the log with what went wrong; the final one succeeded
attempts() { "$H" endpoints attempts "$1" --json 2>/dev/null; }
log_has() { # log_has ID JQ-FILTER: the attempt log of ID has a row matching
    attempts "$1" | jq -e "[.[] | select($2)] | length > 0" >/dev/null; }
# the receiver reset two requests; each event was delivered in the end and none failed for good
(($(posts /rst) >= 5)) && pass "the receiver reset two requests to /rst" || fail "/rst posts: $(posts /rst)"
log_has "$rst" '.status=="failed" or .status=="dead"' && fail "rst: $(attempts "$rst")" ||
    pass "a reset did not fail any event"
wait_for 10 log_has "$hang" '.status=="retrying" and (.error|test("time";"i"))' &&
    pass "a hanging receiver is cut by the timeout and logged" || fail "hang: $(attempts "$hang")"
wait_for 10 log_has "$redir" '.status=="retrying" and .http_status==302' &&
    pass "a redirect is logged as a retrying 302" || fail "redir: $(attempts "$redir")"
[ "$(posts /redirected)" = 0 ] && pass "and is not followed" || fail "the redirect was followed"
wait_for 10 log_has "$big" '.status=="succeeded" and .http_status==200 and (.excerpt|length) < 65536' &&
    pass "a 5 MB answer is a success with a bounded excerpt" || fail "big: $(attempts "$big")"
for e in $rst $hang $redir; do
    wait_for 10 log_has "$e" '.status=="succeeded"' || fail "$e: no succeeded attempt"
done

wait_for 60 has_all /slow s 10 && pass "the slow endpoint got all 10 in the end" ||
    fail "slow got $(received /slow | wc -l) of 10"

# ---- broker errors while delivering: every event arrives at least once -------------------------
inject() { # inject API ERROR...
    local errs
    errs=$(printf '"%s",' "${@:2}")
    curl -fs -XPOST "$ctl/errors" -d "{\"api\":\"$1\",\"errors\":[${errs%,}]}" >/dev/null ||
        fail "cannot inject $1 errors"
}
produce "$topic" EUR $(ids k 100) &
producer=$!
inject Fetch NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT NOT_LEADER_FOR_PARTITION
inject OffsetCommit REQUEST_TIMED_OUT COORDINATOR_NOT_AVAILABLE NOT_COORDINATOR
inject Produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT
wait "$producer" || fail "producing under injected errors failed: $(tail -3 "$tmp/produce.err")"
curl -fs -XPOST "$ctl/brokers/1/down" >/dev/null || fail "cannot take broker 1 down"
sleep 2
curl -fs -XPOST "$ctl/brokers/1/up" >/dev/null || fail "cannot bring broker 1 up"
produce "$topic" EUR $(ids l 50) || fail "producing after the broker came back failed"
wait_for 60 has_all /ok k 100 && wait_for 30 has_all /ok l 50 &&
    pass "after broker errors and an outage all 150 events reached the receiver" ||
    fail "missing $(comm -23 <( (ids k 100; ids l 50) | sort) <(received /ok) | wc -l) of 150:" \
        $(comm -23 <( (ids k 100; ids l 50) | sort) <(received /ok) | head -20)
curl -s -XDELETE "$ctl/errors" >/dev/null

stop_deliver
finish
