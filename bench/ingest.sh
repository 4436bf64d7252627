#!/usr/bin/env bash
# Benchmark of `hookstream ingest` beside the shared peers (../shared/bench/run.sh): the harness
# starts its mock broker, the peers and our ingest (Shopify source named "shopify", so our inbox
# topic hs.inbox.shopify is the harness's BENCH_TOPIC and its check counts our records), then
# this script writes the table to docs/benchmarks.md. Our ingest also maps each orders/create to
# an order.placed (Avro, schema id from a registry) and waits for both acks: more work per
# request than the peers, which produce the raw body only.
#
#   bench/ingest.sh                      # limits, nginx-noop, nginx-lua, python-aiohttp, ingest
#   PEERS=limits bench/ingest.sh         # fewer peers
#   INGEST_SET='ingest.linger_ms=5' bench/ingest.sh --no-doc   # one setting, table on stdout only
#
# Env: HOOKSTREAM (binary, default build/hookstream: build it RelWithDebInfo first),
# BENCH_DIR (default ../shared/bench), PEERS, INGEST_SET (space-separated KEY=VALUE for --set),
# plus every run.sh setting (DURATION, CONNS, ...). The registry comes from a throwaway
# `hookstream dev up` stack that is stopped at the end; Kafka is the harness's broker. The peers
# need Debian nginx, libnginx-mod-http-lua, lua-nginx-kafka and python3-aiohttp (not in
# ops/deps.sh: CI does not run the bench).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
hookstream=${HOOKSTREAM:-$repo/build/hookstream}
bench_dir=${BENCH_DIR:-$repo/../shared/bench}
peers=${PEERS:-limits,nginx-noop,nginx-lua,python-aiohttp}
write_doc=1
[ "${1:-}" = --no-doc ] && write_doc=0

[ -x "$hookstream" ] || { echo "bench/ingest.sh: $hookstream not built" >&2; exit 2; }
[ -x "$bench_dir/run.sh" ] || { echo "bench/ingest.sh: no $bench_dir/run.sh" >&2; exit 2; }
tmp=$(mktemp -d)
cleanup() {
    "$hookstream" dev down --dir "$tmp/stack" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Only the registry of this stack is used; its other addresses must not reach ingest.
env -u HS_KAFKA_BROKERS -u HS_BROKER_CONTROL_URL -u HS_REGISTRY_URL -u HS_REDIS_URL \
    -u HS_POSTGRES_DSN "$hookstream" dev up --dir "$tmp/stack" >"$tmp/dev.log" 2>&1 ||
    { cat "$tmp/dev.log" >&2; exit 1; }
registry=$(sed -n "s/^export HS_REGISTRY_URL='\(.*\)'$/\1/p" "$tmp/stack/env")

sets=""
for kv in ${INGEST_SET:-}; do sets+=" --set $kv"; done
cmd="exec env -u HS_KAFKA_BROKERS -u HS_BROKER_CONTROL_URL -u HS_REDIS_URL $hookstream ingest"
cmd+=" --brokers \$BENCH_BROKERS --listen 127.0.0.1:\$BENCH_PORT"
cmd+=" --source shopify=shopify:\$BENCH_SECRET --registry $registry --set log.level=error"
# wrk restarts its webhook ids at every run (warm-up, then measured): a 1 s dedup window keeps
# the warm-up's ids from answering the measured run's requests as duplicates.
cmd+=" --set ingest.dedup_window_s=1$sets"

export BENCH_TOPIC=hs.inbox.shopify
"$bench_dir/run.sh" --peers "$peers" --target 'ingest=http://127.0.0.1:{PORT}/webhooks/shopify' \
    --target-cmd "ingest=$cmd" | tee "$tmp/run.out"
results=$(sed -n 's/^run .*logs in \(.*\)$/\1/p' "$tmp/run.out" | head -1)
[ -f "$results/table.txt" ] || { echo "bench/ingest.sh: no table in $results" >&2; exit 1; }
[ "$write_doc" = 1 ] || exit 0

{
    cat <<'HEAD'
# Benchmarks

`bench/ingest.sh` runs the shared harness (`../shared/bench/run.sh`, see its README) with
`hookstream ingest` as a target beside the peers. Every full row answers a signed Shopify
`orders/create` (~600 B) only after the broker acknowledged; each request has its own webhook id.
The peers verify and produce the raw body. ingest does more per request: it verifies, checks
the rate limit and the dedup window, parses the body and maps it; for a body that maps (a full
Shopify `orders/create`) it also encodes an `order.placed` event as Avro (Confluent wire format),
produces it to `hs.events.orders` beside the raw body on `hs.inbox.shopify`, and answers after
both acks. `hs.inbox.shopify` is the harness topic, so `in topic / 2xx` and `check` count our
inbox records. The harness's body does not map: see the notes below the table.

Table of the last run (regenerate with `bench/ingest.sh`; the binary was a RelWithDebInfo build):

```
HEAD
    sed -n '/^webhook->Kafka/,$p' "$results/table.txt"
    echo '```'
    cat <<'NOTES'

Notes on this table:

* The harness body has no `total_price` (it carries `current_total_price`), which the Shopify
  `orders/create` mapping requires, so ingest classifies it *unparseable*: it keeps the raw body
  on `hs.inbox.shopify` and answers 200 `{"unparseable": true}` without a typed event. Per
  request ingest therefore did the verify, rate-limit, dedup, JSON parse and mapping attempt and
  one produce, not the Avro encode and second produce of a mapped webhook.
* wrk restarts its webhook ids at each run (warm-up, then measured), so the bench sets
  `ingest.dedup_window_s=1`; with the default window the measured run's first ids would be
  answered as duplicates of the warm-up's (correctly) and the check would report them missing.
* Goals of issue 4 (3x nginx-lua, half of nginx-noop, p99 under 5 ms) are not met: ingest is
  about 1.2x nginx-lua, 15 % of nginx-noop, p99 14 ms. Server-side time per webhook (arrival at
  the handler to the answer, `hs_ingest_request_seconds`) averages about 2 ms at this load, of
  which about 2 ms is the broker ack (`hs_ingest_ack_seconds`), while wrk sees about 5 ms; the
  rest is outside the handler, in the HTTP layer's suspend/resume path. A profile shows the
  libmicrohttpd per-connection memory pool being zeroed on every request (64 KiB memset, about
  10 % of ingest's CPU). linger.ms measurements are in docs/ingest.md.
NOTES
} >"$repo/docs/benchmarks.md"
echo "wrote $repo/docs/benchmarks.md"
