#!/usr/bin/env bash
# README command 2, and what CI runs (.ci/run): installs what is missing, builds hookstream
# plain (build/) and with ASan+UBSan (build-asan/), starts a private dev stack on free loopback
# ports in a temporary directory, runs every test against it (unit, integration and e2e in both
# builds; short fuzz runs when clang can build them), stops the stack, and ends with one line
# "N passed, N failed".
# Exits non-zero on any failure.
#
# Environment: HS_BUILD_DIR, HS_ASAN_BUILD_DIR, HS_FUZZ_BUILD_DIR (default build, build-asan,
# build-fuzz), HS_FUZZ_SECONDS (per fuzz target, default 10; 0 skips fuzzing),
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

# run_ctest DIR JOBS LABELS: runs ctest and adds its counts to the totals.
run_ctest() {
  local dir=$1 jobs=$2 labels=$3 log
  log=$(mktemp)
  step "ctest in $dir: $labels"
  (cd "$dir" && ctest -L "$labels" -j"$jobs" --output-on-failure) 2>&1 | tee "$log"
  local line total fails
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [[ -n $line ]]; then
    fails=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  elif ! grep -q 'No tests were found' "$log"; then
    echo "test.sh: ctest in $dir did not report its results" >&2
    failed=$((failed + 1))
  fi
  rm -f "$log"
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
stop_stack() {
  "$build/hookstream" dev down --purge --dir "$stack/dev" >/dev/null 2>&1
  rm -rf "$stack"
}
trap stop_stack EXIT
trap 'exit 130' INT TERM

step "private stack in $stack/dev"
if ! "$build/hookstream" dev up --dir "$stack/dev"; then
  echo "test.sh: the dev stack did not start" >&2
  failed=$((failed + 1))
  summary
fi
# shellcheck disable=SC1091
source "$stack/dev/env"

# Unit tests need no servers and run in parallel; the others share the one stack.
run_ctest "$build" 2 'unit'
run_ctest "$build" 1 'integration|e2e'

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_ctest "$asan" 2 'unit'
run_ctest "$asan" 1 'integration|e2e'
unset ASAN_OPTIONS UBSAN_OPTIONS

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

step "done"
summary
