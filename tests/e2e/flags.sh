#!/usr/bin/env bash
# `hookstream flags` as a user drives it: usage errors (exit 2) and a flags file offline, then
# against the stack's broker, on a topic of the run's own: set, list, get, an invalid set refused
# (exit 1, the reason named), rollout (0, 10, 100 %), disable/enable, eval with a context,
# shared evaluators, a file under the topic, an unknown flag (exit 1).
source "$(dirname "$0")/lib.sh"
H="$HOOKSTREAM"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HS_LOG_LEVEL=error

# ---- no broker needed ---------------------------------------------------------------------
expect_rc 0 "flags --help" -- "$H" flags --help
expect_match "$OUT" "usage: hookstream flags list" "--help shows the usage"
expect_rc 2 "no subcommand" -- "$H" flags
expect_rc 2 "unknown subcommand" -- "$H" flags frobnicate
expect_match "$ERR" "'frobnicate' is not a subcommand" "the unknown subcommand is named"
expect_rc 2 "get without KEY" -- "$H" flags get
expect_rc 2 "enable with two keys" -- "$H" flags enable a b
expect_rc 2 "rollout PCT not a number" -- "$H" flags rollout k ten
expect_rc 2 "rollout PCT over 100" -- "$H" flags rollout k 101
expect_match "$ERR" "PCT '101' is not an integer from 0 to 100" "the bad PCT is named"
expect_rc 2 "eval --context not an object" -- "$H" flags eval k --context '[1]'
expect_rc 2 "eval --context not JSON" -- "$H" flags eval k --context '{nope'
expect_rc 2 "set with JSON and --file" -- "$H" flags set k '{}' --file /dev/null
expect_rc 2 "unknown option" -- "$H" flags list --frob
expect_rc 2 "--offline with a change" -- "$H" flags enable k --offline

cat >"$tmp/flags.json" <<'EOF'
{
  "flags": {
    "new-checkout": {
      "state": "ENABLED",
      "variants": {"on": true, "off": false},
      "defaultVariant": "off",
      "targeting": {"fractional": [["on", 50], ["off", 50]]}
    },
    "banner": {
      "state": "ENABLED",
      "variants": {"plain": "hello", "staff": "hello, colleague"},
      "defaultVariant": "plain",
      "targeting": {"if": [{"starts_with": [{"var": "email"}, "ops@"]}, "staff", null]}
    }
  }
}
EOF
expect_rc 0 "list --offline --file" -- "$H" flags list --offline --file "$tmp/flags.json"
expect_match "$OUT" "^banner +ENABLED +plain +yes" "the file's flags are listed"
expect_rc 0 "eval --offline" -- "$H" flags eval banner --offline --file "$tmp/flags.json" \
    --context '{"email": "ops@example.com"}'
expect_match "$OUT" '^\{"value":"hello, colleague","variant":"staff","reason":"TARGETING_MATCH"\}$' \
    "eval prints value, variant and reason"
printf '{"flags": {"x": {"state": "ON", "variants": {"a": 1}}}}' >"$tmp/bad.json"
expect_rc 1 "an invalid --file" -- "$H" flags list --offline --file "$tmp/bad.json"
expect_match "$ERR" "flag 'x': state 'ON' is not ENABLED or DISABLED" "the file's error is named"

if [ -z "${HS_KAFKA_BROKERS:-}" ]; then
    echo "skipped the rest: HS_KAFKA_BROKERS is not set (run it from ops/test.sh)"
    finish
    exit 0
fi

# ---- on the broker, a topic of this run ----------------------------------------------------
export HS_FLAGS_TOPIC="e2e.flags.$$.$(date +%s)"
expect_rc 0 "list an empty topic" -- "$H" flags list
[ "$(wc -l <<<"$OUT")" = 1 ] && pass "only the header" || fail "empty list: $OUT"

expect_rc 0 "set a flag" -- "$H" flags set beta \
    '{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}'
expect_rc 0 "list" -- "$H" flags list
expect_match "$OUT" "^beta +ENABLED +on +no$" "list shows key, state, default, targeting"
expect_rc 0 "get" -- "$H" flags get beta
expect_match "$(jq -c . <<<"$OUT")" '"defaultVariant":"on"' "get prints the flag's JSON"

expect_rc 1 "an invalid set is refused" -- "$H" flags set broken \
    '{"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "maybe"}'
expect_match "$ERR" "refused: flag 'broken': defaultVariant 'maybe' is not one of its variants" \
    "the refusal says why"
expect_rc 1 "the refused flag was not written" -- "$H" flags get broken
expect_rc 1 "a set that is not JSON" -- "$H" flags set broken '{"state": '
expect_match "$ERR" "not JSON" "not JSON is named"
expect_rc 1 "unknown operator refused" -- "$H" flags set broken \
    '{"state": "ENABLED", "variants": {"on": true}, "targeting": {"nope": [1]}}'
expect_match "$ERR" 'unknown operator "nope"' "the unknown operator is named"

