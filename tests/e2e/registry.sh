#!/usr/bin/env bash
# The schema registry as a user meets it: `hookstream registry` on a free port over a private
# database of the stack's Postgres, driven with curl and `hookstream schemas`, plus the failure
# modes (Postgres unreachable, port in use) and a clean stop on SIGTERM.
source "$(dirname "$0")/lib.sh"
if [ -z "${HS_POSTGRES_DSN:-}" ]; then
    echo "skipped: HS_POSTGRES_DSN is not set (run it from ops/test.sh)"
    exit 0
fi
tmp=$(mktemp -d)
db="hs_e2e_registry_$$"
dsn="${HS_POSTGRES_DSN%/*}/$db"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    psql -q "$HS_POSTGRES_DSN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
psql -q "$HS_POSTGRES_DSN" -c "CREATE DATABASE $db" >/dev/null || { fail "create database $db"; finish; }

port=$(free_port)
url="http://127.0.0.1:$port"
"$HOOKSTREAM" registry --listen "127.0.0.1:$port" --dsn "$dsn" >"$tmp/out" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do curl -fs "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
expect_match "$(curl -s "$url/readyz")" '"ready"' "registry is ready on $url"
expect_match "$(cat "$tmp/out")" "^$url\$" "registry prints its URL"

ct='Content-Type: application/vnd.schemaregistry.v1+json'
v1='{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"total","type":"int"}]}'
body() { jq -cn --arg s "$1" '{schema: $s}'; }
post() { curl -s -o "$tmp/body" -w '%{http_code}' -X POST -H "$ct" --data "$(body "$2")" "$url$1"; }

code=$(post /subjects/shop.orders-value/versions "$v1")
expect_match "$code $(cat "$tmp/body")" '^200 \{"id":[0-9]+\}$' "register answers 200 {\"id\": N}"
id=$(jq .id "$tmp/body")
code=$(post /subjects/shop.orders-value/versions "$(jq -c . <<<"$v1" | jq .)")
expect_match "$(jq .id "$tmp/body")" "^$id\$" "the same schema (other whitespace) keeps id $id"
got=$(curl -s "$url/schemas/ids/$id" | jq -r .schema | jq -cS .)
[ "$got" = "$(jq -cS . <<<"$v1")" ] && pass "GET /schemas/ids/$id returns the schema" ||
    fail "GET /schemas/ids/$id returned '$got'"
expect_match "$(curl -s "$url/subjects/shop.orders-value/versions")" '^\[1\]$' "one version"

v2='{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"total","type":"string"}]}'
code=$(post /subjects/shop.orders-value/versions "$v2")
expect_match "$code" '^409$' "incompatible change is refused with 409"
expect_match "$(jq -r .message "$tmp/body")" "type mismatch at 'total': writer int, reader string" \
    "409 names the field and why"
code=$(post /subjects/shop.orders-value/versions '{"type":"record","name":')
expect_match "$code $(jq .error_code "$tmp/body")" '^422 42201$' "malformed schema is 422 / 42201"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$url/subjects/nope/versions")
expect_match "$code $(jq .error_code "$tmp/body")" '^404 40401$' "unknown subject is 404 / 40401"

expect_rc 0 "schemas register (built-in types)" -- "$HOOKSTREAM" schemas register --registry-url "$url"
expect_match "$OUT" 'hs\.events\.orders-hookstream\.orders\.OrderPlaced -> [0-9]+' "prints subject -> id"
expect_rc 0 "schemas list" -- "$HOOKSTREAM" schemas list --registry-url "$url"
expect_match "$OUT" 'shop\.orders-value +1 +[0-9]+' "list shows subject, version and id"
expect_rc 0 "schemas list over the local catalog" -- "$HOOKSTREAM" schemas list --dsn "$dsn" --registry-url ""
expect_match "$OUT" 'hs\.events\.orders-hookstream\.orders\.OrderPlaced' "local list sees the same subjects"
expect_rc 0 "schemas list --types" -- "$HOOKSTREAM" schemas list --types
expect_match "$OUT" 'order\.placed +hs\.events\.orders +hs\.events\.orders-hookstream\.orders\.OrderPlaced' \
    "types show topic and subject"
expect_rc 0 "schemas show TYPE" -- "$HOOKSTREAM" schemas show order.placed --registry-url "$url"
expect_match "$(jq -r .name <<<"$OUT")" '^OrderPlaced$' "show prints the schema as JSON"
expect_rc 1 "schemas show unknown subject" -- "$HOOKSTREAM" schemas show nope --registry-url "$url"
expect_match "$ERR" "Subject 'nope' not found" "unknown subject is named"

printf '%s\n' "$v2" >"$tmp/v2.avsc"
jq '.fields += [{"name": "note", "type": "string", "default": ""}]' <<<"$v1" >"$tmp/v3.avsc"
expect_rc 1 "schemas check incompatible" -- "$HOOKSTREAM" schemas check "$tmp/v2.avsc" --subject shop.orders-value --registry-url "$url"
expect_match "$OUT" "^incompatible: .*type mismatch at 'total'" "check prints the reason"
expect_rc 0 "schemas check compatible" -- "$HOOKSTREAM" schemas check "$tmp/v3.avsc" --subject shop.orders-value --registry-url "$url"
expect_match "$OUT" '^compatible$' "check prints compatible"
expect_rc 0 "schemas register FILE" -- "$HOOKSTREAM" schemas register "$tmp/v3.avsc" --subject shop.orders-value --registry-url "$url"
expect_match "$OUT" '^shop\.orders-value -> [0-9]+$' "register FILE prints subject -> id"
expect_rc 2 "schemas check without --subject" -- "$HOOKSTREAM" schemas check "$tmp/v3.avsc"
expect_rc 1 "schemas check missing file" -- "$HOOKSTREAM" schemas check "$tmp/none.avsc" --subject s --registry-url "$url"
expect_match "$ERR" "none.avsc: No such file" "missing file named"

expect_rc 1 "second registry on the same port" -- "$HOOKSTREAM" registry --listen "127.0.0.1:$port" --dsn "$dsn"
expect_match "$ERR" "$port" "port in use names the port"

start=$(date +%s)
expect_rc 1 "Postgres unreachable" -- env HS_POSTGRES_CONNECT_TIMEOUT_S=3 timeout 30 \
    "$HOOKSTREAM" registry --listen 127.0.0.1:0 --dsn postgresql://127.0.0.1:1/hookstream
expect_match "$ERR" "postgres at 127\.0\.0\.1:1/hookstream" "error names the Postgres server"
[ "$(wc -l <<<"$ERR")" = 1 ] && pass "one line" || fail "unreachable error is not one line: $ERR"
[ $(($(date +%s) - start)) -le 10 ] && pass "fails within the timeout" || fail "took too long"
expect_rc 1 "registry.url unreachable" -- "$HOOKSTREAM" schemas list --registry-url http://127.0.0.1:1
expect_match "$ERR" "registry.url http://127.0.0.1:1" "unreachable registry is named"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] && pass "SIGTERM stops the registry with exit 0" || fail "exit $rc after SIGTERM"
expect_match "$(cat "$tmp/log")" '"msg":"registry stopping"' "stop is logged"
finish
