#!/usr/bin/env bash
# `hookstream verify` as a user runs it: every tests/data/signatures case through the command
# line (exit 0 valid, 1 invalid, 2 configuration/usage), then --map and bad usage.
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
DATA="$HS_SOURCE_DIR/tests/data/signatures"

run_case() {
    local dir="$1" provider="$2" args=() line key value
    args=(verify --type "$provider" --body-file "$dir/body")
    while IFS= read -r line; do args+=(--secret "$line"); done <"$dir/secret"
    while IFS= read -r line; do args+=(-H "$line"); done <"$dir/headers"
    [ -f "$dir/at" ] && args+=(--at "$(cat "$dir/at")")
    [ -f "$dir/url" ] && args+=(--url "$(cat "$dir/url")")
    if [ -f "$dir/options" ]; then
        while IFS= read -r line; do
            key=${line%%=*} value=${line#*=}
            args+=("--${key//_/-}" "$value")
        done <"$dir/options"
    fi
    local want; want=$(cat "$dir/expected")
    local name="${dir#"$DATA"/}"
    case "$want" in
        valid) expect_rc 0 "$name" -- "$HOOKSTREAM" "${args[@]}"
               [ "$OUT" = valid ] || fail "$name: printed '$OUT', want 'valid'" ;;
        invalid:*) expect_rc 1 "$name" -- "$HOOKSTREAM" "${args[@]}"
                   [ "$OUT" = "$want" ] || fail "$name: printed '$OUT', want '$want'" ;;
        config:*) expect_rc 2 "$name" -- "$HOOKSTREAM" "${args[@]}"
                  [ "$ERR" = "hookstream verify: ${want#config: }" ] ||
                      fail "$name: stderr '$ERR', want 'hookstream verify: ${want#config: }'" ;;
        *) fail "$name: unknown expectation '$want'" ;;
    esac
}

n=0
for pdir in "$DATA"/*/; do
    provider=$(basename "$pdir")
    for dir in "$pdir"*/; do
        run_case "${dir%/}" "$provider"
        n=$((n + 1))
    done
done
[ "$n" -ge 150 ] && pass "$n signature cases" || fail "only $n signature cases"

# The body can come on standard input; --map shows what ingest would produce.
secret=shpss_e2e
body=$(cat "$HS_SOURCE_DIR/tests/data/mapping/shopify/orders_create/body")
sig=$(printf '%s' "$body" | /usr/bin/python3 -c 'import sys,hmac,hashlib,base64
print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).digest()).decode())' "$secret")
printf '%s' "$body" >"$tmp/order.json"
expect_rc 0 "body on stdin" -- bash -c "'$HOOKSTREAM' verify -t shopify -s $secret \
    -H 'X-Shopify-Hmac-Sha256: $sig' -H 'X-Shopify-Topic: orders/create' \
    -H 'X-Shopify-Webhook-Id: w-1' --map <'$tmp/order.json'"
expect_match "$OUT" "^valid$" "valid first"
expect_match "$OUT" "^event_id: w-1$" "--map prints the event id"
expect_match "$OUT" "^outcome: mapped$" "--map prints the outcome"
expect_match "$OUT" '^event: \{"data":\{.*"order_id":"820982911946154508".*\},"key":"820982911946154508","type":"order.placed"\}$' \
    "--map prints the typed event"
expect_rc 1 "tampered body on stdin" -- bash -c "printf x | '$HOOKSTREAM' verify -t shopify \
    -s $secret -H 'X-Shopify-Hmac-Sha256: $sig'"
[ "$OUT" = "invalid: signature mismatch" ] && pass "mismatch named" || fail "printed '$OUT'"

# Bad usage: exit 2 with a message on stderr.
expect_rc 0 "--help" -- "$HOOKSTREAM" verify --help
expect_match "$OUT" "usage: hookstream verify" "--help shows the usage"
expect_rc 2 "no --type" -- "$HOOKSTREAM" verify -s x
expect_match "$ERR" "--type is required" "missing --type named"
expect_rc 2 "unknown provider" -- "$HOOKSTREAM" verify -t paypal -s x
expect_match "$ERR" "unknown provider 'paypal' \(known: shopify, stripe, github, slack, standard-webhooks, svix, zendesk, twilio, chatwoot, generic-hmac\)" \
    "unknown provider lists the known ones"
expect_rc 2 "no --secret" -- "$HOOKSTREAM" verify -t shopify
expect_match "$ERR" "--secret is required" "missing --secret named"
expect_rc 2 "empty secret" -- "$HOOKSTREAM" verify -t shopify -s "" --body-file /dev/null
expect_match "$ERR" "secret 1 is empty" "empty secret named"
expect_rc 2 "malformed -H" -- "$HOOKSTREAM" verify -t shopify -s x -H "no colon here"
expect_match "$ERR" "expected 'Name: value'" "malformed -H named"
expect_rc 2 "missing body file" -- "$HOOKSTREAM" verify -t shopify -s x --body-file "$tmp/nope"
expect_match "$ERR" "cannot read the body from $tmp/nope" "missing body file named"
expect_rc 2 "bad --at" -- "$HOOKSTREAM" verify -t shopify -s x --at yesterday
expect_match "$ERR" "--at: 'yesterday' is not a non-negative integer" "bad --at named"
expect_rc 2 "bad --tolerance" -- "$HOOKSTREAM" verify -t stripe -s x --tolerance -5
expect_rc 2 "unknown option" -- "$HOOKSTREAM" verify -t shopify -s x --frobnicate
expect_rc 2 "stray argument" -- "$HOOKSTREAM" verify -t shopify -s x body.json
expect_match "$ERR" "unexpected argument body.json" "stray argument named"
expect_rc 2 "generic-hmac without --header" -- "$HOOKSTREAM" verify -t generic-hmac -s x \
    --body-file /dev/null
expect_match "$ERR" "generic-hmac: no signature header" "generic-hmac needs --header"
finish
