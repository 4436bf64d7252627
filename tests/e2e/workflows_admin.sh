#!/usr/bin/env bash
# The workflows admin API and CLI as a user meets them: `hookstream workflows` started on a port
# of its own with two definitions and a broken file, an order.placed produced, then list, show,
# runs, run, cancel and retry through `hookstream workflows ...` (and curl for what the CLI
# checks itself): 401 without a token, 403 for a read-only token, 404 for an unknown run, 409 for
# a run that ended, 422 naming the query field, audit rows and hs.audit records of the changes,
# and `validate` printing file:line without a server.
source "$(dirname "$0")/lib.sh"
stack_test workflows_admin workflows.log
topic="e2e.workflows.$run"
export HS_WORKFLOWS_TOPICS="$topic" HS_WORKFLOWS_GROUP="e2e-workflows-$run"
export HS_WORKFLOWS_ADMIN_TOKENS="e2e:wfadmin$run" HS_WORKFLOWS_READ_TOKENS="viewer:wfread$run"
export HS_WORKFLOWS_TOKEN="wfadmin$run" HS_WORKFLOWS_POLL_MS=50
"$H" topics create "$topic" --partitions 1 >/dev/null

mkdir defs good broken
cat >defs/order-log.yaml <<'EOF'
name: order-log
trigger:
  events: [order.placed]
steps:
  - id: log_it
    type: log
    message: "order {{ event.data.order_id }} placed"
EOF
cat >defs/order-wait.yaml <<'EOF'
name: order-wait
trigger:
  events: [order.placed]
steps:
  - id: nap
    type: delay
    duration: 1h
  - id: after
    type: log
    message: woke
EOF
cat >defs/broken.yaml <<'EOF'
name: broken
trigger:
  events: [order.placed]
steps:
  - id: first
    type: teleport
EOF
cp defs/order-log.yaml good/
cp defs/broken.yaml broken/

# ---- validate: no server needed -----------------------------------------------------------------
expect_rc 0 "validate a good directory" -- "$H" workflows validate good
expect_match "$OUT" "order-log" "validate names the definition"
expect_rc 1 "validate a directory with a broken file" -- "$H" workflows validate broken
expect_match "$OUT" "broken/broken.yaml:6:" "the error names file:line"
expect_match "$OUT" "teleport" "and the unknown step type"
expect_rc 1 "validate a directory that does not exist" -- "$H" workflows validate nowhere
expect_rc 2 "show without a name is a usage error" -- "$H" workflows show
expect_rc 2 "an unknown subcommand" -- "$H" workflows frobnicate
expect_rc 0 "workflows --help" -- "$H" workflows --help
for sub in serve list show runs run cancel retry validate examples; do
    expect_match "$OUT" "$sub" "--help mentions $sub"
done

# ---- the service on a free port ------------------------------------------------------------------
ready() { curl -fs "$HS_WORKFLOWS_URL/readyz" >/dev/null 2>&1; }
# start_service: on port 0; sets wfpid and HS_WORKFLOWS_URL (the URL it prints), waits for /readyz
start_service() {
    : >"$tmp/workflows.out"
    HS_WORKFLOWS_LISTEN=127.0.0.1:0 "$H" workflows --dir "$tmp/defs" >"$tmp/workflows.out" \
        2>>"$tmp/workflows.log" &
    wfpid=$!
    pids+=($wfpid)
    for _ in $(seq 100); do [ -s "$tmp/workflows.out" ] && break; sleep 0.1; done
    export HS_WORKFLOWS_URL=$(head -1 "$tmp/workflows.out")
    wait_for 30 ready
}
start_service && pass "the service is ready" || { fail "not ready"; exit 1; }
expect_match "$HS_WORKFLOWS_URL" '^http://127\.0\.0\.1:[0-9]+$' "the service prints its URL"

# ---- definitions ---------------------------------------------------------------------------------
expect_rc 0 "workflows list" -- "$H" workflows list
expect_match "$OUT" "^order-log +sha-[0-9a-f]{12} +1 +order\.placed" "list shows order-log"
expect_match "$OUT" "^order-wait .* 2 +order\.placed" "and order-wait with 2 steps"
expect_match "$ERR" "not loaded: .*broken\.yaml:6:" "list prints the load error with file:line"
expect_rc 0 "workflows list --json" -- "$H" workflows list --json
expect_match "$(jq -c '[.workflows[].name, (.errors | length)]' <<<"$OUT")" \
    '^\["order-log","order-wait",1\]$' "JSON: both definitions, one error"
expect_rc 0 "workflows show" -- "$H" workflows show order-wait
expect_match "$OUT" "trigger +order\.placed" "show: the trigger"
expect_match "$OUT" "nap +delay .* line 5" "show: the steps with type and line"
expect_rc 0 "workflows show --json" -- "$H" workflows show order-log --json
expect_match "$(jq -c '.steps[0] | [.id, .type, .line]' <<<"$OUT")" '^\["log_it","log",5\]$' \
    "JSON: the step tree"
