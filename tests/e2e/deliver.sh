#!/usr/bin/env bash
# Outbound delivery as a user meets it: `hookstream deliver` with an endpoint added through
# `hookstream endpoints`, events produced with `hookstream produce`, and a receiver (receiver.py)
# that checks every Standard Webhooks signature with its own code. Then retries on a millisecond
# schedule with one webhook-id, 410 disabling the endpoint, the last attempt dead-lettered,
# an undecodable event dead-lettered while the partition moves on, replay of one event, of a
# time range and of everything skipped, and kill -9 under load: every event arrives afterwards.
source "$(dirname "$0")/lib.sh"
stack_test deliver
topic="e2e.deliver.$run"
export HS_DELIVER_TOPICS="$topic" HS_DELIVER_GROUP="e2e-deliver-$run"
export HS_DELIVER_BREAKER_MIN_REQUESTS=1000
# the crm integration starts switched off (its endpoint's events wait in the retry tiers)
export HS_FLAGS_FILE="$tmp/flags.json" HS_FLAGS_POLL_MS=100 HS_FLAGS_TOPIC=""
export HS_DELIVER_DISABLED_HOLD_MS=200
crm_flag() { printf '{"flags":{"integration.crm.enabled":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"%s"}}}\n' "$1" >"$HS_FLAGS_FILE"; }
crm_flag off
"$H" topics create "$topic" --partitions 2 >/dev/null

secret="whsec_$(head -c 24 /dev/urandom | base64)"
/usr/bin/python3 "$HS_SOURCE_DIR/tests/e2e/receiver.py" --port 0 --secret "$secret" \
    --log "$tmp/received" --script "/ok=204;/flaky=500,500,204;/gone=410;/down=500;/ordered=500,500,204" \
    >"$tmp/receiver.port" 2>"$tmp/receiver.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/receiver.port" ] && break; sleep 0.05; done
rport=$(head -1 "$tmp/receiver.port")
recv="http://127.0.0.1:$rport"

