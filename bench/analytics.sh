#!/usr/bin/env bash
# bench/analytics.sh: events/s aggregated end to end by `hookstream analytics`, from its start
# to the moment every offset is committed in Postgres. See docs/benchmarks.md.
#
#   bench/analytics.sh                       # N=300000 events, RUNS=3
#   N=200000 RUNS=5 bench/analytics.sh
#   PERF=1 bench/analytics.sh                # also perf's top frames of the last run
#
# Phases: a private `hookstream dev up` stack (its own analytics, if it runs one, and workflows
# are stopped, so only the bench's consumer aggregates); N events of a realistic mix (orders,
# payments, customers, inventory, support, products; 20 tenants; EUR/USD/GBP/JPY; event times
# of a stream of 200,000 events/s, in order, plus 0.1 % late ones of the 10 minutes before)
# preloaded with `hookstream produce` on a topic of 6 partitions;
# then RUNS times: a fresh database (migrated), `hookstream analytics` in a new group (it starts
# at the earliest offsets), and the committed offsets in consumer_offsets sampled every 0.1 s
# until they reach N. Rows (medians of the runs): events/s from the process start to the last
# commit (the goal's measure), the same from the partitions' assignment (the embedded broker
# holds the first join of a group 3 s) and between the first and the last commit, the CPU time
# of the analytics process (all its threads, user + system, when the last offset is committed)
# per 1,000,000 events, which other work on the machine disturbs far less than the rates, and
# the check that the windows hold exactly N events.
#
# Env: HOOKSTREAM (binary, default build/hookstream; built RelWithDebInfo when missing), N, RUNS,
# DRAIN_TIMEOUT (s, default 300), PERF (1: perf record -g the last run, print the top frames).
# Any HS_* setting of the caller (HS_ANALYTICS_FLUSH_MS, ...) reaches analytics.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${HOOKSTREAM:-$repo/build/hookstream}
N=${N:-300000}
RUNS=${RUNS:-3}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
PERF=${PERF:-0}

if [[ ! -x $H ]]; then
  echo "building $H" >&2
  build=$(dirname "$H")
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target hookstream >/dev/null
fi