expect_rc 1 "show an unknown workflow" -- "$H" workflows show nosuch
expect_match "$ERR" "HTTP 404 Not Found: no workflow named nosuch" "404 names it"

# ---- a run of each -------------------------------------------------------------------------------
printf '{"order_id":"o1-%s","customer":{"email":"a@example.com"},"currency":"EUR","total_price":"10.00","subtotal_price":"9.00","total_tax":"1.00","financial_status":"paid","line_items":[{"product_id":"p1","title":"Hat","quantity":1,"price":"4.50"}],"created_at":1700000000000,"updated_at":1700000000000}\n' "$run" >order.json
"$H" produce --type order.placed --topic "$topic" --from-file order.json >/dev/null 2>&1 ||
    fail "produce order.placed"
completed() { "$H" workflows runs --workflow order-log --status completed --json 2>/dev/null |
    jq -e 'length == 1' >/dev/null; }
wait_for 60 completed && pass "order-log completed a run" || fail "no completed run of order-log"
waiting() { "$H" workflows runs --workflow order-wait --status waiting --json 2>/dev/null |
    jq -e 'length == 1' >/dev/null; }
wait_for 30 waiting && pass "order-wait is waiting in its delay" || fail "order-wait not waiting"
done_id=$("$H" workflows runs --workflow order-log --json | jq -r '.[0].id')
wait_id=$("$H" workflows runs --workflow order-wait --json | jq -r '.[0].id')

expect_rc 0 "workflows runs" -- "$H" workflows runs
expect_match "$OUT" "^ID +WORKFLOW +STATUS +KEY +CREATED +ERROR" "runs: table header"
expect_match "$OUT" "^$done_id +order-log +completed " "runs: the completed run"
expect_match "$OUT" "^$wait_id +order-wait +waiting " "runs: the waiting run"
expect_rc 0 "runs --limit 1" -- "$H" workflows runs --limit 1 --json
expect_match "$(jq length <<<"$OUT")" '^1$' "limit 1 gives one run"
expect_rc 0 "runs --before an hour ago" -- "$H" workflows runs --before 1h --json
expect_match "$(jq length <<<"$OUT")" '^0$' "no run is older than an hour"
expect_rc 0 "workflows run ID" -- "$H" workflows run "$done_id"
expect_match "$OUT" "status +completed" "run: its status"
expect_match "$OUT" "^log_it +completed +1 " "run: the step, completed in one attempt"
expect_rc 0 "workflows run ID --json" -- "$H" workflows run "$done_id" --json
expect_match "$(jq -c '[.status, .steps[0].step_id, .steps[0].status]' <<<"$OUT")" \
    '^\["completed","log_it","completed"\]$' "JSON: the run with its steps"

# ---- cancel, retry and their errors --------------------------------------------------------------
expect_rc 1 "cancel a completed run" -- "$H" workflows cancel "$done_id"
expect_match "$ERR" "HTTP 409 Conflict: .*completed" "409 says it ended"
expect_rc 1 "retry a completed run" -- "$H" workflows retry "$done_id"
expect_match "$ERR" "HTTP 409 Conflict" "409 for a retry too"
unknown=00000000-0000-4000-8000-000000000000
expect_rc 1 "run of an unknown id" -- "$H" workflows run "$unknown"
expect_match "$ERR" "HTTP 404 Not Found: .*$unknown" "404 names the run"
expect_rc 1 "cancel of an unknown id" -- "$H" workflows cancel "$unknown"
expect_match "$ERR" "HTTP 404 Not Found" "404 for a cancel too"
expect_rc 1 "run of an id that is no UUID" -- "$H" workflows run not-a-uuid
expect_match "$ERR" "HTTP 404" "404, not a database error"
expect_rc 1 "a read-only token cannot cancel" -- "$H" workflows cancel "$wait_id" --token "wfread$run"
expect_match "$ERR" "HTTP 403 Forbidden: this token is read-only" "403"
expect_rc 0 "a read-only token reads" -- "$H" workflows runs --token "wfread$run"
expect_rc 1 "no token" -- "$H" workflows runs --token ""
expect_match "$ERR" "HTTP 401 Unauthorized: a bearer token is required" "401"
expect_match "$ERR" "--token" "401 says how to give one"
expect_rc 1 "a wrong token" -- "$H" workflows list --token nope
expect_match "$ERR" "HTTP 401 Unauthorized: the bearer token is not valid" "401 for a wrong one"
expect_rc 1 "a bad --status" -- "$H" workflows runs --status done
expect_match "$ERR" "HTTP 422 Unprocessable Content: status: expected pending, running" \
    "422 names status"
