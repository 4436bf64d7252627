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

# wait_for SECONDS COMMAND...: until COMMAND succeeds (1 when SECONDS passed first)
wait_for() {
    local until=$((SECONDS + $1)); shift
    while ! "$@"; do ((SECONDS >= until)) && return 1; sleep 0.1; done
}

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

# ---- stack tests -------------------------------------------------------------------------------
# stack_test NAME [LOG]: what every test of a service shares at its start: skipped (exit 0)
# without the stack; H, $tmp (the working directory) and pids; deliver_cleanup on exit, tailing
# $tmp/LOG (default deliver.log) after a failed check; a migrated database of the run's own.
stack_test() {
    if [ -z "${HS_KAFKA_BROKERS:-}" ] || [ -z "${HS_POSTGRES_DSN:-}" ]; then
        echo "skipped: HS_KAFKA_BROKERS / HS_POSTGRES_DSN are not set (run it from ops/test.sh)"
        exit 0
    fi
    H=$HOOKSTREAM
    tmp=$(mktemp -d)
    pids=()
    E2E_LOG=${2:-deliver.log}
    trap deliver_cleanup EXIT
    cd "$tmp" || exit 1
    deliver_env "$1"
    "$H" migrate >/dev/null 2>&1 || { fail "migrate $HS_POSTGRES_DSN"; exit 1; }
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

# deliver_cleanup: on a failed check the tail of the service's log ($tmp/$E2E_LOG, default
# deliver.log) and the failed checks; then kills
# pids, drops the run's database, keeps tmp in E2E_KEEP=DIR when set, and removes it.
deliver_cleanup() {
    if ((E2E_FAILS > 0)); then
        echo "--- ${E2E_LOG:-deliver.log} (tail, librdkafka lines left out)"
        grep -v '"rdkafka":' "$tmp/${E2E_LOG:-deliver.log}" | tail -30
        failed_summary
    fi
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${db:-}" ] && psql -q "$E2E_ADMIN_DSN" -c "drop database if exists $db with (force)" \
        >/dev/null 2>&1
    [ -n "${E2E_KEEP:-}" ] && cp -r "$tmp" "$E2E_KEEP"
    rm -rf "$tmp"
}

# ---- workflows tests ---------------------------------------------------------------------------
# start_stub NAME ARGS...: tests/stubs/http_stub.py (--dedup) recording to $tmp/NAME.jsonl;
# sets NAME_url. ARGS: --respond, --fail, --sleep (see the stub's --help).
start_stub() {
    local name=$1; shift
    /usr/bin/python3 "$HS_SOURCE_DIR/tests/stubs/http_stub.py" --port 0 --port-file "$tmp/$name.port" \
        --record "$tmp/$name.jsonl" --dedup "$@" 2>"$tmp/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
    printf -v "${name}_url" 'http://127.0.0.1:%s' "$(cat "$tmp/$name.port")"
}

# start_smtp ARGS...: tests/stubs/smtp_sink.py recording to $tmp/smtp.jsonl; sets
# HS_WORKFLOWS_SMTP_URL to it.
start_smtp() {
    /usr/bin/python3 "$HS_SOURCE_DIR/tests/stubs/smtp_sink.py" --port 0 --port-file "$tmp/smtp.port" \
        --record "$tmp/smtp.jsonl" "$@" 2>"$tmp/smtp.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$tmp/smtp.port" ] && break; sleep 0.05; done
    export HS_WORKFLOWS_SMTP_URL="smtp://127.0.0.1:$(cat "$tmp/smtp.port")"
}

# start_workflows [PORT]: `hookstream workflows` on PORT (default: a free one; the same port
# after a kill keeps the workers' lease names), log in $tmp/workflows.log; sets wfpid and
# HS_WORKFLOWS_URL and waits for /readyz.
start_workflows() {
    local port=${1:-$(free_port)}
    export HS_WORKFLOWS_LISTEN="127.0.0.1:$port" HS_WORKFLOWS_URL="http://127.0.0.1:$port"
    "$HOOKSTREAM" workflows >>"$tmp/workflows.out" 2>>"$tmp/workflows.log" &
    wfpid=$!
    pids+=($wfpid)
    wait_for 30 curl -fs "$HS_WORKFLOWS_URL/readyz" -o /dev/null ||
        fail "workflows did not become ready: $(tail -5 "$tmp/workflows.log")"
}

# sql QUERY: one query on the run's database, unaligned output
sql() { psql -qAt "$HS_POSTGRES_DSN" -c "$1"; }
