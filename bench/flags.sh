#!/usr/bin/env bash
# bench/flags.sh: flag evaluations per second on one thread (hookstream-bench-flags), RUNS times,
# and the median of each scenario: a 10 % rollout by targetingKey (compiled path, and JsonLogic
# for comparison), a static flag, a starts_with rule, the rollout through the live store.
# The goal is >= 1,000,000 evaluations/s per core for the rollout. See docs/flags.md.
#
# Environment: RUNS (default 5), SECONDS_PER (seconds per scenario and run, default 1),
# BUILD (build directory, default build; configured RelWithDebInfo when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
SECONDS_PER=${SECONDS_PER:-1}
BUILD=${BUILD:-build}
bin=$BUILD/bench/hookstream-bench-flags

if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j2 --target hookstream-bench-flags >/dev/null
grep -q 'CMAKE_BUILD_TYPE:STRING=Debug' "$BUILD/CMakeCache.txt" &&
  echo "bench/flags.sh: note: $BUILD is a Debug build; numbers are lower than RelWithDebInfo" >&2

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for run in $(seq "$RUNS"); do
  echo "run $run of $RUNS" >&2
  "$bin" "$SECONDS_PER" >>"$out" 2>/dev/null
done
echo "| scenario | evaluations/s (median of $RUNS) | runs |"
echo "|---|---:|---|"
for name in $(awk '{print $1}' "$out" | awk '!seen[$0]++'); do
  values=$(awk -v n="$name" '$1 == n {print $2}' "$out" | sort -n)
  median=$(sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$values")
  printf '| %s | %s | %s |\n' "$name" "$median" "$(paste -sd' ' <<<"$values")"
done
