#!/usr/bin/env bash
# ops/prometheus as Prometheus reads it: promtool accepts the config and the rule files, and the
# alert unit tests (ops/prometheus/tests/*.yml) pass: every alert fires on the series that mean
# trouble and stays silent on healthy ones. Needs no stack; skipped without promtool.
source "$(dirname "$0")/lib.sh"
if ! command -v promtool >/dev/null; then
    echo "skipped: promtool is not installed (Debian package prometheus, ops/deps.sh installs it)"
    exit 0
fi
prom="$HS_SOURCE_DIR/ops/prometheus"
expect_rc 0 "promtool check rules" -- promtool check rules "$prom"/rules/*.yml
expect_match "$OUT" 'SUCCESS: [1-9][0-9]* rules found' "the rule files hold rules"
# The config reads targets/*.json beside it: checked in a copy holding one target file, so a
# missing-file warning cannot hide a real problem.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$prom/prometheus.yml" "$prom/rules" "$tmp/"
mkdir "$tmp/targets"
echo '[{"targets":["127.0.0.1:1"],"labels":{"job":"ingest"}}]' >"$tmp/targets/ingest.json"
expect_rc 0 "promtool check config" -- promtool check config "$tmp/prometheus.yml"
expect_match "$OUT" 'SUCCESS: 2 rule files found' "the config loads both rule files"
for t in "$prom"/tests/*.yml; do
    expect_rc 0 "promtool test rules $(basename "$t")" -- promtool test rules "$t"
    [ "$RC" = 0 ] || echo "$OUT"
done
# Every alert of alerts.yml has a unit test, and a runbook entry in docs/observability.md.
for a in $(sed -n 's/^ *- alert: *//p' "$prom/rules/alerts.yml"); do
    grep -q "alertname: $a\$" "$prom"/tests/*.yml || fail "alert $a has no promtool test"
    grep -q "^### $a\$" "$HS_SOURCE_DIR/docs/observability.md" || fail "alert $a has no runbook in docs/observability.md"
done
# A broken rule file is refused (the check can fail).
printf 'groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: rate(x[5m]\n' >"$tmp/bad.yml"
expect_rc 1 "promtool refuses a broken rule" -- promtool check rules "$tmp/bad.yml"
finish
