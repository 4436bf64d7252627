#!/usr/bin/env bash
# The Kafka tools as a user drives them: `hookstream broker` in the background (bootstrap file,
# control API), topics create/list/describe, produce one event and many, consume decoded from
# the beginning / a time / a duration ago, a grouped consume and the group's lag, and the bad
# inputs: schema mismatch (field named, nothing sent), unknown type, malformed JSON line,
# unreachable broker (message and exit 1 within the timeout), unknown topics.
# Schemas come from the stack's registry (HS_REGISTRY_URL, else Postgres at HS_POSTGRES_DSN);
# without either, a private `hookstream dev up` provides one.
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
broker_pid=""
dev_dir=""
cleanup() {
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
    [ -n "$dev_dir" ] && "$HOOKSTREAM" dev down --dir "$dev_dir" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1
H="$HOOKSTREAM"

if [ -z "${HS_REGISTRY_URL:-}" ] && [ -z "${HS_POSTGRES_DSN:-}" ]; then
    dev_dir="$tmp/dev"
    "$H" dev up --set dev.dir="$dev_dir" >"$tmp/dev.out" 2>&1 || { cat "$tmp/dev.out"; exit 1; }
    # shellcheck disable=SC1091
    source "$dev_dir/env"
fi
export HS_REGISTRY_URL="${HS_REGISTRY_URL:-}" HS_LOG_LEVEL=error

# ---- broker ---------------------------------------------------------------------------------
"$H" broker --bootstrap-file "$tmp/run/bootstrap" --topic e2e.extra:2 --topic e2e.time:3 \
    >"$tmp/broker.out" 2>"$tmp/broker.err" &
broker_pid=$!
for _ in $(seq 100); do [ -s "$tmp/run/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$tmp/broker.out")
control=$(sed -n 's/^control //p' "$tmp/broker.out")
expect_match "$bootstrap" '^127\.0\.0\.1:[0-9]+$' "broker prints its bootstrap address first"
expect_match "$control" '^http://127\.0\.0\.1:[0-9]+$' "broker prints its control URL second"
[ "$(cat "$tmp/run/bootstrap")" = "$bootstrap" ] && pass "bootstrap file holds the address" ||
    fail "bootstrap file: '$(cat "$tmp/run/bootstrap")' != '$bootstrap'"
export HS_KAFKA_BROKERS="$bootstrap" HS_BROKER_CONTROL_URL="$control"
expect_rc 0 "control API /healthz" -- curl -sf "$control/healthz"
expect_rc 0 "control API /readyz" -- curl -sf "$control/readyz"

# ---- topics ---------------------------------------------------------------------------------
expect_rc 0 "topics list" -- "$H" topics list
expect_match "$OUT" '^hs\.events\.orders +6$' "standard topics exist with kafka.partitions"
expect_match "$OUT" '^e2e\.extra +2$' "--topic NAME:N was created"
expect_match "$OUT" '^hs\.audit ' "hs.audit exists"
expect_rc 0 "topics create" -- "$H" topics create e2e.new --partitions 3
expect_match "$OUT" "created topic e2e.new with 3 partitions" "create reports"
expect_rc 1 "topics create twice" -- "$H" topics create e2e.new
expect_match "$ERR" "topic 'e2e.new' already exists" "existing topic named"
expect_rc 2 "topics create bad name" -- "$H" topics create 'bad name'
expect_rc 0 "topics describe" -- "$H" topics describe e2e.new --json
expect_match "$(jq -r '.partitions | length' <<<"$OUT")" '^3$' "describe shows 3 partitions"
expect_match "$(jq -r '.partitions[0] | "\(.leader) \(.low) \(.high)"' <<<"$OUT")" '^1 0 0$' \
    "describe shows leader and watermarks"
expect_rc 1 "topics describe unknown topic" -- "$H" topics describe no.such.topic
expect_match "$ERR" "topic 'no.such.topic' does not exist" "unknown topic named"
expect_rc 0 "topics list --json" -- "$H" topics list --json
expect_match "$(jq -r '.topics[] | select(.name=="e2e.new") | .partitions' <<<"$OUT")" '^3$' \
    "list --json has the new topic"

# ---- produce --------------------------------------------------------------------------------
order() { # order ID [QUANTITY-JSON]
    printf '{"order_id":"%s","customer":{"email":"%s@example.com"},"currency":"EUR",' "$1" "$1"
    printf '"total_price":"10.00","subtotal_price":"9.00","total_tax":"1.00",'
    printf '"financial_status":"paid","line_items":[{"product_id":"p1","title":"Hat",'
    printf '"quantity":%s,"price":"4.50"}],"created_at":1700000000000,' "${2:-2}"
    printf '"updated_at":1700000000000}\n'
}
watermark_sum() { "$H" topics describe "$1" --json | jq '[.partitions[].high] | add'; }

expect_rc 0 "produce one event" -- "$H" produce --type order.placed --tenant acme "$(order o-1)"
expect_match "$(jq -r '"\(.topic) \(.key) \(.type)"' <<<"$OUT")" \
    '^hs\.events\.orders o-1 order\.placed$' "produce prints topic, key and type"
expect_match "$(jq -r '.offset' <<<"$OUT")" '^0$' "first event at offset 0"
for i in $(seq 2 41); do order "o-$i"; done >many.jsonl
expect_rc 0 "produce --from-file" -- "$H" produce --type order.placed --from-file many.jsonl
expect_match "$ERR" "produced 40 events in [0-9.]+ s \([0-9]+ events/s\)" "summary on stderr"
[ -z "$OUT" ] && pass "no per-event lines above 10 events" || fail "unexpected output: $OUT"
expect_match "$(watermark_sum hs.events.orders)" '^41$' "41 events in hs.events.orders"
printf '{"type":"order.placed","id":"evt-42","source":"/shop/42","subject":"s-42","data":%s}\n' \
    "$(order e-1)" >envelope.jsonl
expect_rc 0 "produce an envelope line" -- "$H" produce --topic e2e.extra --from-file envelope.jsonl
expect_match "$(jq -r '"\(.id) \(.key) \(.topic)"' <<<"$OUT")" '^evt-42 s-42 e2e\.extra$' \
    "envelope id and subject are used"
expect_rc 0 "consume the envelope event" -- "$H" consume e2e.extra --exit-at-end
expect_match "$(jq -r '"\(.headers.ce_id) \(.headers.ce_source) \(.headers.ce_subject)"' <<<"$OUT")" \
    '^evt-42 /shop/42 s-42$' "envelope attributes travel as headers"

# ---- consume --------------------------------------------------------------------------------
expect_rc 0 "consume --from beginning --exit-at-end" -- \
    "$H" consume hs.events.orders --from beginning --exit-at-end
expect_match "$(wc -l <<<"$OUT")" '^41$' "every event consumed"
first=$(grep '"key":"o-1"' <<<"$OUT")
expect_match "$(jq -r '"\(.type) \(.value.order_id) \(.value.line_items[0].quantity)"' <<<"$first")" \
    '^order\.placed o-1 2$' "value decoded from Avro"
expect_match "$(jq -r '"\(.headers.ce_source) \(.headers.hs_tenant) \(.schema_id|type)"' <<<"$first")" \
    '^/hookstream/cli acme number$' "headers and schema id shown"
expect_rc 0 "consume --since 1h" -- "$H" consume hs.events.orders --since 1h --exit-at-end
expect_match "$(wc -l <<<"$OUT")" '^41$' "--since 1h sees everything"
expect_rc 0 "consume -n 3" -- "$H" consume hs.events.orders --from beginning -n 3
expect_match "$(wc -l <<<"$OUT")" '^3$' "-n stops after 3"

# time seek: 5 events, a pause, then 3 more; --from the pause finds exactly the 3
for i in 1 2 3 4 5; do order "t-$i"; done >early.jsonl
for i in 6 7 8; do order "t-$i"; done >late.jsonl
"$H" produce --type order.placed --topic e2e.time --from-file early.jsonl >/dev/null
sleep 1.2
since_ms=$(date +%s%3N)
since_rfc=$(date -u -d "@$(( since_ms / 1000 ))" +%Y-%m-%dT%H:%M:%SZ)
sleep 1.1
"$H" produce --type order.placed --topic e2e.time --from-file late.jsonl >/dev/null
expect_rc 0 "consume --from unix ms" -- "$H" consume e2e.time --from "$since_ms" --exit-at-end
expect_match "$(jq -r '.key' <<<"$OUT" | sort | tr '\n' ' ')" '^t-6 t-7 t-8 $' \
    "time seek finds the 3 later events"
expect_rc 0 "consume --from RFC 3339" -- "$H" consume e2e.time --from "$since_rfc" --exit-at-end
expect_match "$(wc -l <<<"$OUT")" '^3$' "RFC 3339 time seek finds the 3 later events"
sleep 1.1 # every event is now older than 1 s, however fast the seeks above ran
expect_rc 0 "consume --since 1s" -- "$H" consume e2e.time --since 1s --exit-at-end
[ -z "$OUT" ] && pass "--since 1s after a pause sees nothing" || fail "--since 1s: $OUT"
expect_rc 0 "consume regex" -- "$H" consume '^e2e\.ti.*' --from beginning --exit-at-end
expect_match "$(wc -l <<<"$OUT")" '^8$' "a ^regex topic is expanded"

# grouped consume of 7, then the group's lag
expect_rc 0 "grouped consume" -- "$H" consume hs.events.orders --group e2e-g --from beginning -n 7
expect_match "$(wc -l <<<"$OUT")" '^7$' "grouped consume reads 7"
expect_rc 0 "groups describe" -- "$H" groups describe e2e-g --json
expect_match "$(jq '[.partitions[].committed] | add' <<<"$OUT")" '^7$' "7 offsets committed"
expect_match "$(jq '[.partitions[] | select(.lag != .high - .committed)] | length' <<<"$OUT")" \
    '^0$' "lag = high - committed per partition"
expect_match "$(jq '.total_lag == ([.partitions[].lag] | add)' <<<"$OUT")" '^true$' "total lag"
expect_rc 0 "groups describe (text)" -- "$H" groups describe e2e-g
expect_match "$OUT" "^total lag [0-9]+$" "text output ends with the total lag"
expect_rc 1 "groups list on the embedded broker" -- "$H" groups list
expect_match "$ERR" "no ListGroups.*groups describe GROUP" "groups list explains what works"

# ---- bad input ------------------------------------------------------------------------------
before=$(watermark_sum hs.events.orders)
{ order b-1; order b-2; order b-3 '"two"'; order b-4; } >bad.jsonl
expect_rc 1 "schema mismatch" -- "$H" produce --type order.placed --from-file bad.jsonl
expect_match "$ERR" "line 3: line_items\[0\]\.quantity: expected int, got string" \
    "mismatch names line, field and why"
expect_match "$(watermark_sum hs.events.orders)" "^$before\$" "nothing was sent"
expect_rc 1 "unknown type" -- "$H" produce --type order.shipped "$(order x-1)"
expect_match "$ERR" "unknown event type 'order.shipped'; known types: .*order\.placed" \
    "unknown type lists the known ones"
{ order m-1; echo '{"order_id": '; } >malformed.jsonl
expect_rc 1 "malformed JSON" -- "$H" produce --type order.placed --from-file malformed.jsonl
expect_match "$ERR" "line 2: invalid JSON" "malformed line is numbered"
expect_rc 1 "no type" -- "$H" produce "$(order x-2)"
expect_match "$ERR" "no event type" "a data line without --type is refused"
expect_rc 1 "envelope with unknown field" -- "$H" produce \
    "{\"type\":\"order.placed\",\"data\":$(order x-3),\"colour\":\"red\"}"
expect_match "$ERR" "unknown envelope field 'colour'" "envelope fields are checked"
expect_rc 2 "bad --time" -- "$H" produce --type order.placed --time yesterday "$(order x-4)"
expect_match "$(watermark_sum hs.events.orders)" "^$before\$" "still nothing sent"

dead="127.0.0.1:$(free_port)"
t0=$(date +%s%N)
expect_rc 1 "produce to an unreachable broker" -- timeout 10 "$H" produce --type order.placed \
    --brokers "$dead" --set kafka.timeout_ms=1500 "$(order u-1)"
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_match "$ERR" "kafka at $dead: unreachable" "unreachable broker is named"
[ "$elapsed_ms" -lt 5000 ] && pass "gave up in ${elapsed_ms} ms" || fail "took ${elapsed_ms} ms"
expect_rc 1 "topics list on an unreachable broker" -- timeout 10 "$H" topics list \
    --brokers "$dead" --set kafka.timeout_ms=1000
expect_match "$ERR" "kafka at $dead: unreachable" "topics names the broker"
expect_rc 1 "consume from an unreachable broker" -- timeout 10 "$H" consume hs.events.orders \
    --brokers "$dead" --set kafka.timeout_ms=1000
expect_rc 1 "consume unknown topic" -- "$H" consume no.such.topic --exit-at-end
expect_match "$ERR" "topic 'no.such.topic' does not exist" "consume names the topic"
expect_rc 2 "consume bad --since" -- "$H" consume hs.events.orders --since soon
expect_rc 2 "consume bad --from" -- "$H" consume hs.events.orders --from yesterday
expect_rc 2 "broker bad --topic" -- "$H" broker --topic 'x:0' --bootstrap-file ''

# ---- control API and shutdown ---------------------------------------------------------------
expect_rc 0 "control API creates a topic" -- curl -sf -XPOST "$control/topics" \
    -d '{"name":"e2e.ctl","partitions":2}'
expect_match "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$control/topics" \
    -d '{"name":"e2e.ctl"}')" '^409$' "existing topic answers 409"
expect_match "$(curl -s "$control/topics" | jq -r '.topics[] | select(.name=="e2e.ctl") | .partitions')" \
    '^2$' "GET /topics lists it"
expect_match "$(curl -s "$control/metrics")" 'hs_http_requests_total' "control API has /metrics"
kill -TERM "$broker_pid"
wait "$broker_pid"
rc=$?
broker_pid=""
[ "$rc" = 0 ] && pass "broker exits 0 on SIGTERM" || fail "broker exit $rc: $(cat "$tmp/broker.err")"
[ ! -e "$tmp/run/bootstrap" ] && pass "bootstrap file removed" || fail "bootstrap file left"
finish
