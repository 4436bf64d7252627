#!/usr/bin/env bash
# The three example workflows (workflows/examples) as a user runs them: `hookstream workflows`
# against local stubs of Klaviyo, Chatwoot, Zendesk, Slack, a task API and an SMTP sink, events
# produced with `hookstream produce`. Each stub must receive what the workflow sends, in order,
# exactly once in effect (a repeat carries the same idempotency key and is marked by the stub),
# including after `kill -9` of the service between steps: during a retry backoff and during a
# delay. An inventory event above the threshold starts nothing.
source "$(dirname "$0")/lib.sh"
stack_test wf_examples workflows.log
topic="e2e.wf.$run"
"$H" topics create "$topic" --partitions 2 >/dev/null

start_stub klaviyo --respond '/api/profiles/=201:{"data":{"id":"p_1","type":"profile"}}' \
    --fail '/api/profiles/=503:1'
start_stub chatwoot \
    --respond "/api/v1/accounts/1/conversations/c1-$run=200:{\"id\":1,\"first_reply_created_at\":null}" \
    --respond "/api/v1/accounts/1/conversations/c2-$run=200:{\"id\":2,\"first_reply_created_at\":1700000000}"
start_stub zendesk --respond '/api/v2/tickets.json=201:{"ticket":{"id":4242}}'
start_stub slack --respond '/hook=200:"ok"'
start_stub tasks --respond '/tasks=201:{"id":"t_1"}' --fail '/tasks=503:1'
start_smtp

export KLAVIYO_URL=$klaviyo_url CHATWOOT_URL=$chatwoot_url ZENDESK_URL=$zendesk_url
export SLACK_WEBHOOK_URL="$slack_url/hook" TASKS_URL=$tasks_url SLA_FIRST_REPLY=4s
export HS_SECRET_KLAVIYO=pk_e2e HS_SECRET_CHATWOOT=cw_e2e HS_SECRET_ZENDESK=zd_e2e
export HS_WORKFLOWS_DIR="$HS_SOURCE_DIR/workflows/examples" HS_WORKFLOWS_TOPICS="$topic"
export HS_WORKFLOWS_GROUP="e2e-wf-$run" HS_WORKFLOWS_ALLOW_PRIVATE=127.0.0.1
export HS_WORKFLOWS_LEASE_MS=2000 HS_WORKFLOWS_POLL_MS=100 HS_FLAGS_TOPIC=""

# recorded NAME JQ: the stub's first-time (not repeated) requests through a jq filter
recorded() { jq -c "select(.repeat != true) | $2" "$tmp/$1.jsonl" 2>/dev/null; }
count() { recorded "$1" . | wc -l; }
run_status() { sql "select status from workflow_runs where workflow='$1' and trigger_id='$2'"; }

