#!/usr/bin/env bash
# bench/produce.sh: events/s that `hookstream produce --from-file` validates, Avro-encodes and
# produces (acks=all, idempotent) to a `hookstream broker`, next to the raw librdkafka producer
# limit measured in the same run on the same broker (../shared/bench/limits/produce). See
# bench/README.md.
#
# Environment: N (events per run, default 200000), RUNS (default 3), LIMIT_SECS (default 3),
# HOOKSTREAM (binary; default build/hookstream, built when missing), BEFORE (optional: another
# hookstream binary, e.g. one built from an older commit, measured the same way in the same run
# for a before/after row), HS_REGISTRY_URL or HS_POSTGRES_DSN (schema registry; without either a
# private `hookstream dev up` provides one).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
N=${N:-200000}
RUNS=${RUNS:-3}
LIMIT_SECS=${LIMIT_SECS:-3}
limit_src=../shared/bench/limits/produce/produce_bench.c
H=${HOOKSTREAM:-$repo/build/hookstream}

if [[ ! -x $H ]]; then
  echo "building $H" >&2
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 --target hookstream >/dev/null
fi
[[ -f $limit_src ]] || { echo "bench/produce.sh: $limit_src not found" >&2; exit 1; }

tmp=$(mktemp -d)
broker_pid=""
dev_dir=""
cleanup() {
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  [[ -n $dev_dir ]] && "$H" dev down --dir "$dev_dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# A schema registry: the caller's, else a private dev stack's.
if [[ -z ${HS_REGISTRY_URL:-} && -z ${HS_POSTGRES_DSN:-} ]]; then
  dev_dir=$tmp/dev
  echo "no HS_REGISTRY_URL / HS_POSTGRES_DSN: starting a private dev stack in $dev_dir" >&2
  "$H" dev up --set dev.dir="$dev_dir" >"$tmp/dev.log" 2>&1 || { cat "$tmp/dev.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$dev_dir/env"
fi
export HS_LOG_LEVEL=error

# A fresh broker of our own, so earlier data and other clients do not share it.
"$H" broker --bootstrap-file "$tmp/bootstrap" --topic bench.raw:6 >"$tmp/broker.out" \
  2>"$tmp/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [[ -s $tmp/bootstrap ]] && break; sleep 0.1; done
[[ -s $tmp/bootstrap ]] || { echo "broker did not start" >&2; cat "$tmp/broker.log" >&2; exit 1; }
export HS_KAFKA_BROKERS
HS_KAFKA_BROKERS=$(cat "$tmp/bootstrap")

echo "generating $N order.placed events" >&2
python3 - "$N" "$tmp/events.jsonl" "$tmp/body" <<'EOF'
import json, random, sys
n, path, body_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(42)
names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken"]
products = [("Wool hat", "HAT"), ("Linen shirt", "SHIRT"), ("Canvas tote", "TOTE"),
            ("Leather belt", "BELT"), ("Cotton socks", "SOCKS")]
sizes = []
with open(path, "w") as out:
    for i in range(n):
        items = []
        for _ in range(rnd.randint(1, 3)):
            title, sku = rnd.choice(products)
            items.append({"product_id": "prod-%d" % rnd.randint(1000, 9999),
                          "variant_id": "var-%d" % rnd.randint(10000, 99999),
                          "sku": "%s-%03d" % (sku, rnd.randint(1, 999)), "title": title,
                          "quantity": rnd.randint(1, 5),
                          "price": "%d.%02d" % (rnd.randint(5, 120), rnd.randint(0, 99))})
        sub = sum(float(x["price"]) * x["quantity"] for x in items)
        tax = round(sub * 0.2, 2)
        first = rnd.choice(names)
        ts = 1700000000000 + i * 1000
        event = {"order_id": "ord-%08d" % i, "order_number": str(100000 + i),
                 "customer": {"id": "cust-%d" % rnd.randint(1, 50000),
                              "email": "%s.%d@example.com" % (first.lower(), rnd.randint(1, 99999)),
                              "first_name": first, "last_name": "Lovelace"},
                 "currency": rnd.choice(["EUR", "USD", "GBP"]),
                 "total_price": "%.2f" % (sub + tax), "subtotal_price": "%.2f" % sub,
                 "total_tax": "%.2f" % tax, "financial_status": rnd.choice(["paid", "pending"]),
                 "fulfillment_status": None, "line_items": items, "created_at": ts,
                 "updated_at": ts + rnd.randint(0, 5000),
                 "attributes": {"shopify.tags": rnd.choice(["vip", "wholesale", "new"])}}
        line = json.dumps(event, separators=(",", ":"))
        sizes.append(len(line))
        out.write(line + "\n")
with open(body_path, "wb") as b:
    b.write((line * 2)[:600].encode())
print("average event: %d bytes of JSON" % (sum(sizes) // len(sizes)), file=sys.stderr)
EOF

echo "building the raw producer limit from $limit_src" >&2
gcc -O2 -o "$tmp/produce_bench" "$limit_src" -lrdkafka

# Prints the median events/s of RUNS runs of binary $1 (each run on stderr, labelled $2).
median_of() {
  local rates=() run t0 t1 rate
  for run in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    "$1" produce --type order.placed --from-file "$tmp/events.jsonl" 2>"$tmp/produce.err" ||
      { cat "$tmp/produce.err" >&2; exit 1; }
    t1=$(date +%s%N)
    rate=$(( N * 1000000000 / (t1 - t0) ))
    rates+=("$rate")
    printf '%s run %d: %d events in %d ms = %d events/s  (%s)\n' "$2" "$run" "$N" \
      $(( (t1 - t0) / 1000000 )) "$rate" "$(tail -1 "$tmp/produce.err")" >&2
  done
  printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

before=""
[[ -n ${BEFORE:-} ]] && before=$(median_of "$BEFORE" before)
median=$(median_of "$H" after)

limit_line=$("$tmp/produce_bench" "$HS_KAFKA_BROKERS" bench.raw "$tmp/body" "$LIMIT_SECS" 0)
limit=$(sed -E 's/.* rate=([0-9]+).*/\1/' <<<"$limit_line")
echo "limit: $limit_line" >&2

printf '\n%-58s %12s %10s\n' "row" "events/s" "vs limit"
printf '%-58s %12d %10s\n' "limit: raw librdkafka produce, open loop, 600 B, acks=all" \
  "$limit" "1.00"
ratio() { awk -v a="$1" -v b="$limit" 'BEGIN {print b ? a / b : 0}'; }
if [[ -n $before ]]; then
  printf '%-58s %12d %10.2f\n' "before: \$BEFORE produce --from-file (median of $RUNS)" \
    "$before" "$(ratio "$before")"
fi
printf '%-58s %12d %10.2f\n' "hookstream produce --from-file (median of $RUNS x $N)" \
  "$median" "$(ratio "$median")"
if [[ -n $before ]]; then
  printf '%-58s %12s %10.2f\n' "after / before" "" \
    "$(awk -v a="$median" -v b="$before" 'BEGIN {print b ? a / b : 0}')"
fi
