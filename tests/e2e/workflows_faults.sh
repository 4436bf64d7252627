#!/usr/bin/env bash
# What `hookstream workflows` does with bad input and failures, as a user sees it: a broken
# definition does not stop the others; a template naming a missing field fails the step with that
# name (nothing sent) and runs on_error; a JsonLogic error is a false condition, logged; HTTP
# failures are retried with one idempotency key, then on_error; SMTP failures are retried; a
# workflow that triggers itself stops at the emit depth limit; a disabled integration holds its
# step until the flag is on again; wait_for_event ends on its event or its timeout; a cron
# schedule fires; a run keeps the definition version it started with across a hot reload.
source "$(dirname "$0")/lib.sh"
stack_test wf_faults workflows.log
topic="e2e.wff.$run"
"$H" topics create "$topic" --partitions 2 >/dev/null
start_stub api --fail '/down=500:100' --fail '/flaky=500:100' --respond '/tasks=201:{"id":"t_9"}' \
    --respond '/slow=200:{}'
start_smtp --fail-first 2
mkdir defs
# Emitted customer.updated events land on hs.events.customers: the loop test reads them there.
export HS_WORKFLOWS_DIR="$tmp/defs" HS_WORKFLOWS_TOPICS="$topic,hs.events.customers"
export HS_WORKFLOWS_GROUP="e2e-wff-$run" HS_WORKFLOWS_ALLOW_PRIVATE=127.0.0.1
export HS_WORKFLOWS_LEASE_MS=2000 HS_WORKFLOWS_POLL_MS=100 HS_WORKFLOWS_RELOAD_MS=200
export HS_WORKFLOWS_HOLD_MS=200 HS_WORKFLOWS_MAX_DEPTH=3 API_URL=$api_url
export HS_FLAGS_FILE="$tmp/flags.json" HS_FLAGS_POLL_MS=100 HS_FLAGS_TOPIC=""
cat >"$HS_FLAGS_FILE" <<'EOF'
{"flags": {
  "integration.tasks.enabled": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "integration.never.enabled": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
  "integration.crm.v2.enabled": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"==": [{"var": "tenant"}, "acme"]}, "on", null]}}
}}
EOF

cat >defs/missing.yaml <<EOF
name: missing
trigger: {events: [customer.created], condition: {"==": [{"var": "data.customer_id"}, "miss-$run"]}}
steps:
  - id: send
    type: http
    method: POST
    url: "{{ env.API_URL }}/never"
    body: {email: "{{ event.data.nope }}"}
    on_error:
      - {id: handled, type: log, level: warn, message: "missing handled for {{ event.subject }}"}
EOF
cat >defs/badlogic.yaml <<EOF
name: badlogic
trigger: {events: [customer.created], condition: {"missing_some": [1, {"var": "event.type"}]}}
steps:
  - {id: never, type: log, message: "badlogic ran"}
EOF
cat >defs/retries.yaml <<EOF
name: retries
trigger: {events: [customer.created], condition: {"==": [{"var": "data.customer_id"}, "retry-$run"]}}
steps:
  - id: mail
    type: email
    to: "{{ event.data.email }}"
    subject: "hello {{ event.subject }}"
    text: hi
    retry: {initial_interval: 100ms, maximum_attempts: 5}
  - id: call
    type: http
    method: POST
    url: "{{ env.API_URL }}/down"
    body: {id: "{{ event.subject }}"}
    retry: {initial_interval: 100ms, backoff_coefficient: 2, maximum_attempts: 3}
    on_error:
      - {id: gave_up, type: log, level: warn, message: "gave up on {{ event.subject }}"}
EOF
cat >defs/loop.yaml <<EOF
name: loop
trigger: {events: [customer.updated], condition: {"==": [{"var": "data.customer_id"}, "loop-$run"]}}
steps:
  - {id: again, type: emit, event: customer.updated, key: "{{ event.subject }}", data: "{{ event.data }}"}
EOF
cat >defs/held.yaml <<EOF
name: held
trigger: {events: [order.placed], condition: {"==": [{"var": "data.order_id"}, "held-$run"]}}
steps:
  - id: task
    type: http
    integration: tasks
    method: POST
    url: "{{ env.API_URL }}/tasks"
    body: {title: "task for {{ event.subject }}"}
EOF
cat >defs/waiter.yaml <<EOF
name: waiter
trigger: {events: [order.placed], condition: {"in": ["wait-", {"var": "data.order_id"}]}}
steps:
  - id: paid
    type: wait_for_event
    event: order.paid
    match: {"==": [{"var": "subject"}, "{{ event.subject }}"]}
    timeout: 3s
  - {id: thanks, type: log, message: "paid {{ steps.paid.data.amount }} for {{ event.subject }}"}