tmp=$(mktemp -d)
an_pid=""
cleanup() {
  [[ -n $an_pid ]] && kill -9 "$an_pid" 2>/dev/null || true
  bench_stack_down
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_stack workflows
if [[ -f $tmp/stack/run/analytics.pid ]]; then
  kill -TERM "$(cat "$tmp/stack/run/analytics.pid")" 2>/dev/null || true
fi
base_dsn=$HS_POSTGRES_DSN

topic="bench.analytics.$RANDOM"
"$H" topics create "$topic" --partitions 6 >/dev/null
echo "generating and producing $N events to $topic" >&2
/usr/bin/python3 - "$N" "$tmp/events.jsonl" <<'EOF'
import datetime, json, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(7)
now = datetime.datetime.now(datetime.timezone.utc)
cur = ["EUR", "USD", "GBP", "JPY"]
T0 = 1700000000000
RATE = 200000
def cust():
    return "cust-%d" % rnd.randint(1, 50000)
def order(i):
    return {"order_id": "ord-%d" % i, "order_number": str(i),
            "customer": {"id": cust(), "email": "b%d@example.com" % i, "first_name": "Ada",
                         "last_name": None},
            "currency": rnd.choice(cur),
            "total_price": "%d.%02d" % (rnd.randint(5, 500), rnd.randint(0, 99)),
            "subtotal_price": "10.00", "total_tax": "0.00", "financial_status": "paid",
            "fulfillment_status": None,
            "line_items": [{"product_id": "prod-1", "variant_id": "var-1", "sku": "HAT-001",
                            "title": "Wool hat", "quantity": rnd.randint(1, 3), "price": "10.00"}],
            "created_at": T0, "updated_at": T0, "attributes": {}}
def stock(i, low):
    d = {"inventory_item_id": "item-%d" % rnd.randint(1, 2000), "sku": "SKU-%d" % rnd.randint(1, 2000),
         "location_id": "loc-%d" % rnd.randint(1, 3), "available": rnd.randint(0, 100),
         "updated_at": T0}
    if low:
        d.update(available=rnd.randint(0, 4), threshold=5)
    return d
kinds = [  # type, weight, source, data
    ("order.placed", 30, "/shopify/%s", order),
    ("order.paid", 12, "/shopify/%s", lambda i: {"order_id": "ord-%d" % i, "currency": rnd.choice(cur),
        "amount": "%d.00" % rnd.randint(5, 500), "gateway": "stripe", "paid_at": T0}),
    ("payment.succeeded", 13, "/stripe/%s", lambda i: {"payment_id": "pay-%d" % i,
        "amount": rnd.randint(500, 50000), "currency": rnd.choice(cur).lower(),
        "customer_id": cust(), "created_at": T0}),
    ("customer.created", 8, "/shopify/%s", lambda i: {"customer_id": "cust-n%d" % i,
        "email": "c%d@example.com" % i, "accepts_marketing": False, "tags": [], "created_at": T0}),
    ("inventory.updated", 15, "/shopify/%s", lambda i: stock(i, False)),
    ("inventory.low", 4, "/shopify/%s", lambda i: stock(i, True)),
    ("support.ticket.created", 10, "/zendesk/%s", lambda i: {"ticket_id": "tk-%d" % i,
        "subject": "Where is my order?", "status": "open", "tags": [], "created_at": T0,
        "requester": {"email": "r%d@example.com" % i, "name": None}}),
    ("support.sla.breached", 3, "/zendesk/%s", lambda i: {"ticket_id": "tk-%d" % i,
        "ticket_kind": "ticket", "policy": "gold", "metric": "first_reply_time",
        "target_minutes": 60, "breached_at": T0}),
    ("product.updated", 5, "/shopify/%s", lambda i: {"product_id": "prod-%d" % rnd.randint(1, 500),
        "title": "Wool hat", "status": "active", "tags": [], "variants": [], "updated_at": T0}),
]
weights = [k[1] for k in kinds]
with open(path, "w") as out:
    for i in range(n):
        typ, _, src, data = rnd.choices(kinds, weights)[0]
        tenant = "t%02d" % rnd.randint(0, 19)
        # a stream of RATE events/s that ended now, and 0.1 % late events of the 10 minutes before
        back = (n - i) * 1000 // RATE if rnd.random() >= 0.001 else rnd.randint(60000, 600000)
        t = now - datetime.timedelta(milliseconds=back)
        out.write(json.dumps({"type": typ, "tenant": tenant, "source": src % tenant,
                              "time": t.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                              "data": data(i)}, separators=(",", ":")) + "\n")
EOF
# The embedded broker keeps at most 5 MB per partition: zstd in big batches keeps about 54,000
# of these events per partition (lz4 in small batches about 30,000), so N up to about 300,000.
HS_KAFKA_COMPRESSION_TYPE=zstd HS_KAFKA_LINGER_MS=50 HS_KAFKA_BATCH_SIZE=4000000 \
  HS_KAFKA_BATCH_NUM_MESSAGES=100000 "$H" produce --brokers "$HS_KAFKA_BROKERS" --topic "$topic" \
  --from-file "$tmp/events.jsonl" >/dev/null 2>"$tmp/produce.log" ||
  { cat "$tmp/produce.log" >&2; exit 1; }
low=$(/usr/bin/python3 - "$HS_KAFKA_BROKERS" "$topic" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-watermarks"})
print(sum(c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=10)[0] for p in range(6)))
EOF
)
if ((low > 0)); then
  echo "the broker dropped $low of the $N events (5 MB per partition): use a smaller N" >&2
  exit 1
fi

# Prints "<ms since epoch> <sum of the committed offsets of group>".
committed() {
  echo "$(date +%s%3N) $(psql -qAt "$HS_POSTGRES_DSN" -c \
    "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE group_id = '$1'")"
}

