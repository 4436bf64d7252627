# Shared helpers for the e2e scripts: assertions that print what they expected and saw.
# Sourced, not run (it has no test of its own: the e2e glob runs *.sh except this one).
HOOKSTREAM="${HOOKSTREAM:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/hookstream}"
HS_SOURCE_DIR="${HS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
E2E_FAILS=0
E2E_FAILED=()

fail() { echo "FAIL: $*" >&2; E2E_FAILS=$((E2E_FAILS + 1)); E2E_FAILED+=("$*"); }
pass() { echo "ok: $*"; }

# expect_rc WANT DESC -- CMD...: runs CMD, keeps stdout/stderr in $OUT/$ERR, checks the exit code
expect_rc() {
    local want="$1" desc="$2"; shift 3
    OUT=$("$@" 2>/tmp/e2e_err.$$); RC=$?; ERR=$(cat /tmp/e2e_err.$$); rm -f /tmp/e2e_err.$$
    if [ "$RC" = "$want" ]; then pass "$desc (exit $RC)"; else fail "$desc: exit $RC, want $want; stderr: $ERR"; fi
}

# expect_match TEXT REGEX DESC
expect_match() {
    if grep -Eq -- "$2" <<<"$1"; then pass "$3"; else fail "$3: '$1' does not match /$2/"; fi
}

# free_port: prints a loopback TCP port nobody listens on right now
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# failed_summary: the failed checks again, for a trap that printed logs after them
failed_summary() {
    ((E2E_FAILS > 0)) || return 0
    echo "--- failed checks" >&2
    printf 'FAIL: %s\n' "${E2E_FAILED[@]}" >&2
}

finish() {
    if [ "$E2E_FAILS" -gt 0 ]; then echo "$E2E_FAILS check(s) failed" >&2; exit 1; fi
    echo "all checks passed"
}

# ---- deliver tests ----------------------------------------------------------------------------
# deliver_env NAME: a database of the run's own (endpoints of other runs, with other master keys,
# stay out), generated keys and tokens, quick group expiry. Sets run and db; tmp and pids are the
# caller's, deliver_cleanup undoes it all.
deliver_env() {
    run=$$$(date +%s)
    db="e2e_$1_$run"
    E2E_ADMIN_DSN="${HS_POSTGRES_DSN%/*}/postgres"
    psql -q "$HS_POSTGRES_DSN" -c "create database $db" || { echo "cannot create database $db"; exit 1; }
    export HS_POSTGRES_DSN="${HS_POSTGRES_DSN%/*}/$db"
    export HS_DELIVER_MASTER_KEY=$(openssl rand -hex 32)
    export HS_DELIVER_ADMIN_TOKENS="e2e:admintoken$run" HS_DELIVER_READ_TOKENS="viewer:readtoken$run"
    export HS_DELIVER_TOKEN="admintoken$run" HS_DELIVER_ALLOW_PRIVATE=127.0.0.1
    export HS_CONSUMER_RETRY_TIERS="50ms,200ms"
    # a member that is gone without leaving (kill, broker outage) expires after 6 s, not 45 s
    export HS_KAFKA_SESSION_TIMEOUT_MS=6000
}

# deliver_cleanup: on a failed check the deliver log's tail and the failed checks; then kills
# pids, drops the run's database, keeps tmp in E2E_KEEP=DIR when set, and removes it.
deliver_cleanup() {
    if ((E2E_FAILS > 0)); then
        echo "--- deliver log (tail, librdkafka lines left out)"
        grep -v '"rdkafka":' "$tmp/deliver.log" | tail -30
        failed_summary
    fi
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${db:-}" ] && psql -q "$E2E_ADMIN_DSN" -c "drop database if exists $db with (force)" \
        >/dev/null 2>&1
    [ -n "${E2E_KEEP:-}" ] && cp -r "$tmp" "$E2E_KEEP"
    rm -rf "$tmp"
}