EOF
cat >defs/connector.yaml <<EOF
name: connector
trigger: {events: [customer.created], condition: {"==": [{"var": "data.customer_id"}, "conn-$run"]}}
steps:
  - id: pick
    type: branch
    condition: {"==": ["{{ flags[\\"integration.crm.v2.enabled\\"] }}", true]}
    then: [{id: v2, type: log, message: "crm v2 for {{ event.tenant }}"}]
    else: [{id: v1, type: log, message: "crm v1 for {{ event.tenant }}"}]
EOF
# Limits per integration come from the configuration file.
cat >hookstream.yaml <<'EOF'
integrations:
  paced: {rate: 1, burst: 1}
  fragile: {breaker_failure_pct: 50, breaker_min_requests: 2, breaker_open_ms: 60000}
EOF
export HS_CONFIG="$tmp/hookstream.yaml"
cat >defs/guards.yaml <<EOF
name: guards
trigger: {events: [customer.created], condition: {"in": ["guard-", {"var": "data.customer_id"}]}}
steps:
  - id: route
    type: branch
    condition: {"in": ["paced", {"var": "data.customer_id"}]}
    then:
      - {id: paced_call, type: http, integration: paced, method: POST, url: "{{ env.API_URL }}/slow"}
    else:
      - id: pick
        type: branch
        condition: {"in": ["fragile", {"var": "data.customer_id"}]}
        then:
          - id: fragile_call
            type: http
            integration: fragile
            method: POST
            url: "{{ env.API_URL }}/flaky"
            deadline: 2s
            retry: {initial_interval: 100ms, maximum_attempts: 2}
        else:
          - {id: never_call, type: http, integration: never, url: "{{ env.API_URL }}/never", deadline: 1s}
EOF
cat >defs/cron.yaml <<'EOF'
name: cron
trigger: {schedule: "@every 1s"}
steps:
  - {id: tick, type: log, message: "tick {{ event.data.scheduled_at }}"}
EOF
cat >defs/versioned.yaml <<EOF
name: versioned
version: 1
trigger: {events: [order.placed], condition: {"==": [{"var": "data.order_id"}, "ver-$run"]}}
steps:
  - {id: nap, type: delay, duration: 2s}
  - {id: say, type: log, message: "version one"}
EOF
printf 'name: broken\ntrigger: {events: [order.placed]}\nsteps:\n  - {id: x, type: teleport}\n' \
    >defs/broken.yaml

start_workflows
metrics() { curl -s "$HS_WORKFLOWS_URL/metrics"; }
expect_match "$(metrics)" 'hs_workflow_definitions 10' "10 definitions loaded beside the broken one"
expect_match "$(metrics)" 'hs_workflow_load_errors_total [1-9]' "the broken file is counted"
expect_match "$(cat "$tmp/workflows.log")" 'broken.yaml:4:.*teleport' "and logged with file:line"

customer() { # customer TYPE ID
    printf '{"customer_id":"%s","email":"%s@example.com","first_name":null,"last_name":null,' "$2" "$2"
    printf '"phone":null,"accepts_marketing":false,"tags":[],"created_at":1700000000000,'
    [ "$1" = customer.updated ] && printf '"updated_at":1700000000000,'
    printf '"attributes":{}}\n'
}
order() { printf '{"order_id":"%s","customer":{"email":"a@example.com"},"currency":"EUR","total_price":"1.00","subtotal_price":"1.00","total_tax":"0.00","financial_status":"paid","line_items":[],"created_at":1700000000000,"updated_at":1700000000000}\n' "$1"; }
send() { # send TYPE JSON
    "$H" produce --type "$1" --topic "$topic" "$2" >/dev/null || fail "produce $1"; }
status_of() { sql "select status from workflow_runs where workflow='$1' order by created_at desc limit 1"; }
ended() { local s; s=$(status_of "$1"); [ "$s" = completed ] || [ "$s" = failed ]; }

# ---- a template naming a missing field ----------------------------------------------------------
send customer.created "$(customer customer.created "miss-$run")"
wait_for 30 ended missing || fail "missing: no run ended"
expect_match "$(status_of missing)" '^failed$' "a missing field fails the run"
expect_match "$(sql "select error from workflow_runs where workflow='missing'")" \
    'missing field event\.data\.nope' "the error names the field"
expect_match "$(grep -c '/never' "$tmp/api.jsonl" 2>/dev/null)" '^0$' "nothing was sent"
expect_match "$(cat "$tmp/workflows.log")" "missing handled for miss-$run" "on_error ran"

# ---- a JsonLogic error is a false condition --------------------------------------------------------
expect_match "$(sql "select count(*) from workflow_runs where workflow='badlogic'")" '^0$' \
    "a condition that fails starts no run"
