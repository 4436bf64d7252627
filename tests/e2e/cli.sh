#!/usr/bin/env bash
# The binary as a user meets it: command table, --help everywhere, config errors.
source "$(dirname "$0")/lib.sh"
# the config checks below are about file/env/flag precedence: start from no HS_* environment
for v in $(compgen -e | grep '^HS_'); do [ "$v" = HS_SOURCE_DIR ] || unset "$v"; done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

expect_rc 2 "no command prints usage" -- "$HOOKSTREAM"
expect_match "$ERR" "usage: hookstream <command>" "usage goes to stderr"
expect_rc 2 "unknown command" -- "$HOOKSTREAM" frobnicate
expect_match "$ERR" "'frobnicate' is not a command" "unknown command is named"
expect_rc 0 "help lists commands" -- "$HOOKSTREAM" help
HELP="$OUT"
for cmd in dev broker registry migrate produce consume topics groups schemas config version; do
    expect_match "$HELP" "^  $cmd " "help lists $cmd"
    expect_rc 0 "$cmd --help" -- "$HOOKSTREAM" "$cmd" --help
    expect_match "$OUT" "usage: hookstream $cmd" "$cmd --help shows its usage"
done
expect_rc 0 "version" -- "$HOOKSTREAM" version
expect_match "$OUT" "^hookstream [0-9]+\.[0-9]+\.[0-9]+ \(librdkafka" "version names both"

printf 'kafka:\n  brokers: a:1\npostgres:\n  dns: x\n' > bad.yaml
expect_rc 2 "unknown key in file" -- "$HOOKSTREAM" config check --config bad.yaml
expect_match "$ERR" "bad.yaml:4: postgres.dns: unknown key" "error names file:line:key"
[ "$(wc -l <<<"$ERR")" = 1 ] && pass "one line" || fail "config error is not one line: $ERR"

printf 'kafka:\n  brokers: [a\n' > broken.yaml
expect_rc 2 "malformed YAML" -- "$HOOKSTREAM" config check --config broken.yaml
expect_match "$ERR" "broken.yaml:[0-9]+" "malformed YAML names the line"

printf 'kafka:\n  partitions: lots\n' > badval.yaml
expect_rc 2 "bad value" -- "$HOOKSTREAM" config check --config badval.yaml
expect_match "$ERR" "badval.yaml:2: kafka.partitions: 'lots' is not an integer" "bad value named"

expect_rc 2 "bad env key" -- env HS_REDIS_URLL=x "$HOOKSTREAM" config check
expect_match "$ERR" "HS_REDIS_URLL: redis.urll: unknown key" "env var named"
expect_rc 2 "malformed --set" -- "$HOOKSTREAM" config check --set nonsense
expect_rc 2 "unknown --set key" -- "$HOOKSTREAM" config check --set kafka_brokers=x
expect_match "$ERR" "kafka_brokers: unknown key" "--set key named"
expect_rc 2 "missing config file" -- "$HOOKSTREAM" config check --config nope.yaml
expect_match "$ERR" "nope.yaml: No such file" "missing file named"

printf 'kafka:\n  brokers: f:1\nlog:\n  level: warn\n' > hookstream.yaml
expect_rc 0 "config show reads ./hookstream.yaml" -- env HS_LOG_LEVEL=debug "$HOOKSTREAM" config show --set kafka.brokers=g:2
expect_match "$OUT" "kafka.brokers +g:2 +# --set" "flag beats file"
expect_match "$OUT" "log.level +debug +# env HS_LOG_LEVEL" "env beats file"
expect_rc 0 "HS_CONFIG names the file" -- env HS_CONFIG="$tmp/hookstream.yaml" "$HOOKSTREAM" config show
expect_match "$OUT" "kafka.brokers +f:1 +# .*hookstream.yaml:2" "origin is file:line"

expect_rc 0 "config doc" -- "$HOOKSTREAM" config doc
if diff -q <(printf '%s\n' "$OUT") "$HS_SOURCE_DIR/docs/config.md" >/dev/null; then
    pass "docs/config.md is current"
else
    fail "docs/config.md is stale: run hookstream config doc > docs/config.md"
fi
finish
