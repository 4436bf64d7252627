#!/usr/bin/env bash
# bench/deliver.sh: signed webhook deliveries/s of `hookstream deliver` draining a backlog into K
# local sinks (bench/sink.c: libmicrohttpd, 204), and the ingest→delivery latency p50/p99 under a
# paced producer. See bench/README.md.
#
#   bench/deliver.sh                         # N=100000 events, K=4 endpoints, 5000 events/s x 10 s
#   N=200000 K=8 RATE=5000 PACED_SECS=20 RUNS=3 bench/deliver.sh
#
# Phases: a private `hookstream dev up` stack (broker, Postgres, registry); K sinks; `hookstream
# deliver` started once to create K endpoints (all subscribed to order.placed) through `hookstream
# endpoints add`, then stopped; N order.placed events preloaded with `hookstream produce`;
# RUNS times: deliver restarted in a new group (it reads from the earliest offset) and the sinks'
# counts sampled until N x K more deliveries arrived: deliveries/s, the median of the runs. Then the sinks restart on the same ports with
# --latency-file and a paced producer (python3-confluent-kafka) re-sends preloaded event values
# at RATE events/s with a fresh ce_id and ce_time = now; each sink writes now - the delivered
# event's time (the body's "timestamp", or the header LATENCY_HEADER) per request.
#
# Env: HOOKSTREAM (binary, default build/hookstream; built RelWithDebInfo when missing), SINK and
# CURLBENCH (default next to it: bench/hookstream-sink, bench/hookstream-bench-curl), N, K, RUNS
# (default 3), RATE, PACED_SECS, MAX_IN_FLIGHT (per endpoint, default 16 like
# deliver.max_in_flight), SINK_THREADS (default 1), DRAIN_TIMEOUT (s, default 300),
# LATENCY_HEADER (default: none, use the body's "timestamp"). Any HS_* setting of the caller
# (HS_CONSUMER_WINDOW, HS_KAFKA_FETCH_WAIT_MAX_MS, ...) reaches deliver.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${HOOKSTREAM:-$repo/build/hookstream}
SINK=${SINK:-$(dirname "$H")/bench/hookstream-sink}
CURLBENCH=${CURLBENCH:-$(dirname "$H")/bench/hookstream-bench-curl}
N=${N:-100000}
K=${K:-4}
RUNS=${RUNS:-3}
RATE=${RATE:-5000}
PACED_SECS=${PACED_SECS:-10}
# Concurrent deliveries per endpoint. More is not faster here: with 64 per endpoint a drain ran
# at 12,000-14,000/s, with 16 at 16,000-22,000/s (every transfer then looks its connection up
# among more, and the sinks serve more sockets).
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-16}
SINK_THREADS=${SINK_THREADS:-1}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
LATENCY_HEADER=${LATENCY_HEADER:-}

if [[ ! -x $H || ! -x $SINK || ! -x $CURLBENCH ]]; then
  echo "building $H, $SINK and $CURLBENCH" >&2
  build=$(dirname "$H")
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target hookstream hookstream-sink hookstream-bench-curl >/dev/null
fi

tmp=$(mktemp -d)
deliver_pid=""
sink_pids=()
cleanup() {
  local pid
  for pid in "${sink_pids[@]}" $deliver_pid; do kill "$pid" 2>/dev/null || true; done
  bench_stack_down
}
trap cleanup EXIT

# The stack's own deliver shares the database, so it would deliver every event to the sinks too
# (and share the CPU): only the bench's deliver runs.
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_stack deliver