start_workflows
wport=${HS_WORKFLOWS_LISTEN##*:}
expect_match "$(curl -s "$HS_WORKFLOWS_URL/metrics")" \
    'hs_workflow_definitions 3' "the three examples are loaded"

# ---- order placed → Klaviyo (fails once, retried) → kill -9 in the backoff → email → log ------
printf '{"order_id":"o1-%s","customer":{"email":"ann@example.com","first_name":"Ann"},' "$run" >o.jsonl
printf '"currency":"EUR","total_price":"10.00","subtotal_price":"9.00","total_tax":"1.00",' >>o.jsonl
printf '"financial_status":"paid","line_items":[],"created_at":1700000000000,' >>o.jsonl
printf '"updated_at":1700000000000}\n' >>o.jsonl
"$H" produce --type order.placed --topic "$topic" --key "o1-$run" --id "evt-o1-$run" \
    --from-file o.jsonl >/dev/null || fail "order.placed not produced"
first_attempt() { [ "$(jq -s 'length' "$tmp/klaviyo.jsonl" 2>/dev/null)" -ge 1 ]; }
wait_for 30 first_attempt || fail "Klaviyo never called"
kill -9 "$wfpid"; wait "$wfpid" 2>/dev/null
start_workflows "$wport"
wait_for 60 eval '[ "$(run_status order-welcome evt-o1-$run)" = completed ]' &&
    pass "order-welcome completed after kill -9 during the retry backoff" ||
    fail "order-welcome: run is '$(run_status order-welcome "evt-o1-$run")'"
[ "$(count klaviyo)" = 2 ] && pass "Klaviyo: the 503 and one successful create" ||
    fail "Klaviyo got $(count klaviyo) first-time requests: $(cat "$tmp/klaviyo.jsonl")"
keys=$(jq -r '.idempotency_key' "$tmp/klaviyo.jsonl" | sort -u | wc -l)
[ "$keys" = 1 ] && pass "every Klaviyo attempt carried one idempotency key" ||
    fail "Klaviyo saw $keys idempotency keys"
expect_match "$(recorded klaviyo '.body.data.attributes')" '"email":"ann@example.com"' \
    "Klaviyo profile has the customer's email"
expect_match "$(recorded klaviyo '.headers.authorization')" 'Klaviyo-API-Key pk_e2e' \
    "the Klaviyo key comes from HS_SECRET_KLAVIYO"
[ "$(recorded smtp 'select(.to == ["ann@example.com"])' | wc -l)" = 1 ] &&
    pass "one welcome email to the customer" || fail "emails: $(cat "$tmp/smtp.jsonl")"
expect_match "$(recorded smtp '.subject')" 'Welcome, Ann!' "the subject is rendered"
k_at=$(recorded klaviyo 'select(.status == 201) | .at')
w_at=$(recorded smtp 'select(.to == ["ann@example.com"]) | .at')
[ -n "$k_at" ] && [[ "$k_at" < "$w_at" ]] && pass "Klaviyo before the email" ||
    fail "order: klaviyo '$k_at' email '$w_at'"
expect_match "$(grep -c '"msg":"welcome sent"' "$tmp/workflows.log")" '^1$' "the log step ran once"
expect_match "$(grep '"msg":"welcome sent"' "$tmp/workflows.log")" '"profile":"p_1"' \
    "the log step read the Klaviyo response"

# ---- conversation open → delay (kill -9 during it) → not answered → Zendesk → Slack → emit ----
conv() { printf '{"conversation_id":"%s","inbox_id":"1","contact":{"id":"k1","email":"bo@example.com","name":"Bo"},' "$1"
    printf '"channel":"web","status":"open","assignee_id":null,"created_at":1700000000000,"attributes":{}}\n'; }
conv "c1-$run" >c.jsonl
conv "c2-$run" >>c.jsonl
"$H" produce --type support.conversation.created --topic "$topic" --from-file c.jsonl >/dev/null ||
    fail "conversations not produced"
waiting() { [ "$(sql "select count(*) from workflow_runs where workflow='sla-breach' and status='waiting'")" = 2 ]; }
wait_for 30 waiting || fail "sla-breach runs are not waiting in their delay"
kill -9 "$wfpid"; wait "$wfpid" 2>/dev/null
start_workflows "$wport"
done_both() { [ "$(sql "select count(*) from workflow_runs where workflow='sla-breach' and status='completed'")" = 2 ]; }
wait_for 60 done_both && pass "both sla-breach runs completed after kill -9 during the delay" ||
    fail "sla-breach: $(sql "select status, error from workflow_runs where workflow='sla-breach'")"
[ "$(count chatwoot)" = 2 ] && pass "Chatwoot checked once per conversation" ||
    fail "Chatwoot got $(count chatwoot)"
[ "$(count zendesk)" = 1 ] && pass "one Zendesk ticket, for the unanswered conversation only" ||
    fail "Zendesk got $(count zendesk)"
expect_match "$(recorded zendesk '.body.ticket.external_id')" "chatwoot-c1-$run" "the ticket names c1"
[ "$(count slack)" = 1 ] && pass "one Slack message" || fail "Slack got $(count slack)"
expect_match "$(recorded slack '.body.text')" 'Zendesk ticket 4242' "Slack names the ticket"
z_at=$(recorded zendesk '.at'); s_at=$(recorded slack '.at')
[[ "$z_at" < "$s_at" ]] && pass "Zendesk before Slack" || fail "order: zendesk $z_at slack $s_at"
emitted=$(timeout 20 "$H" consume hs.events.support --from beginning --exit-at-end 2>/dev/null |
    grep -c "chatwoot-c1-$run")
[ "$emitted" -ge 1 ] && pass "support.sla.breached emitted for the dashboard" ||
    fail "no support.sla.breached for c1 on hs.events.support"

# ---- inventory: below 10 → email → task (fails once; kill -9 in its backoff) → log; 50 left:
# nothing ------------------------------------------------------------------------------------------
inv() { printf '{"inventory_item_id":"%s","sku":"SKU-1","product_id":"p1","variant_id":null,' "$1"
    printf '"location_id":"l1","available":%s,"updated_at":1700000000000,"attributes":{}}\n' "$2"; }
{ inv "i1-$run" 5; inv "i2-$run" 50; } >i.jsonl
"$H" produce --type inventory.updated --topic "$topic" --from-file i.jsonl >/dev/null ||
    fail "inventory not produced"
task_tried() { [ "$(jq -s 'length' "$tmp/tasks.jsonl" 2>/dev/null)" -ge 1 ]; }
wait_for 30 task_tried || fail "the task API was never called"
kill -9 "$wfpid"; wait "$wfpid" 2>/dev/null
start_workflows "$wport"
inv_done() { [ "$(sql "select count(*) from workflow_runs where workflow='low-stock' and status='completed'")" = 1 ]; }
wait_for 30 inv_done && pass "low-stock completed for the item below 10" ||
    fail "low-stock: $(sql "select status, error from workflow_runs where workflow='low-stock'")"
sleep 1
[ "$(sql "select count(*) from workflow_runs where workflow='low-stock'")" = 1 ] &&
    pass "the item with 50 left started no run" || fail "low-stock runs: $(sql "select count(*) from workflow_runs where workflow='low-stock'")"
[ "$(recorded smtp 'select(.subject | test("Low stock"))' | wc -l)" = 1 ] &&
    pass "one low-stock email" || fail "low-stock emails: $(cat "$tmp/smtp.jsonl")"
[ "$(count tasks)" = 2 ] && pass "one reorder task (after one 503), restarted in between" ||
    fail "tasks got $(count tasks): $(cat "$tmp/tasks.jsonl")"
expect_match "$(recorded tasks '.body.title')" "Reorder i1-$run" "the task names the item"
m_at=$(recorded smtp 'select(.subject | test("Low stock")) | .at' 2>/dev/null)
t_at=$(recorded tasks '.at' | head -1)
[ -n "$m_at" ] && [[ "$m_at" < "$t_at" ]] && pass "email before task" ||
    fail "order: email $m_at task $t_at"

finish