start_deliver() {
    local port=${1:-$(free_port)}
    export HS_DELIVER_LISTEN="127.0.0.1:$port" HS_DELIVER_URL="http://127.0.0.1:$port"
    "$H" deliver >"$tmp/deliver.out" 2>>"$tmp/deliver.log" &
    dpid=$!
    pids+=($dpid)
    for _ in $(seq 300); do curl -fs "$HS_DELIVER_URL/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
    fail "deliver did not become ready: $(tail -5 "$tmp/deliver.log")"
}
start_deliver
dport=${HS_DELIVER_LISTEN##*:}
api="$HS_DELIVER_URL"

order() { # order ID [TOTAL]
    printf '{"order_id":"%s","customer":{"email":"%s@example.com"},"currency":"EUR",' "$1" "$1"
    printf '"total_price":"%s","subtotal_price":"9.00","total_tax":"1.00",' "${2:-10.00}"
    printf '"financial_status":"paid","line_items":[{"product_id":"p1","title":"Hat",'
    printf '"quantity":1,"price":"4.50"}],"created_at":1700000000000,"updated_at":1700000000000}\n'
}
produce() { for id in "$@"; do order "$id"; done >"$tmp/batch.jsonl"
    "$H" produce --type order.placed --topic "$topic" --from-file "$tmp/batch.jsonl" >"$tmp/produced" 2>/dev/null; }
# received_ids PATH: webhook ids the receiver got on PATH with a valid signature
received() { jq -r --arg p "$1" 'select(.path==$p and .valid) | .body | fromjson | .data.order_id' \
    "$tmp/received" 2>/dev/null | sort -u; }
has_n() { [ "$(received "$1" | wc -l)" -ge "$2" ]; }

# ---- endpoints ---------------------------------------------------------------------------------
expect_rc 0 "endpoints add" -- "$H" endpoints add --url "$recv/ok" --events 'order.*' \
    --secret "$secret" --json
ok_id=$(jq -r .id <<<"$OUT")
expect_match "$ok_id" '^ep_' "the endpoint has an id"
expect_rc 0 "endpoints add a flaky one" -- "$H" endpoints add --url "$recv/flaky" \
    --events order.placed --secret "$secret" --policy "20ms,20ms,20ms" --json
flaky_id=$(jq -r .id <<<"$OUT")
expect_rc 0 "an endpoint that is gone" -- "$H" endpoints add --url "$recv/gone" \
    --events order.placed --secret "$secret" --json
gone_id=$(jq -r .id <<<"$OUT")
expect_rc 0 "an endpoint that always fails" -- "$H" endpoints add --url "$recv/down" \
    --events order.placed --secret "$secret" --policy "10ms,10ms" --json
down_id=$(jq -r .id <<<"$OUT")
expect_rc 0 "an endpoint for customers only" -- "$H" endpoints add --url "$recv/customers" \
    --events 'customer.*' --secret "$secret" --json

# ---- the happy path ----------------------------------------------------------------------------
produce "o1-$run" "o2-$run" "o3-$run"
wait_for 20 has_n /ok 3 && pass "3 events reached /ok, signatures valid" ||
    fail "/ok got: $(received /ok | tr '\n' ' ')"
first=$(jq -c 'select(.path=="/ok")' "$tmp/received" | head -1)
expect_match "$(jq -r .id <<<"$first")" '^[0-9a-f-]{36}$' "webhook-id is the event's ce_id"
expect_match "$(jq -r '.body | fromjson | .type' <<<"$first")" '^order.placed$' "body type"
[ -z "$(received /customers)" ] && pass "the customer endpoint got none" || fail "customers got events"

# ---- retries: 500, 500, then 204; one webhook-id throughout ----------------------------------
flaky_done() { [ "$(jq -r 'select(.path=="/flaky" and .status_sent==204) | .id' "$tmp/received" | wc -l)" -ge 3 ]; }
wait_for 20 flaky_done && pass "the flaky endpoint got all 3 in the end" || fail "flaky: $(received /flaky)"
# the script failed the first two requests: 3 events took 5 requests, retries kept their id
flaky=$(jq -r 'select(.path=="/flaky" and .valid) | .id' "$tmp/received")
expect_match "$(wc -l <<<"$flaky") $(sort -u <<<"$flaky" | wc -l)" '^5 3$' \
    "3 events took 5 requests to /flaky, each retry with its event's webhook-id"

# ---- 410 disables the endpoint -----------------------------------------------------------------
wait_for 20 bash -c "curl -s -H 'Authorization: Bearer readtoken$run' '$api/v1/endpoints/$gone_id' | jq -e '.enabled==false' >/dev/null" &&
    pass "410 Gone disabled the endpoint" || fail "endpoint $gone_id still enabled"

# ---- the last attempt goes to the DLQ, the attempt log says failed -----------------------------
wait_for 20 bash -c "'$H' consume 'e2e-deliver-$run.dlq' --exit-at-end 2>/dev/null | grep -q 'o1-$run'" &&
    pass "the always-failing endpoint's events are dead-lettered" || fail "nothing in the DLQ"
dlq=$("$H" consume "e2e-deliver-$run.dlq" --exit-at-end 2>/dev/null | head -1)
expect_match "$dlq" "\"hs_endpoint\":\"$down_id\"" "the DLQ record names the endpoint"
expect_match "$dlq" '"hs_error_class":"delivery"' "and the error class"
final_failed() { "$H" endpoints attempts "$down_id" --status failed --json 2>/dev/null | jq -e 'length > 0' >/dev/null; }
wait_for 20 final_failed && pass "the attempt log has the final failure" || fail "no failed attempt"
expect_rc 0 "endpoints attempts" -- "$H" endpoints attempts "$down_id" --json
expect_match "$OUT" '"http_status": ?500' "with the receiver's status"

# ---- an undecodable event is dead-lettered and the partition moves on --------------------------
kcat -P -b "$HS_KAFKA_BROKERS" -t "$topic" -k "o1-$run" <<<"not avro"
produce "o4-$run"
wait_for 20 bash -c "jq -r 'select(.path==\"/ok\")|.body|fromjson|.data.order_id' '$tmp/received' | grep -q o4-$run" &&
    pass "an event after a bad one is delivered" || fail "o4 not delivered"
wait_for 20 bash -c "'$H' consume 'e2e-deliver-$run.dlq' --exit-at-end 2>/dev/null | grep -q undecodable" &&
    pass "the bad one is in the DLQ as undecodable" || fail "no undecodable record in the DLQ"

# ---- a switched-off integration: its endpoint's events wait, then arrive -----------------------
expect_rc 0 "endpoints add --integration crm" -- "$H" endpoints add --url "$recv/crm" \
    --events order.placed --secret "$secret" --integration crm --json
crm_id=$(jq -r .id <<<"$OUT")
expect_match "$(jq -r .integration <<<"$OUT")" '^crm$' "the endpoint names its integration"
expect_rc 1 "an integration name with bad characters is refused" -- "$H" endpoints add \
    --url "$recv/crm" --events order.placed --integration 'Bad Name'
expect_match "$ERR" 'integration' "the error names the field"
sleep 1.2   # the endpoint list is reloaded at least every second
produce "c1-$run"
wait_for 20 bash -c "'$H' endpoints attempts '$crm_id' --json | jq -e 'map(select(.status==\"held\")) | length > 0' >/dev/null" &&
    pass "the event for the switched-off integration is held" || fail "no held attempt for $crm_id"
[ -z "$(received /crm)" ] && pass "nothing reached /crm while switched off" || fail "/crm got events"
crm_flag on
wait_for 20 has_n /crm 1 && pass "switched on: the held event arrived" || fail "/crm got nothing"

# ---- disabled endpoints: events recorded as skipped, recovered by replay -----------------------
expect_rc 0 "endpoints disable" -- "$H" endpoints disable "$ok_id"
sleep 1.2   # the endpoint list is reloaded at least every second
produce "o5-$run"
wait_for 20 bash -c "'$H' endpoints attempts '$ok_id' --status skipped --json | grep -q o5 || '$H' endpoints attempts '$ok_id' --status skipped --json | jq -e 'length>0' >/dev/null" &&
    pass "an event for a disabled endpoint is recorded as skipped" || fail "no skipped attempt"
expect_rc 0 "endpoints enable" -- "$H" endpoints enable "$ok_id"
since=$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 "replay --since recovers what was skipped" -- "$H" replay --endpoint "$ok_id" --since "$since"
wait_for 20 bash -c "jq -r 'select(.path==\"/ok\")|.body|fromjson|.data.order_id' '$tmp/received' | grep -q o5-$run" &&
    pass "o5 reached /ok after the recover replay" || fail "o5 not recovered"

# ---- replay one event, and a time range, with the original webhook-id -------------------------
o2id=$(jq -r --arg o "o2-$run" 'select(.path=="/ok" and (.body|fromjson|.data.order_id)==$o) | .id' "$tmp/received" | head -1)
expect_rc 0 "replay one event" -- "$H" replay --endpoint "$ok_id" --event "$o2id"
wait_for 20 bash -c "[ \$(jq -r 'select(.path==\"/ok\")|.id' '$tmp/received' | grep -c '$o2id') -ge 2 ]" &&
    pass "the replayed event arrived again with its webhook-id" || fail "replay of $o2id not seen"
before=$(jq -r 'select(.path=="/ok")' "$tmp/received" | jq -s length)
expect_rc 0 "replay a time range" -- "$H" replay --endpoint "$ok_id" --topic "$topic" \
    --from "$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:%SZ)" --to "$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)"
expect_match "$ERR" 'done' "the CLI reports progress to the end"
wait_for 20 bash -c "[ \$(jq -r 'select(.path==\"/ok\")' '$tmp/received' | jq -s length) -ge $((before + 5)) ]" &&
    pass "the range replay re-delivered every order" || fail "range replay incomplete"
expect_rc 1 "replay of an unknown event" -- "$H" replay --endpoint "$ok_id" --event nope-$run
expect_match "$ERR" '404.*never delivered' "is refused as unknown (404)"

# ---- an ordered endpoint: a failing event holds back the later ones of its key --------------
expect_rc 0 "an ordered endpoint" -- "$H" endpoints add --url "$recv/ordered" --events order.placed \
    --secret "$secret" --ordered --policy "50ms,50ms,50ms,50ms" --json \
    --filter "{\"==\":[{\"var\":\"data.order_id\"},\"same-$run\"]}"
sleep 1.5   # its consumer group starts with the next endpoint reload
for price in 1.00 2.00 3.00; do order "same-$run" "$price"; done >"$tmp/same.jsonl"
"$H" produce --type order.placed --topic "$topic" --from-file "$tmp/same.jsonl" >/dev/null 2>&1
ordered_seq() { jq -r --arg o "same-$run" 'select(.path=="/ordered" and (.body|fromjson|.data.order_id)==$o) | "\(.status_sent):\(.body|fromjson|.data.total_price)"' "$tmp/received" | tr '\n' ' '; }
ordered_done() { [ "$(ordered_seq | grep -o '204:' | wc -l)" -ge 3 ]; }
wait_for 30 ordered_done && pass "the ordered endpoint got all three" || fail "ordered: $(ordered_seq)"
expect_match "$(ordered_seq)" '^500:1.00 500:1.00 204:1.00 204:2.00 204:3.00 $' \
    "the first was retried in place, the later ones of its key waited for it"

# ---- kill -9 under load: every event arrives at least once ------------------------------------
ids=()
for i in $(seq 1 200); do ids+=("k$i-$run"); done
produce "${ids[@]}" &
producer=$!
sleep 0.3
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
wait "$producer"
start_deliver "$dport"
want=$(printf '%s\n' "${ids[@]}" | sort)
got_all() { [ -z "$(comm -23 <(echo "$want") <(received /ok))" ]; }
wait_for 60 got_all && pass "after kill -9 and a restart all 200 events reached /ok" ||
    fail "missing after restart: $(comm -23 <(echo "$want") <(received /ok) | wc -l)"

# ---- graceful stop -----------------------------------------------------------------------------
kill -TERM "$dpid"
wait "$dpid"
expect_match "$?" '^0$' "SIGTERM stops deliver with exit 0"
finish
