#!/usr/bin/env bash
# README command 2, and what CI runs (.ci/run): installs what is missing, builds hookstream
# plain (build/) and with ASan+UBSan (build-asan/), runs the unit tests of both builds, starts
# two private dev stacks on free loopback ports in a temporary directory and runs the
# integration and e2e tests of both builds at the same time, each build against its own stack
# (their output interleaves, each line prefixed with [plain] or [asan]), then short fuzz runs
# when clang can build them; stops the stacks and ends with one line "N passed, N failed".
# Exits non-zero on any failure.
#
# Environment: HS_BUILD_DIR, HS_ASAN_BUILD_DIR, HS_FUZZ_BUILD_DIR (default build, build-asan,
# build-fuzz), HS_FUZZ_SECONDS (per fuzz target, default 10; 0 skips fuzzing),
# HS_TEST_SERIAL=1 (run the two builds' integration and e2e tests one after the other),
# HS_TEST_SKIP_DEPS=1 (do not run ops/deps.sh).
set -uo pipefail
cd "$(dirname "$0")/.."

build=${HS_BUILD_DIR:-build}
asan=${HS_ASAN_BUILD_DIR:-build-asan}
fuzz=${HS_FUZZ_BUILD_DIR:-build-fuzz}
fuzz_seconds=${HS_FUZZ_SECONDS:-10}
passed=0
failed=0
start=$SECONDS

step() { printf '\n==> %s  (%ds)\n' "$*" $((SECONDS - start)); }

summary() {
  printf '\n%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
  exit $?
}

# configure DIR BUILD_TYPE [cmake args...]: the build type only applies to a new build
# directory, so one configured differently is not rebuilt from scratch.
configure() {
  local dir=$1 type=$2; shift 2
  if [[ -f $dir/CMakeCache.txt ]]; then
    cmake -S . -B "$dir" "$@" >/dev/null
  else
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@"
  fi
}

build_or_fail() {
  local dir=$1; shift
  if ! configure "$dir" "$@" || ! cmake --build "$dir" -j2; then
    echo "test.sh: building $dir failed" >&2
    failed=$((failed + 1))
    summary
  fi
}

# count_results LOG: adds the counts of the ctest run logged in LOG to the totals.
count_results() {
  local log=$1 line total fails
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [[ -n $line ]]; then
    fails=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  elif ! grep -q 'No tests were found' "$log"; then
    echo "test.sh: ctest in $log did not report its results" >&2
    failed=$((failed + 1))
  fi
}

# run_ctest DIR JOBS LABELS [PREFIX]: runs ctest, shows its output (each line prefixed with
# PREFIX when given), and leaves the log in $results/<DIR>-<LABELS>.log for count_results.
run_ctest() {
  local dir=$1 jobs=$2 labels=$3 prefix=${4:-} log
  log="$results/$(tr -c 'a-zA-Z0-9\n' _ <<<"$dir-$labels").log"
  (cd "$dir" && ctest -L "$labels" -j"$jobs" --output-on-failure) 2>&1 | tee "$log" |
    if [[ -n $prefix ]]; then sed -u "s/^/[$prefix] /"; else cat; fi
  echo "$log" >>"$results/order"
}

# start_stack NAME: a private dev stack in $stack/NAME.
start_stack() {
  step "private stack in $stack/$1"
  if ! "$build/hookstream" dev up --dir "$stack/$1"; then
    echo "test.sh: the dev stack $1 did not start" >&2
    failed=$((failed + 1))
    summary
  fi
}

with_asan() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$@"
}

# stack_suite NAME DIR PREFIX [WRAPPER]: the integration and e2e tests of build DIR against
# stack NAME, run through WRAPPER (with_asan) when given.
stack_suite() {
  local name=$1 dir=$2 prefix=$3
  shift 3
  (
    # shellcheck disable=SC1090
    source "$stack/$name/env"
    "$@" run_ctest "$dir" 1 'integration|e2e' "$prefix"
  )
}

if [[ ${HS_TEST_SKIP_DEPS:-0} != 1 ]]; then
  step "dependencies"
  ./ops/deps.sh || { failed=$((failed + 1)); summary; }
fi

step "build $build"
build_or_fail "$build" RelWithDebInfo
step "build $asan (ASan + UBSan)"
build_or_fail "$asan" Debug -DHS_SANITIZE=address,undefined

stack=$(mktemp -d /tmp/hookstream-test.XXXXXX)
results="$stack/results"
mkdir -p "$results"
stop_stack() {
  local name
  for name in plain asan; do
    [[ -d $stack/$name ]] && "$build/hookstream" dev down --purge --dir "$stack/$name" >/dev/null 2>&1
  done
  rm -rf "$stack"
}
trap stop_stack EXIT
trap 'exit 130' INT TERM

# Unit tests need no servers and run in parallel.
run_ctest "$build" 2 'unit'
with_asan run_ctest "$asan" 2 'unit'

start_stack plain
start_stack asan
if [[ ${HS_TEST_SERIAL:-0} == 1 ]]; then
  stack_suite plain "$build" ''
  stack_suite asan "$asan" '' with_asan
else
  step "integration and e2e of $build and $asan at once"
  stack_suite plain "$build" plain &
  plain_pid=$!
  stack_suite asan "$asan" asan with_asan &
  asan_pid=$!
  wait "$plain_pid" "$asan_pid"
fi
# Each run's failures again, after the interleaved output.
while read -r log; do
  grep -A100 'The following tests FAILED' "$log" | sed "s|^|$(basename "$log" .log): |"
done <"$results/order"

if ((fuzz_seconds > 0)) && compgen -G 'tests/fuzz/fuzz_*.c' >/dev/null && command -v clang >/dev/null
then
  step "fuzz build $fuzz (clang, ${fuzz_seconds}s per target)"
  targets=()
  for src in tests/fuzz/fuzz_*.c; do targets+=(--target "$(basename "$src" .c)"); done
  if CC=clang configure "$fuzz" RelWithDebInfo -DHS_FUZZ_SECONDS="$fuzz_seconds" &&
     cmake --build "$fuzz" -j2 "${targets[@]}"; then
    run_ctest "$fuzz" 2 'fuzz'
  else
    echo "test.sh: building $fuzz failed" >&2
    failed=$((failed + 1))
  fi
fi

while read -r log; do count_results "$log"; done <"$results/order"
step "done"
summary
