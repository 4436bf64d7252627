#!/usr/bin/env bash
# bench/workflows.sh: runs/s of `hookstream workflows` draining a backlog of N trigger events,
# for a 3-step workflow (http → http → log, both calls to a local sink: bench/sink.c,
# libmicrohttpd, 204) and for a 1-step workflow (log), and from the two the cost of one step.
# See bench/README.md.
#
#   bench/workflows.sh                        # N=5000 events, RUNS=3, WORKERS=8 (far fewer
#                                             # events finish between two samples: no rate)
#   N=20000 RUNS=5 WORKERS=16 bench/workflows.sh
#
# Phases: a private `hookstream dev up` stack whose own workflows service is stopped; one sink;
# N order.placed events preloaded on a topic of the bench's own; then RUNS times per workflow:
# a fresh database (migrated), `hookstream workflows` started in a new group on a directory with
# only that workflow, and the completed runs counted (one psql query every 0.25 s) until all N
# completed: runs/s = N / (last - first sample that saw a completed run), the median of the runs.
# Step cost = (1/r3 - 1/r1) / 2 × WORKERS: the time one worker spends on each extra step.
#
# Env: HOOKSTREAM (binary, default build/hookstream; built RelWithDebInfo when missing), SINK,
# N, RUNS, WORKERS, DRAIN_TIMEOUT (s, default 300). Any HS_* of the caller reaches workflows.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
H=${HOOKSTREAM:-$repo/build/hookstream}
SINK=${SINK:-$(dirname "$H")/bench/hookstream-sink}
N=${N:-5000}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-8}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}

if [[ ! -x $H || ! -x $SINK ]]; then
  echo "building $H and $SINK" >&2
  build=$(dirname "$H")
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target hookstream hookstream-sink >/dev/null
fi

tmp=$(mktemp -d)
wf_pid=""
sink_pid=""
cleanup() {
  [[ -n $wf_pid ]] && kill "$wf_pid" 2>/dev/null || true
  [[ -n $sink_pid ]] && kill "$sink_pid" 2>/dev/null || true
  bench_stack_down
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_stack workflows
export HS_FLAGS_TOPIC=""
base_dsn=$HS_POSTGRES_DSN

"$SINK" --port 0 >"$tmp/sink.out" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$tmp/sink.out" 2>/dev/null && break; sleep 0.05; done
export SINK_URL="http://127.0.0.1:$(awk '/^listening on/ {print $3}' "$tmp/sink.out")"

topic="bench.workflows.$RANDOM"
"$H" topics create "$topic" --partitions 6 >/dev/null
echo "producing $N order.placed events to $topic" >&2
for ((i = 0; i < N; i++)); do
  printf '{"order_id":"o%d","customer":{"email":"c%d@example.com","first_name":"C"},"currency":"EUR","total_price":"10.00","subtotal_price":"9.00","total_tax":"1.00","financial_status":"paid","line_items":[],"created_at":1700000000000,"updated_at":1700000000000}\n' "$i" "$i"
done >"$tmp/events.jsonl"
"$H" produce --type order.placed --topic "$topic" --from-file "$tmp/events.jsonl" >/dev/null 2>&1

mkdir -p "$tmp/wf3" "$tmp/wf1"
cat >"$tmp/wf3/three.yaml" <<'EOF'
name: three
trigger: {events: [order.placed]}
steps:
  - {id: contact, type: http, method: POST, url: "{{ env.SINK_URL }}/contact", body: {email: "{{ event.data.customer.email }}"}}
  - {id: task, type: http, method: POST, url: "{{ env.SINK_URL }}/task", body: {order: "{{ event.data.order_id }}"}}
  - {id: note, type: log, message: "done {{ event.subject }}"}
EOF
cat >"$tmp/wf1/one.yaml" <<'EOF'
name: one
trigger: {events: [order.placed]}
steps:
  - {id: note, type: log, message: "done {{ event.subject }}"}
EOF

# one_run DIR: prints runs/s for one drain of the backlog.
one_run() {
  local dir=$1 db="bench_wf_$RANDOM$RANDOM" port first="" last c t
  psql -q "$base_dsn" -c "create database $db"
  export HS_POSTGRES_DSN="${base_dsn%/*}/$db"
  "$H" migrate >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  HS_WORKFLOWS_DIR=$dir HS_WORKFLOWS_TOPICS=$topic HS_WORKFLOWS_GROUP="bench-wf-$RANDOM$RANDOM" \
    HS_WORKFLOWS_WORKERS=$WORKERS HS_WORKFLOWS_POLL_MS=20 HS_WORKFLOWS_ALLOW_PRIVATE=127.0.0.1 \
    HS_WORKFLOWS_LISTEN="127.0.0.1:$port" "$H" workflows >>"$tmp/workflows.log" 2>&1 &
  wf_pid=$!
  local until=$((SECONDS + DRAIN_TIMEOUT))
  while :; do
    c=$(psql -qAt "$HS_POSTGRES_DSN" -c "select count(*) from workflow_runs where status = 'completed'" 2>/dev/null || echo 0)
    t=$(date +%s%N)
    [[ -z $first && $c -gt 0 ]] && first=$t first_count=$c
    [[ $c -ge $N ]] && { last=$t; break; }
    ((SECONDS > until)) && { echo "timed out at $c of $N runs" >&2; tail -5 "$tmp/workflows.log" >&2; exit 1; }
    sleep 0.25
  done
  kill -TERM "$wf_pid"; wait "$wf_pid" 2>/dev/null || true; wf_pid=""
  export HS_POSTGRES_DSN=$base_dsn
  psql -q "$base_dsn" -c "drop database $db with (force)"
  awk -v n="$N" -v c0="$first_count" -v a="$first" -v b="$last" \
    'BEGIN { d = (b - a) / 1e9; printf "%.0f\n", (d > 0 ? (n - c0) / d : 0) }'
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A rate
for wf in wf3 wf1; do
  results=()
  for ((r = 1; r <= RUNS; r++)); do
    results+=("$(one_run "$tmp/$wf")")
    echo "  $wf run $r: ${results[-1]} runs/s" >&2
  done
  rate[$wf]=$(printf '%s\n' "${results[@]}" | median)
  echo "$wf: runs ${results[*]} → median ${rate[$wf]} runs/s" >&2
done

step_ms=$(awk -v r3="${rate[wf3]}" -v r1="${rate[wf1]}" -v w="$WORKERS" \
  'BEGIN { printf "%.2f", (1 / r3 - 1 / r1) / 2 * w * 1000 }')
sink_count=$(curl -s "$SINK_URL/")
echo
echo "| workflow | runs/s (median of $RUNS, N=$N, $WORKERS workers) |"
echo "|---|---:|"
echo "| 3 steps: http → http → log | ${rate[wf3]} |"
echo "| 1 step: log | ${rate[wf1]} |"
echo
echo "one http step costs a worker ${step_ms} ms (sink requests: $sink_count)"