token=bench-$RANDOM$RANDOM
dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export HS_DELIVER_MASTER_KEY HS_DELIVER_ADMIN_TOKENS=bench:$token HS_DELIVER_ALLOW_PRIVATE=127.0.0.1
export HS_DELIVER_GROUP=bench-deliver-$RANDOM HS_DELIVER_URL=http://127.0.0.1:$dport
export HS_DELIVER_TOKEN=$token
HS_DELIVER_MASTER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# Starts deliver in the background and waits for /readyz.
start_deliver() {
  "$H" deliver --brokers "$HS_KAFKA_BROKERS" --dsn "$HS_POSTGRES_DSN" \
    --listen "127.0.0.1:$dport" >>"$tmp/deliver.log" 2>&1 &
  deliver_pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$dport/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$deliver_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "deliver did not become ready" >&2
  tail -20 "$tmp/deliver.log" >&2
  exit 1
}

stop_deliver() {
  kill -TERM "$deliver_pid" 2>/dev/null || true
  wait "$deliver_pid" 2>/dev/null || true
  deliver_pid=""
}

# Starts sink $1 on port $2 (0: any) with extra args; its port goes to $tmp/sink$1.port.
start_sink() {
  local i=$1 port=$2
  shift 2
  "$SINK" --port "$port" --threads "$SINK_THREADS" "$@" >"$tmp/sink$i.out" 2>&1 &
  sink_pids[i]=$!
  for _ in $(seq 100); do
    grep -q '^listening on' "$tmp/sink$i.out" 2>/dev/null && break
    sleep 0.05
  done
  grep -q '^listening on' "$tmp/sink$i.out" || { cat "$tmp/sink$i.out" >&2; exit 1; }
  awk '/^listening on/ {print $3}' "$tmp/sink$i.out" >"$tmp/sink$i.port"
}

stop_sinks() {
  local i
  for i in "${!sink_pids[@]}"; do
    kill -TERM "${sink_pids[i]}" 2>/dev/null || true
    wait "${sink_pids[i]}" 2>/dev/null || true
  done
  sink_pids=()
}

# Prints the sum of the sinks' request counts: one curl for all sinks, so sampling costs the
# machine little while deliver runs.
sink_total() {
  local i urls=()
  for ((i = 0; i < K; i++)); do urls+=("http://127.0.0.1:$(<"$tmp/sink$i.port")/"); done
  curl -s -w '\n' "${urls[@]}" 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# 1 when process $1 runs (a child that exited stays a zombie until the script waits for it).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
  [[ -n $state && $state != Z ]]
}

# Samples the sinks until they hold $1 requests; prints "first_ns last_ns count_at_first count".
wait_for() {
  local want=$1 t0 first="" first_count=0 now c
  t0=$(date +%s%N)
  while :; do
    c=$(sink_total)
    now=$(date +%s%N)
    if [[ -z $first && $c -gt ${2:-0} ]]; then first=$now first_count=$c; fi
    [[ $c -ge $want ]] && break
    if [[ -n $deliver_pid ]] && ! alive "$deliver_pid"; then
      echo "deliver exited: $c of $want deliveries" >&2
      tail -5 "$tmp/deliver.log" >&2
      exit 1
    fi
    if (((now - t0) / 1000000000 > DRAIN_TIMEOUT)); then
      echo "timeout: $c of $want deliveries after ${DRAIN_TIMEOUT}s" >&2
      break
    fi
    sleep 0.25
  done
  echo "${first:-$now} $now $first_count $c"
}

for ((i = 0; i < K; i++)); do start_sink "$i" 0; done

echo "creating $K endpoints" >&2
start_deliver
for ((i = 0; i < K; i++)); do
  "$H" endpoints add --url "http://127.0.0.1:$(cat "$tmp/sink$i.port")/hook" \
    --events order.placed --max-in-flight "$MAX_IN_FLIGHT" \
    --description "bench sink $i" >>"$tmp/endpoints.log" 2>&1 ||
    { cat "$tmp/endpoints.log" >&2; exit 1; }
done
stop_deliver

