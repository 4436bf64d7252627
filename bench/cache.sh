#!/usr/bin/env bash
# bench/cache.sh: Zipf-distributed GET /products/{id} through `hookstream cache-proxy` to a local
# upstream stub while product.updated events invalidate products through `hookstream
# invalidator`; reports the hit rate, p50/p99 per tier (X-Cache), the produce → published
# latency of the invalidations, and the stale count: reads that started after the invalidation
# of version v was published and returned a version < v (must be 0). See bench/README.md.
#
#   bench/cache.sh                               # 10,000 products, 16 connections, 3000 GET/s
#   RATE=0 SECS=20 CONNS=32 bench/cache.sh        # closed loop: as fast as it goes
#
# Phases (one proxy each, restarted between them, each with a tenant of its own so it starts
# cold): "L1+L2" with the default proxy configuration, "L2 only" with cache.l1_max_bytes=0 (every
# hit comes from Redis). One private `hookstream dev up` stack (broker, registry, Redis; its own
# services stopped), one invalidator of the bench's own, and hookstream-bench-cache
# (bench/cachebench.c): the upstream stub (every answer carries the product's current version),
# K keep-alive client connections (libcurl multi), the producer that bumps a Zipf-drawn product
# and then produces its product.updated, and a subscriber of the invalidation channel.
#
# Env: HOOKSTREAM (binary, default build/hookstream; built RelWithDebInfo when missing), BENCH
# (default next to it: bench/hookstream-bench-cache), PRODUCTS (10000), ZIPF (1.1), CONNS (16),
# RATE (GET/s, 0 = closed loop; 3000), SECS (measured seconds per phase, 10), WARMUP (10),
# INV_RATE (events/s, 20), STUB_DELAY_US (upstream latency, 2000), BODY_BYTES (600), PHASES
# ("l1 l2"). Any HS_* setting of the caller reaches the proxy and the invalidator.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${HOOKSTREAM:-$repo/build/hookstream}
BENCH=${BENCH:-$(dirname "$H")/bench/hookstream-bench-cache}
PRODUCTS=${PRODUCTS:-10000}
ZIPF=${ZIPF:-1.1}
CONNS=${CONNS:-16}
RATE=${RATE:-3000}
SECS=${SECS:-10}
WARMUP=${WARMUP:-10}
INV_RATE=${INV_RATE:-20}
STUB_DELAY_US=${STUB_DELAY_US:-2000}
BODY_BYTES=${BODY_BYTES:-600}
PHASES=${PHASES:-l1 l2}

if [[ ! -x $H || ! -x $BENCH ]]; then
  echo "building $H and $BENCH" >&2
  build=$(dirname "$H")
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target hookstream hookstream-bench-cache >/dev/null
fi

tmp=$(mktemp -d)
service_pids=()
cleanup() {
  local pid
  for pid in "${service_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  bench_stack_down
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_stack deliver
# Only the bench's own services run: a stack invalidator would apply every invalidation twice,
# and the others would share the two cores.
for part in ingest workflows invalidator cache-proxy analytics; do
  pidfile="$tmp/stack/run/$part.pid"
  [[ -s $pidfile ]] || continue
  kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
done

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready() { # ready URL: waits up to 30 s for URL/readyz
  for _ in $(seq 300); do curl -fs "$1/readyz" -o /dev/null && return 0; sleep 0.1; done
  echo "$1/readyz did not answer 200" >&2
  return 1
}

cat >"$tmp/cache.yaml" <<'EOF'
cache_routes:
  - path: /products/{id}
    tags: ["product:{id}"]
    ttl: 10m
    l1_ttl: 1m
EOF
export HS_CONFIG="$tmp/cache.yaml"

inv_port=$(free_port)
HS_INVALIDATOR_TOPICS=hs.events.products HS_INVALIDATOR_GROUP="bench-cache-$$" \
  "$H" invalidator --listen "127.0.0.1:$inv_port" >/dev/null 2>"$tmp/invalidator.log" &
service_pids+=($!)
ready "http://127.0.0.1:$inv_port"
# events produced before the invalidator owns its partitions would wait for the group's join
assigned() {
  curl -s "http://127.0.0.1:$inv_port/metrics" |
    grep -q '^hs_consumer_rebalances_total{[^}]*kind="assign"[^}]*} [1-9]'
}
for _ in $(seq 300); do assigned && break; sleep 0.1; done
assigned || { echo "the invalidator got no partitions: $(tail -3 "$tmp/invalidator.log")" >&2; exit 1; }

stub_port=$(free_port)
run_phase() { # run_phase NAME PROXY-SETTINGS...: one JSON line of hookstream-bench-cache
  local name=$1 proxy_port admin_port pid
  shift
  proxy_port=$(free_port)
  admin_port=$(free_port)
  "$H" cache-proxy --set "cache.listen=127.0.0.1:$proxy_port" \
    --set "cache.admin_listen=127.0.0.1:$admin_port" \
    --set "cache.upstream=http://127.0.0.1:$stub_port" "$@" >/dev/null 2>"$tmp/proxy-$name.log" &
  pid=$!
  service_pids+=($pid)
  ready "http://127.0.0.1:$admin_port"
  echo "phase $name: ${SECS}s after ${WARMUP}s of warm-up" >&2
  "$BENCH" --proxy "http://127.0.0.1:$proxy_port" --admin "http://127.0.0.1:$admin_port" \
    --stub-port "$stub_port" --products "$PRODUCTS" --zipf "$ZIPF" --conns "$CONNS" \
    --rate "$RATE" --secs "$SECS" --warmup "$WARMUP" --inv-rate "$INV_RATE" \
    --stub-delay-us "$STUB_DELAY_US" --body-bytes "$BODY_BYTES" --tenant "bench-$name-$$" |
    tee "$tmp/result-$name.json" >&2
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}

for phase in $PHASES; do
  case $phase in
    l1) run_phase l1 ;;
    l2) run_phase l2 --set cache.l1_max_bytes=0 ;;
    *) echo "unknown phase $phase (l1, l2)" >&2; exit 2 ;;
  esac
done

rate_txt=$([[ $RATE == 0 ]] && echo "closed loop" || echo "$RATE GET/s")
echo "cache-proxy, $(date -u +%FT%TZ), $(nproc) cores, $PRODUCTS products, Zipf s=$ZIPF, $CONNS connections, $rate_txt, ${SECS}s per phase, $INV_RATE invalidations/s, upstream ${STUB_DELAY_US}us"
printf '| phase | GET/s | hit rate | HIT-L1 p50 / p99 ms | HIT-L2 p50 / p99 ms | MISS p50 / p99 ms | upstream calls | errors | invalidations produced / published | produce → published p50 / p99 ms | stale (> 1 ms after the publish) |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for phase in $PHASES; do
  jq -r --arg p "$([[ $phase == l1 ]] && echo 'L1+L2' || echo 'L2 only')" '
    def lat(x): if x.n > 0 then "\(x.p50_ms) / \(x.p99_ms) (\(x.n))" else "-" end;
    "| \($p) | \(.rps) | \((.hit_rate * 1000 | floor) / 10)% | \(lat(.hit_l1)) | \(lat(.hit_l2)) | \(lat(.miss)) | \(.upstream_requests) | \(.errors) | \(.invalidations.produced) / \(.invalidations.published) | \(.invalidations.p50_ms) / \(.invalidations.p99_ms) | \(.stale) (\(.stale_after_1ms)) |"' \
    "$tmp/result-$phase.json"
done