rates=() fromassign=() steady=() checks=() cpus=()
for ((run = 1; run <= RUNS; run++)); do
  db="bench_analytics_$run"
  psql -q "$base_dsn" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  export HS_POSTGRES_DSN="${base_dsn%/*}/$db"
  "$H" migrate >/dev/null 2>&1
  group="bench-analytics-$run-$RANDOM"
  t_start=$(date +%s%3N)
  perf_args=()
  ((run == RUNS && PERF)) && perf_args=(perf record -g -o "$tmp/perf.data" --)
  # info: the assignment's log line times the second row
  HS_LOG_LEVEL=info "${perf_args[@]}" "$H" analytics --topics "$topic" --group "$group" \
    --listen 127.0.0.1:0 >"$tmp/analytics.out" 2>"$tmp/analytics.log" &
  an_pid=$!
  first="" first_n=0
  while :; do
    read -r now got < <(committed "$group")
    [[ -z $first && $got -gt 0 ]] && first=$now first_n=$got
    if ((got >= N)); then
      an=$an_pid
      ((run == RUNS && PERF)) && an=$(pgrep -P "$an_pid" -n)
      cpu=$(cpu_s "$an")
      break
    fi
    if (((now - t_start) / 1000 > DRAIN_TIMEOUT)); then
      echo "timeout: $got of $N committed after ${DRAIN_TIMEOUT}s" >&2
      break
    fi
    kill -0 "$an_pid" 2>/dev/null || { tail -5 "$tmp/analytics.log" >&2; exit 1; }
    sleep 0.1
  done
  kill -INT "$an_pid"
  wait "$an_pid" 2>/dev/null || true
  an_pid=""
  rate=$(awk -v n="$got" -v ms="$((now - t_start))" 'BEGIN {printf "%d", n * 1000 / ms}')
  ts=$(grep -o '"ts":"[^"]*","level":"info","service":"analytics","msg":"analytics rebalance","kind":"assign"' \
    "$tmp/analytics.log" | head -1 | cut -d'"' -f4)
  t_assign=$(date -d "$ts" +%s%3N)
  assigned=$(awk -v n="$got" -v ms="$((now - t_assign))" 'BEGIN {printf "%d", n * 1000 / ms}')
  rest=$(awk -v n="$((got - first_n))" -v ms="$((now - ${first:-now}))" \
    'BEGIN {printf "%d", (ms > 0) ? n * 1000 / ms : 0}')
  cpu_m=$(awk -v c="${cpu:-0}" -v n="$got" 'BEGIN {printf "%.2f", c * 1000000 / n}')
  counted=$(psql -qAt "$HS_POSTGRES_DSN" -c "SELECT sum(events) FROM analytics_minute")
  echo "run $run: $got events in $((now - t_start)) ms: $rate/s from the start," \
    "$assigned/s from the assignment, $rest/s after the first commit," \
    "${cpu_m} CPU s per 1M events; windows hold $counted" >&2
  rates+=("$rate") fromassign+=("$assigned") steady+=("$rest") checks+=("$counted")
  cpus+=("$cpu_m")
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n%-66s %14s\n' "row" "value"
printf '%-66s %14s\n' "events/s, start -> all offsets in Postgres (goal >= 200000)" \
  "$(median "${rates[@]}")"
printf '%-66s %14s\n' "  median of $RUNS runs of $N events, each" "${rates[*]}"
printf '%-66s %14s\n' "events/s from the partitions' assignment (without the group join)" \
  "$(median "${fromassign[@]}")"
printf '%-66s %14s\n' "events/s between the first and the last commit (median)" \
  "$(median "${steady[@]}")"
printf '%-66s %14s\n' "CPU seconds of analytics per 1,000,000 events (median)" \
  "$(median "${cpus[@]}")"
printf '%-66s %14s\n' "  each run" "${cpus[*]}"
printf '%-66s %14s\n' "events in the windows, each run (must be $N)" "${checks[*]}"
if ((PERF)); then
  echo
  perf report -i "$tmp/perf.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -25
fi