echo "preloading $N order.placed events" >&2
python3 - "$N" "$tmp/events.jsonl" <<'EOF'
import json, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(7)
names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken"]
with open(path, "w") as out:
    for i in range(n):
        qty, price = rnd.randint(1, 5), rnd.randint(5, 120)
        first = rnd.choice(names)
        ts = 1700000000000 + i * 1000
        event = {"order_id": "ord-%08d" % i, "order_number": str(100000 + i),
                 "customer": {"id": "cust-%d" % rnd.randint(1, 50000),
                              "email": "%s.%d@example.com" % (first.lower(), i),
                              "first_name": first, "last_name": "Lovelace"},
                 "currency": "EUR", "total_price": "%d.00" % (qty * price),
                 "subtotal_price": "%d.00" % (qty * price), "total_tax": "0.00",
                 "financial_status": "paid", "fulfillment_status": None,
                 "line_items": [{"product_id": "prod-1", "variant_id": "var-1", "sku": "HAT-001",
                                 "title": "Wool hat", "quantity": qty,
                                 "price": "%d.00" % price}],
                 "created_at": ts, "updated_at": ts, "attributes": {}}
        out.write(json.dumps(event, separators=(",", ":")) + "\n")
EOF
"$H" produce --brokers "$HS_KAFKA_BROKERS" --type order.placed --from-file "$tmp/events.jsonl" \
  >/dev/null 2>"$tmp/produce.log" || { cat "$tmp/produce.log" >&2; exit 1; }

rates=()
cpus=()
base=0
group=$HS_DELIVER_GROUP
for ((run = 1; run <= RUNS; run++)); do
  echo "run $run: draining $N events x $K endpoints" >&2
  export HS_DELIVER_GROUP=$group-$run
  t_start=$(date +%s%N)
  start_deliver
  read -r first last first_count got < <(wait_for $((base + N * K)) "$base")
  rate=$(awk -v n="$((got - first_count))" -v ns="$((last - first))" \
    'BEGIN {printf "%d", (ns > 0) ? n * 1e9 / ns : 0}')
  wall_s=$(awk -v ns="$((last - t_start))" 'BEGIN {printf "%.1f", ns / 1e9}')
  echo "run $run: $((got - base)) deliveries, $rate/s between the first and the last," \
    "${wall_s}s from start" >&2
  rates+=("$rate")
  # deliver's user+system CPU over the run (its start included), per delivery
  cpus+=("$(awk -v s="$(cpu_s "$deliver_pid")" -v n="$((got - base))" \
    'BEGIN {printf "%.1f", s * 1e6 / n}')")
  base=$got
  ((run < RUNS)) && stop_deliver
done
drain_rate=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

# The machine's limit for the HTTP side: a bare libcurl client (bench/curlbench.c) against the
# same sinks with the same concurrency and request size, deliver idle.
urls=()
for ((i = 0; i < K; i++)); do urls+=("http://127.0.0.1:$(<"$tmp/sink$i.port")/hook"); done
# a delivery body: the event's JSON in {"type": ..., "timestamp": ..., "data": ...}
body_bytes=$(awk '{n += length($0)} END {printf "%d", n / NR + 80}' "$tmp/events.jsonl")
limit=$("$CURLBENCH" -n $((N * K / 2)) -c $((K * MAX_IN_FLIGHT)) -b "$body_bytes" "${urls[@]}")
echo "limit: $limit" >&2

echo "paced: $RATE events/s for ${PACED_SECS}s" >&2
ports=()
for ((i = 0; i < K; i++)); do ports[i]=$(cat "$tmp/sink$i.port"); done
stop_sinks
lat_args=()
[[ -n $LATENCY_HEADER ]] && lat_args=(--latency-header "$LATENCY_HEADER")
for ((i = 0; i < K; i++)); do
  start_sink "$i" "${ports[i]}" --latency-file "$tmp/lat$i.txt" "${lat_args[@]}"
done
/usr/bin/python3 - "$HS_KAFKA_BROKERS" "$RATE" "$PACED_SECS" <<'EOF' 2>"$tmp/paced.log"
# Re-sends preloaded values with a fresh ce_id, ce_time = now and varied keys, paced in 1 ms
# steps so the load is even rather than bursty.
import datetime, sys, time, uuid
from confluent_kafka import Consumer, Producer, TopicPartition
brokers, rate, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
topic = "hs.events.orders"
c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-template",
              "enable.auto.commit": False})
