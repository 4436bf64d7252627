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
