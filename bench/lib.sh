# Shared by the bench scripts that need a whole stack (sourced; needs H and tmp set).

# bench_stack PART: starts a private `hookstream dev up` stack in $tmp/stack (the caller's stack
# variables must not leak into it), sources its env, and stops the stack's own PART so that only
# the bench's instance runs (it would share the database and the CPU).
bench_stack() {
  echo "starting a private dev stack in $tmp/stack" >&2
  env -u HS_KAFKA_BROKERS -u HS_BROKER_CONTROL_URL -u HS_REGISTRY_URL -u HS_REDIS_URL \
    -u HS_POSTGRES_DSN "$H" dev up --dir "$tmp/stack" >"$tmp/dev.log" 2>&1 ||
    { cat "$tmp/dev.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$tmp/stack/env"
  export HS_LOG_LEVEL=error
  local own
  own=$(cat "$tmp/stack/run/$1.pid")
  kill -TERM "$own"
  while kill -0 "$own" 2>/dev/null; do sleep 0.1; done
}

# bench_stack_down: stops the stack and removes $tmp (for the caller's EXIT trap).
bench_stack_down() {
  wait 2>/dev/null || true
  "$H" dev down --purge --dir "$tmp/stack" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}

# cpu_s PID: CPU seconds (user + system, all threads) process PID has used so far.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"
}