parts = c.list_topics(topic, timeout=10).topics[topic].partitions
c.assign([TopicPartition(topic, p, 0) for p in parts])
templates = []
deadline = time.time() + 20
while len(templates) < 1000 and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and not m.error():
        templates.append((m.value(), [h for h in (m.headers() or [])
                                      if h[0] not in ("ce_id", "ce_time")]))
c.close()
if not templates:
    sys.exit("no template events in " + topic)
p = Producer({"bootstrap.servers": brokers, "linger.ms": 1, "acks": "all",
              "enable.idempotence": True})
# Warm up (connection, metadata, producer id) on a topic deliver does not read: otherwise the
# first second of events waits in the producer and shows up as delivery latency.
p.produce("bench.warmup", b"warmup")
p.flush(30)
p.list_topics(topic, timeout=10)
total, start, sent = int(rate * secs), time.time(), 0
while sent < total:
    due = min(total, int((time.time() - start) * rate))
    while sent < due:
        value, headers = templates[sent % len(templates)]
        now = datetime.datetime.now(datetime.timezone.utc)
        ce_time = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        hdrs = headers + [("ce_id", str(uuid.uuid4())), ("ce_time", ce_time)]
        p.produce(topic, value, key=b"paced-%d" % sent, headers=hdrs)
        sent += 1
    p.poll(0)
    time.sleep(0.001)
p.flush(30)
print("sent %d in %.2f s" % (sent, time.time() - start), file=sys.stderr)
EOF
paced_total=$(awk -v r="$RATE" -v s="$PACED_SECS" 'BEGIN {printf "%d", r * s}')
read -r _ _ _ paced_got < <(wait_for $((paced_total * K)))
# Attempts by outcome over the whole bench: anything but "succeeded" is a detour (retry tier).
outcomes=$(curl -s "http://127.0.0.1:$dport/metrics" |
  awk -F'[{}"]' '/^hs_deliver_attempts_total\{/ {printf "%s=%d ", $3, $NF}')
stop_sinks
stop_deliver

cat "$tmp"/lat*.txt | sort -n >"$tmp/lat.sorted"
pct() { awk -v p="$1" '{a[NR]=$1} END {if (NR) {i=int(NR*p/100+0.999); if (i<1) i=1; printf "%.2f", a[i]/1000} else print "-"}' "$tmp/lat.sorted"; }
samples=$(wc -l <"$tmp/lat.sorted")

printf '\n%-62s %14s\n' "row" "value"
printf '%-62s %14s\n' "deliveries/s, backlog of $N events x $K endpoints (goal >= 20000)" \
  "$drain_rate"
printf '%-62s %14s\n' "  median of $RUNS runs, each" "${rates[*]}"
printf '%-62s %14s\n' "deliver's CPU per delivery (µs), each run" "${cpus[*]}"
printf '%-62s %14s\n' "limit: bare libcurl client, same sinks (requests/s)" \
  "$(awk '{print $8}' <<<"$limit")"
printf '%-62s %14s\n' "limit: its CPU per request (µs)" "$(awk '{print $10}' <<<"$limit")"
printf '%-62s %14s\n' "drain: deliveries received / expected" "$got / $((RUNS * N * K))"
printf '%-62s %14s\n' "attempts by outcome, last deliver (drain + paced)" "${outcomes:--}"
printf '%-62s %14s\n' "paced $RATE events/s x $K endpoints: deliveries received" \
  "$paced_got / $((paced_total * K))"
printf '%-62s %14s\n' "ingest->delivery latency p50 (ms, $samples samples)" "$(pct 50)"
printf '%-62s %14s\n' "ingest->delivery latency p99 (ms, goal < 25)" "$(pct 99)"
printf '%-62s %14s\n' "ingest->delivery latency max (ms)" "$(pct 100)"
