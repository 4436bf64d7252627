# Shared by the cache-proxy e2e scripts that run a Redis of their own, so they can stop it
# (sourced after lib.sh; not a test: the e2e glob runs *.sh).

# own_redis_test LOG: skipped (exit 0) without redis-server; sets H, $tmp (the working
# directory), pids and rport, starts Redis there (HS_REDIS_URL) and on exit tails $tmp/LOG after
# a failed check, kills pids and removes $tmp.
own_redis_test() {
    command -v redis-server >/dev/null || { echo "skipped: redis-server is not installed"; exit 0; }
    H=$HOOKSTREAM
    tmp=$(mktemp -d)
    pids=()
    E2E_LOG=$1
    trap own_redis_cleanup EXIT
    cd "$tmp" || exit 1
    rport=$(free_port)
    export HS_REDIS_URL="redis://127.0.0.1:$rport"
    start_redis
}

own_redis_cleanup() {
    if ((E2E_FAILS > 0)); then
        echo "--- $E2E_LOG (tail)"
        tail -30 "$tmp/$E2E_LOG"
        failed_summary
    fi
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}

# start_redis: (again, after a shutdown) on $rport
start_redis() {
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning \
        >>redis.log 2>&1 &
    pids+=($!)
    wait_for 5 redis-cli -p "$rport" ping >/dev/null 2>&1 || { fail "redis-server did not start"; exit 1; }
}

lines_at_least() { [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ]; }

# start_proxy NAME [ARGS...]: `hookstream cache-proxy` with routes.yaml in front of $upstream on
# free ports, log in NAME.log; sets $NAME (its URL), ${NAME}_admin and ${NAME}_pid.
start_proxy() {
    local name=$1
    shift
    rm -f "$name.out" # truncated only once the child runs: the old one names the last proxy
    "$H" cache-proxy --config routes.yaml --upstream "$upstream" --listen 127.0.0.1:0 \
        --admin-listen 127.0.0.1:0 "$@" >"$name.out" 2>>"$name.log" &
    pids+=($!)
    printf -v "${name}_pid" '%s' $!
    wait_for 10 lines_at_least "$name.out" 2 ||
        { fail "cache-proxy $name did not start: $(tail -3 "$name.log")"; exit 1; }
    printf -v "$name" '%s' "$(sed -n 1p "$name.out")"
    printf -v "${name}_admin" '%s' "$(sed -n 2p "$name.out")"
}
