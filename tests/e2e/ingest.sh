#!/usr/bin/env bash
# Webhook ingest as a user meets it: `hookstream ingest` with a quick-start Shopify source, a
# signed orders/create posted with curl (HMAC by openssl), the order.placed event read back
# with `hookstream consume`, then the refusals (bad signature, unknown source, wrong method,
# content type, size), a duplicate, config errors (exit 2) and a clean stop on SIGTERM.
source "$(dirname "$0")/lib.sh"
if [ -z "${HS_KAFKA_BROKERS:-}" ] || [ -z "${HS_REGISTRY_URL:-}" ]; then
    echo "skipped: HS_KAFKA_BROKERS / HS_REGISTRY_URL are not set (run it from ops/test.sh)"
    exit 0
fi
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

secret=shpss_e2e_secret
source_name="e2e$$"
port=$(free_port)
url="http://127.0.0.1:$port"
export HS_FLAGS_FILE="$tmp/flags.json" HS_FLAGS_POLL_MS=100 HS_FLAGS_TOPIC=""
echo '{"flags": {}}' >"$HS_FLAGS_FILE"
"$HOOKSTREAM" ingest --listen "127.0.0.1:$port" --source "$source_name=shopify:$secret" \
    >"$tmp/out" 2>"$tmp/log" &
pid=$!
for _ in $(seq 300); do curl -fs "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
expect_match "$(curl -s "$url/readyz")" '"ready"' "ingest is ready on $url"
expect_match "$(cat "$tmp/out")" "^$url\$" "ingest prints its URL"

body="$HS_SOURCE_DIR/tests/data/mapping/shopify/orders_create/body"
sig=$(openssl dgst -sha256 -hmac "$secret" -binary "$body" | base64)
webhook_id="e2e-$$-$(date +%s%N)"
since=$(($(date +%s) * 1000 - 1000))
post() { # post SIGNATURE [curl args...]: prints the body, then the status on its own line
    local s="$1"; shift
    curl -s -w '\n%{http_code}' -X POST "$url/webhooks/$source_name" \
        -H 'Content-Type: application/json' -H 'X-Shopify-Topic: orders/create' \
        -H "X-Shopify-Hmac-Sha256: $s" -H "X-Shopify-Webhook-Id: $webhook_id" \
        -H 'X-Shopify-Shop-Domain: example.myshopify.com' --data-binary "@$body" "$@"
}
out=$(post "$sig")
expect_match "$(tail -1 <<<"$out")" '^202$' "signed orders/create is accepted (202)"
expect_match "$(head -1 <<<"$out")" '"events": ?\["order.placed"\]' "the answer names order.placed"

got=$("$HOOKSTREAM" consume hs.events.orders --from "$since" --exit-at-end 2>"$tmp/consume.err" |
    grep "\"ce_source\":\"/shopify/$source_name\"")
expect_match "$got" '"type":"order.placed"' "consume reads order.placed back"
expect_match "$got" '"order_id":"820982911946154508"' "with the order id from the webhook"
inbox=$("$HOOKSTREAM" consume "hs.inbox.$source_name" --exit-at-end --raw 2>/dev/null)
expect_match "$inbox" "\"key\":\"$webhook_id\"" "the raw body is on hs.inbox.$source_name"

out=$(post "$sig")
expect_match "$(tail -1 <<<"$out")" '^200$' "the same webhook again is 200"
expect_match "$(head -1 <<<"$out")" '"duplicate": ?true' "and marked duplicate"

out=$(post "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
expect_match "$(tail -1 <<<"$out")" '^401$' "a wrong signature is 401"
expect_match "$(head -1 <<<"$out")" '"detail":"signature verification failed' "naming why"

code=$(curl -s -o "$tmp/r" -w '%{http_code}' -X POST "$url/webhooks/nope" \
    -H 'Content-Type: application/json' -d '{}')
expect_match "$code $(cat "$tmp/r")" '^404 .*no source named' "an unknown source is 404"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' "$url/webhooks/$source_name")
expect_match "$code" '^405$' "GET is 405"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' -X POST "$url/webhooks/$source_name" \
    -H 'Content-Type: text/plain' -d 'hi')
expect_match "$code" '^415$' "text/plain is 415"
head -c 2000000 /dev/zero | tr '\0' x >"$tmp/big"
code=$(curl -s -o "$tmp/r" -w '%{http_code}' -X POST "$url/webhooks/$source_name" \
    -H 'Content-Type: application/json' --data-binary "@$tmp/big")
expect_match "$code $(cat "$tmp/r")" '^413 .*problem|^413 ' "a 2 MB body is 413"

metrics=$(curl -s "$url/metrics")
expect_match "$metrics" "hs_ingest_requests_total\{source=\"$source_name\",status=\"202\"\} 1" \
    "requests are counted by source and status"
expect_match "$metrics" "hs_ingest_verify_failures_total\{source=\"$source_name\",reason=\"mismatch\"\} 1" \
    "verification failures are counted by reason"

# ---- the kill switch: a disabled integration answers 503 + Retry-After, the provider retries ------
switch() { # switch on|off: the flag integration.<source>.enabled
    printf '{"flags":{"integration.%s.enabled":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"%s"}}}\n' \
        "$source_name" "$1" >"$HS_FLAGS_FILE.new" && mv "$HS_FLAGS_FILE.new" "$HS_FLAGS_FILE"
}
switch off
# until the flag is in force, each probe has an id of its own (an accepted one is no duplicate)
refused() { webhook_id="e2e-probe-$RANDOM$RANDOM"; [ "$(post "$sig" | tail -1)" = 503 ]; }
wait_for 10 refused && pass "a switched-off source answers 503" || fail "switched off: $(post "$sig")"
webhook_id="e2e-off-$$-$(date +%s%N)"
expect_match "$(post "$sig" | tail -1)" '^503$' "so does every webhook while it is off"
headers=$(post "$sig" -D - -o /dev/null)
expect_match "$headers" '[Rr]etry-[Aa]fter: [0-9]+' "with Retry-After"
expect_match "$(post "$sig" | head -1)" "integration '$source_name' is disabled" "naming the flag"
switch on
accepted() { [ "$(post "$sig" | tail -1)" = 202 ]; }
wait_for 10 accepted && pass "switched on again, the retried webhook is accepted" ||
    fail "switched on: $(post "$sig")"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
expect_match "$rc" '^0$' "SIGTERM stops ingest with exit 0"

expect_rc 2 "--source without a type is a usage error" -- \
    "$HOOKSTREAM" ingest --source shop1 --listen 127.0.0.1:0
expect_match "$ERR" 'NAME=TYPE:SECRET' "and says the expected form"
expect_rc 2 "an unknown provider is a usage error" -- \
    "$HOOKSTREAM" ingest --source shop1=shopfy:x --listen 127.0.0.1:0
expect_match "$ERR" "unknown provider 'shopfy'" "naming the provider"
printf 'sources:\n  shop1:\n    type: shopify\n    secret: x\n    tier: gold\n' >"$tmp/hs.yaml"
expect_rc 2 "a bad sources: section is a config error" -- \
    "$HOOKSTREAM" ingest --config "$tmp/hs.yaml" --listen 127.0.0.1:0
expect_match "$ERR" "$tmp/hs.yaml:5: sources.shop1.tier" "naming FILE:LINE and the key"
expect_rc 0 "--help" -- "$HOOKSTREAM" ingest --help
expect_match "$OUT" 'NAME=TYPE:SECRET' "--help shows the quick start"
finish