expect_match "$(grep 'trigger condition failed' "$tmp/workflows.log")" 'badlogic' \
    "and is logged naming the workflow"

# ---- SMTP fails twice then takes the mail; HTTP fails until on_error -----------------------------
send customer.created "$(customer customer.created "retry-$run")"
wait_for 30 ended retries || fail "retries: no run ended"
expect_match "$(status_of retries)" '^failed$' "the run fails after the last HTTP attempt"
expect_match "$(jq -s 'length' "$tmp/smtp.jsonl")" '^1$' "the mail arrived once after two 451s"
expect_match "$(sql "select attempt from workflow_steps s join workflow_runs r on r.id = s.run_id where r.workflow='retries' and s.step_id='mail'")" \
    '^3$' "the email step took 3 attempts"
expect_match "$(jq -s '[.[] | select(.path == "/down")] | length' "$tmp/api.jsonl")" '^3$' \
    "the HTTP step was tried maximum_attempts (3) times"
expect_match "$(jq -r 'select(.path == "/down") | .idempotency_key' "$tmp/api.jsonl" | sort -u | wc -l)" \
    '^1$' "with one idempotency key"
expect_match "$(sql "select error from workflow_runs where workflow='retries'")" \
    'step call: .*500.*attempt 3 of 3' "the run's error names the step, status and attempts"
expect_match "$(cat "$tmp/workflows.log")" "gave up on retry-$run" "on_error ran after the retries"

# ---- a workflow that triggers itself stops at the depth limit ------------------------------------
send customer.updated "$(customer customer.updated "loop-$run")"
three() { [ "$(sql "select count(*) from workflow_runs where workflow='loop' and status='completed'")" = 3 ]; }
wait_for 30 three && pass "the loop ran at depths 0, 1 and 2" ||
    fail "loop runs: $(sql "select depth, status from workflow_runs where workflow='loop'")"
stopped() { metrics | grep -Eq '^hs_workflow_loop_stopped_total [1-9]'; }
wait_for 10 stopped && pass "the event at depth 3 started nothing, counted" || fail "loop not stopped"
sleep 1
expect_match "$(sql "select count(*) from workflow_runs where workflow='loop'")" '^3$' \
    "no fourth run"

# ---- a disabled integration holds its step until the flag is on ----------------------------------
send order.placed "$(order "held-$run")"
held() { [ "$(status_of held)" = waiting ]; }
wait_for 30 held && pass "the step of the disabled integration waits" || fail "held: $(status_of held)"
sleep 1
expect_match "$(jq -s '[.[] | select(.path == "/tasks")] | length' "$tmp/api.jsonl")" '^0$' \
    "nothing was sent while disabled"
expect_match "$(metrics)" 'hs_workflow_steps_held_total\{integration="tasks",reason="disabled"\} [1-9]' \
    "held steps are counted"
sed -i '/integration.tasks.enabled/s/"defaultVariant": "off"/"defaultVariant": "on"/' "$HS_FLAGS_FILE"
wait_for 30 ended held && expect_match "$(status_of held)" '^completed$' \
    "the step ran once the flag was on" || fail "held: $(status_of held)"
expect_match "$(jq -s '[.[] | select(.path == "/tasks")] | length' "$tmp/api.jsonl")" '^1$' \
    "one task created"

# ---- a versioned flag chooses the connector version per tenant -------------------------------------
for t in acme other; do
    "$H" produce --type customer.created --topic "$topic" --tenant "$t" \
        "$(customer customer.created "conn-$run")" --id "conn-$t-$run" >/dev/null || fail "produce"
done
two() { [ "$(sql "select count(*) from workflow_runs where workflow='connector' and status='completed'")" = 2 ]; }
wait_for 30 two || fail "connector: $(sql "select status, error from workflow_runs where workflow='connector'")"
expect_match "$(cat "$tmp/workflows.log")" '"msg":"crm v2 for acme"' "acme gets v2 (flag on for it)"
expect_match "$(cat "$tmp/workflows.log")" '"msg":"crm v1 for other"' "another tenant gets v1"

# ---- per integration: token bucket, circuit breaker, the deadline of a held step -------------------
for i in 1 2 3; do send customer.created "$(customer customer.created "guard-paced-$i-$run")"; done
paced_done() { [ "$(jq -s '[.[] | select(.path == "/slow")] | length' "$tmp/api.jsonl")" = 3 ]; }
wait_for 30 paced_done || fail "paced: $(jq -s '[.[] | select(.path == "/slow")] | length' "$tmp/api.jsonl") calls"
spread=$(jq -rs '[.[] | select(.path == "/slow") | .at] | sort | (.[2] - .[0])' "$tmp/api.jsonl")
awk -v s="$spread" 'BEGIN { exit !(s >= 1.5) }' && pass "rate 1/s: 3 calls took ${spread}s" ||
    fail "rate 1/s: 3 calls within ${spread}s"