# rollout: a missing flag becomes a boolean on/off flag
evals() { # evals KEY N: the values of KEY for targeting keys u-1..u-N, one a line
    for i in $(seq "$2"); do "$H" flags eval "$1" --context "{\"targetingKey\": \"u-$i\"}"; done |
        jq -r .value
}
expect_rc 0 "rollout 10" -- "$H" flags rollout new-checkout 10
expect_rc 0 "get the rollout" -- "$H" flags get new-checkout
expect_match "$(jq -c .targeting <<<"$OUT")" '^\{"fractional":\[\["on",10\],\["off",90\]\]\}$' \
    "the targeting is fractional on 10, off 90"
on10=$(evals new-checkout 60 | grep -c true)
((on10 >= 1 && on10 <= 15)) && pass "about 10% on ($on10 of 60)" || fail "10%: $on10 of 60 on"
expect_rc 0 "rollout 100" -- "$H" flags rollout new-checkout 100
[ "$(evals new-checkout 10 | sort -u)" = true ] && pass "100%: all on" || fail "100%: not all on"
expect_rc 0 "rollout 0" -- "$H" flags rollout new-checkout 0
[ "$(evals new-checkout 10 | sort -u)" = false ] && pass "0%: all off" || fail "0%: not all off"
expect_rc 0 "eval" -- "$H" flags eval new-checkout --context '{"targetingKey": "u-1"}'
expect_match "$OUT" '"reason":"TARGETING_MATCH"' "a rollout is a targeting match"

expect_rc 0 "disable" -- "$H" flags disable new-checkout
expect_rc 0 "eval a disabled flag" -- "$H" flags eval new-checkout --context '{"targetingKey": "u"}'
expect_match "$OUT" '^\{"value":null,"variant":null,"reason":"DISABLED","error":"FLAG_DISABLED"\}$' \
    "disabled: the caller's default"
expect_rc 0 "enable" -- "$H" flags enable new-checkout
expect_rc 0 "eval again" -- "$H" flags eval new-checkout --context '{"targetingKey": "u"}'
expect_match "$OUT" '"value":false,"variant":"off","reason":"TARGETING_MATCH"' "enabled again"

expect_rc 0 "disable a missing kill switch" -- "$H" flags disable integration.shopify.enabled
expect_rc 0 "list" -- "$H" flags list
expect_match "$OUT" "^integration.shopify.enabled +DISABLED +on +no$" "created as a boolean flag"
jq '.flags.banner' "$tmp/flags.json" >"$tmp/banner.json"
expect_rc 0 "set --file" -- "$H" flags set banner --file "$tmp/banner.json"
expect_rc 1 "rollout of a flag without on/off" -- "$H" flags rollout banner 5
expect_match "$ERR" "variants named on and off" "rollout says what it needs"
expect_rc 1 "a document given as a flag" -- "$H" flags set doc --file "$tmp/flags.json"
expect_match "$ERR" "flag 'doc': state must be ENABLED or DISABLED" "a document is no flag"

# shared evaluators, then a flag using them; eval with a context
expect_rc 0 "set \$evaluators" -- "$H" flags set '$evaluators' \
    '{"staff": {"ends_with": [{"var": "email"}, "@hookstream.dev"]}}'
expect_rc 0 "a flag with a \$ref" -- "$H" flags set staff-banner \
    '{"state": "ENABLED", "variants": {"yes": true, "no": false}, "defaultVariant": "no",
      "targeting": {"if": [{"$ref": "staff"}, "yes", null]}}'
expect_rc 0 "eval staff" -- "$H" flags eval staff-banner --context '{"email": "ada@hookstream.dev"}'
expect_match "$OUT" '"value":true,"variant":"yes","reason":"TARGETING_MATCH"' "the evaluator matched"
expect_rc 0 "eval other" -- "$H" flags eval staff-banner --context '{"email": "bob@example.com"}'
expect_match "$OUT" '"value":false,"variant":"no","reason":"DEFAULT"' "null targeting: DEFAULT"
expect_rc 1 "dropping evaluators in use is refused" -- "$H" flags set '$evaluators' '{"x": {"!": [1]}}'
expect_match "$ERR" "unknown \\\$ref 'staff'" "the flag that needs them is named"

# a file under the topic: the topic's definitions win
expect_rc 0 "list with --file" -- "$H" flags list --file "$tmp/flags.json"
expect_match "$OUT" "^banner +ENABLED" "the file's flags are there"
expect_match "$OUT" "^new-checkout +ENABLED +off +yes" "the topic's new-checkout wins"
expect_rc 0 "eval with --file" -- "$H" flags eval new-checkout --file "$tmp/flags.json" \
    --context '{"targetingKey": "u-1"}'
expect_match "$OUT" '"value":false' "0% from the topic, not 50% from the file"

expect_rc 1 "eval an unknown flag" -- "$H" flags eval nope
expect_match "$OUT" '"reason":"ERROR","error":"FLAG_NOT_FOUND"' "not found is an error"
expect_rc 1 "get an unknown flag" -- "$H" flags get nope
expect_match "$ERR" "nope: no such flag" "get names the missing flag"
expect_rc 1 "unreachable broker" -- "$H" flags list --brokers 127.0.0.1:1 --set kafka.timeout_ms=500
finish