expect_rc 1 "a bad --limit" -- "$H" workflows runs --limit 0
expect_match "$ERR" "HTTP 422 .*limit: expected an integer from 1 to 1000" "422 names limit"
expect_rc 2 "a bad --before is caught before the call" -- "$H" workflows runs --before soon
b=$(curl -s -H "Authorization: Bearer wfread$run" "$HS_WORKFLOWS_URL/v1/runs?before=soon")
expect_match "$(jq -c '[.status, .field]' <<<"$b")" '^\[422,"before"\]$' "API: 422 names before"
b=$(curl -s -H "Authorization: Bearer wfread$run" "$HS_WORKFLOWS_URL/v1/runs?limit=1001")
expect_match "$(jq -c '[.status, .field]' <<<"$b")" '^\[422,"limit"\]$' "API: 422 names limit"
long=$(printf 'w%.0s' $(seq 300))
b=$(curl -s -H "Authorization: Bearer wfread$run" "$HS_WORKFLOWS_URL/v1/runs?workflow=$long")
expect_match "$(jq -c '[.status, .field]' <<<"$b")" '^\[422,"workflow"\]$' "API: 422 for a long name"
b=$(curl -s -H "Authorization: Bearer wfread$run" "$HS_WORKFLOWS_URL/v1/runs?key=$long")
expect_match "$(jq -c '[.status, .field]' <<<"$b")" '^\[422,"key"\]$' "API: 422 for a long key"

expect_rc 0 "cancel the waiting run" -- "$H" workflows cancel "$wait_id"
expect_match "$ERR" "cancelled $wait_id: now cancelled" "cancel says so"
expect_rc 1 "cancel it again" -- "$H" workflows cancel "$wait_id"
expect_match "$ERR" "HTTP 409" "409 once cancelled"
expect_rc 0 "retry the cancelled run" -- "$H" workflows retry "$wait_id" --json
expect_match "$(jq -r .status <<<"$OUT")" '^(pending|running|waiting)$' "the run is live again"
again() { "$H" workflows run "$wait_id" --json 2>/dev/null | jq -e '.status == "waiting"' >/dev/null; }
wait_for 30 again && pass "a worker took the retried run" || fail "retried run not started"

# ---- audit ---------------------------------------------------------------------------------------
rows=$(psql -qtA "$HS_POSTGRES_DSN" -c \
    "select actor || ' ' || role || ' ' || action from audit where target = '$wait_id' order by id")
expect_match "$(tr '\n' ';' <<<"$rows")" '^e2e admin run\.cancel;e2e admin run\.retry;$' \
    "audit rows for cancel and retry, none for the refused calls"
audited() { "$H" consume hs.audit --exit-at-end 2>/dev/null |
    grep -c "\"target\":\"$wait_id\"" | grep -q '^2$'; }
wait_for 20 audited && pass "two hs.audit records" || fail "hs.audit records missing"
rec=$("$H" consume hs.audit --exit-at-end 2>/dev/null | grep "\"target\":\"$wait_id\"" | head -1)
expect_match "$rec" '"service":"workflows"' "the record names the service"
expect_match "$rec" '"detail":\{"workflow":"order-wait"\}' "and the workflow"

# ---- SIGTERM stops the service cleanly -----------------------------------------------------------
kill -TERM "$wfpid"
stopped() { ! kill -0 "$wfpid" 2>/dev/null; }
wait_for 30 stopped && pass "SIGTERM stops the service" || fail "still running 30 s after SIGTERM"
wait "$wfpid"
expect_match "exit $?" '^exit 0$' "and it exits 0"

# ---- tokens: a malformed list stops the start; empty lists fall back to deliver's ---------------
expect_rc 1 "a malformed token list" -- env HS_WORKFLOWS_ADMIN_TOKENS=nocolon \
    HS_WORKFLOWS_LISTEN=127.0.0.1:0 "$H" workflows --dir "$tmp/defs"
expect_match "$ERR" "workflows.admin_tokens: entry 1 is not NAME:TOKEN" "names the key and entry"
[[ "$ERR" == *nocolon* ]] && fail "the token is printed: $ERR" || pass "never the token itself"
unset HS_WORKFLOWS_ADMIN_TOKENS HS_WORKFLOWS_READ_TOKENS
start_service && pass "restarted with deliver's tokens" || fail "not ready again"
expect_rc 0 "deliver's read token reads" -- "$H" workflows runs --token "readtoken$run"
expect_rc 1 "and cannot cancel" -- "$H" workflows cancel "$wait_id" --token "readtoken$run"
expect_match "$ERR" "HTTP 403" "403 with deliver's read token"
expect_rc 1 "the workflows token is gone" -- "$H" workflows list --token "wfadmin$run"
expect_match "$ERR" "HTTP 401" "401 for it"
expect_rc 0 "deliver's admin token cancels" -- "$H" workflows cancel "$wait_id" --token "admintoken$run"
kill -TERM "$wfpid"
wait "$wfpid"
expect_match "exit $?" '^exit 0$' "the second start exits 0 on SIGTERM"

finish