expect_match "$(metrics)" 'hs_workflow_steps_held_total\{integration="paced",reason="rate_limited"\} [1-9]' \
    "rate-limited steps are counted"
for i in 1 2 3; do send customer.created "$(customer customer.created "guard-fragile-$i-$run")"; done
fragile_ended() { [ "$(sql "select count(*) from workflow_runs where workflow='guards' and status='failed' and error like '%fragile%'")" -ge 3 ]; }
wait_for 30 fragile_ended || fail "fragile: $(sql "select status, error from workflow_runs where workflow='guards'")"
calls=$(jq -s '[.[] | select(.path == "/flaky")] | length' "$tmp/api.jsonl")
[ "$calls" -lt 6 ] && pass "the open breaker saved calls ($calls of 6 attempts made)" ||
    fail "breaker never opened: $calls calls"
expect_match "$(metrics)" 'hs_workflow_steps_held_total\{integration="fragile",reason="circuit_open"\} [1-9]' \
    "circuit-open holds are counted"
expect_match "$(sql "select error from workflow_runs where workflow='guards' and status='failed' and error like '%circuit_open%' limit 1")" \
    'integration fragile held \(circuit_open\) past the step.s deadline' "a step held past its deadline fails naming why"
send customer.created "$(customer customer.created "guard-never-$run")"
never_failed() { [ "$(sql "select count(*) from workflow_runs where workflow='guards' and error like '%never held (disabled)%'")" = 1 ]; }
wait_for 30 never_failed && pass "a step of a disabled integration fails after its deadline" ||
    fail "never: $(sql "select status, error from workflow_runs where workflow='guards'")"
expect_match "$(grep -c '/never' "$tmp/api.jsonl")" '^0$' "and was never called"

# ---- wait_for_event: matched by its event, or failed at its timeout -------------------------------
send order.placed "$(order "wait-a-$run")"
send order.placed "$(order "wait-b-$run")"
waits() { [ "$(sql "select count(*) from workflow_waits")" -ge 1 ]; }
wait_for 30 waits || fail "no wait recorded"
"$H" produce --type order.paid --topic "$topic" \
    "{\"order_id\":\"wait-a-$run\",\"order_number\":null,\"amount\":\"12.50\",\"currency\":\"EUR\",\"gateway\":\"x\",\"payment_id\":null,\"customer_email\":null,\"paid_at\":1700000000000,\"attributes\":{}}" \
    >/dev/null || fail "produce order.paid"
both() { [ "$(sql "select count(*) from workflow_runs where workflow='waiter' and status in ('completed','failed')")" = 2 ]; }
wait_for 30 both || fail "waiter: $(sql "select trigger_id, status from workflow_runs where workflow='waiter'")"
expect_match "$(sql "select status from workflow_runs where workflow='waiter' and concurrency_key='wait-a-$run'")" \
    '^completed$' "the wait ended on its order.paid"
expect_match "$(cat "$tmp/workflows.log")" "paid 12.50 for wait-a-$run" "the next step read the event"
expect_match "$(sql "select error from workflow_runs where workflow='waiter' and concurrency_key='wait-b-$run'")" \
    'no order.paid event matched' "the other one failed at its timeout"

# ---- cron ----------------------------------------------------------------------------------------
ticks() { [ "$(sql "select count(*) from workflow_runs where workflow='cron' and status='completed'")" -ge 2 ]; }
wait_for 15 ticks && pass "the @every 1s schedule fired" || fail "cron runs: $(sql "select count(*) from workflow_runs where workflow='cron'")"

# ---- a hot reload does not change a running run's version -----------------------------------------
send order.placed "$(order "ver-$run")"
napping() { [ "$(status_of versioned)" = waiting ]; }
wait_for 30 napping || fail "versioned: not in its delay"
sed -i 's/version: 1/version: 2/; s/version one/version two/' defs/versioned.yaml
wait_for 30 ended versioned || fail "versioned did not end"
expect_match "$(grep -c '"msg":"version one"' "$tmp/workflows.log")" '^1$' \
    "the run finished with the version it started with"
expect_match "$(sql "select count(*) from workflow_versions where workflow='versioned'")" '^2$' \
    "both versions are recorded"
sed -i "s/\"ver-$run\"/\"ver-$run-2\"/" defs/versioned.yaml
sleep 1 # reloaded within workflows.reload_ms
send order.placed "$(order "ver-$run-2")"
wait_for 30 eval '[ "$(grep -c "\"msg\":\"version two\"" "$tmp/workflows.log")" = 1 ]' &&
    pass "a run after the reload uses version 2" || fail "no run of version 2"

finish
