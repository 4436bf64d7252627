/* Event waits in the workflow store against the stack's Postgres: an event before the wait is
 * matched at once, one after it wakes the run, none is slept through, paging, bad input, and
 * kept events pruned after their time. */
#include <stdlib.h>
#include <unistd.h>

#include "test_wf_store.h"

/* The engine's JsonLogic in small: match {"order": X} holds when event.data.order is X. */
static int match_order(void *opaque, const json_t *match, const json_t *event) {
    int *calls = opaque;
    (*calls)++;
    return json_equal(json_object_get(match, "order"),
                      json_object_get(json_object_get(event, "data"), "order"));
}

static json_t *order_event(const char *ce_id, const char *order) {
    return json_pack("{s:s, s:s, s:{s:s}}", "id", ce_id, "type", "order.paid", "data", "order",
                     order);
}

static hs_err_t arrive(const char *ce_id, const char *order, int *woken) {
    json_t *ev = order_event(ce_id, order);
    int calls = 0;
    hs_err_t e = wf_store_event_arrived(store, "order.paid", ce_id, ev, 60000, match_order, &calls,
                                        woken, err, sizeof err);
    json_decref(ev);
    return e;
}

static hs_err_t wait_as(const char *owner, const char *id, const char *order, int64_t since_ms,
                        int *matched) {
    json_t *match = json_pack("{s:s}", "order", order);
    int calls = 0;
    hs_err_t e =
        wf_store_wait_begin(store, id, owner, "paid", "order.paid", match, since_ms,
                            now_ms() + 60000, match_order, &calls, matched, err, sizeof err);
    json_decref(match);
    return e;
}

static hs_err_t wait_for(const char *id, const char *order, int64_t since_ms, int *matched) {
    return wait_as("w1", id, order, since_ms, matched);
}

static const char *step_output_order(const char *id) {
    char q[200];
    snprintf(q, sizeof q,
             "SELECT status || ':' || coalesce(output #>> '{data,order}', '-') FROM workflow_steps"
             " WHERE run_id = '%s' AND step_id = 'paid'",
             id);
    return sql1(q);
}

Test(wf_store, an_event_before_the_wait_is_matched_at_once, .init = setup, .fini = teardown) {
    char id[37];
    int64_t since = now_ms() - 1000;
    int woken = -1, matched = -1;
    cr_assert_eq(arrive("ce-other", "o-2", &woken), HS_OK, "%s", err);
    cr_assert_eq(arrive("ce-1", "o-1", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 0);
    claimed_run("w1", "e1", id);
    cr_assert_eq(wait_for(id, "o-1", since, &matched), HS_OK, "%s", err);
    cr_assert_eq(matched, 1);
    cr_assert_str_eq(step_output_order(id), "completed:o-1");
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_waits"), "0");
    /* an event from before since_ms is not looked at */
    char id2[37];
    claimed_run("w1", "e2", id2);
    cr_assert_eq(wait_for(id2, "o-1", now_ms() + 1, &matched), HS_OK, "%s", err);
    cr_assert_eq(matched, 0);
    cr_assert_str_eq(step_output_order(id2), "waiting:-");
}

Test(wf_store, an_event_after_the_wait_wakes_the_run, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    claimed_run("w1", "e1", id);
    int matched = -1, woken = -1;
    cr_assert_eq(wait_for(id, "o-5", now_ms(), &matched), HS_OK, "%s", err);
    cr_assert_eq(matched, 0);
    cr_assert_eq(wf_store_run_sleep(store, id, "w1", now_ms() + 60000, err, sizeof err), HS_OK);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 0);
    cr_assert_eq(arrive("ce-x", "o-4", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 0);
    cr_assert_eq(arrive("ce-y", "o-5", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 1);
    cr_assert_str_eq(step_output_order(id), "completed:o-5");
    cr_assert_str_eq(sql1("SELECT wake_at <= now() FROM workflow_runs"), "t");
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1);

    /* a redelivered event wakes nothing, even a wait that would match it */
    char id2[37];
    claimed_run("w2", "e2", id2);
    cr_assert_eq(wait_as("w2", id2, "o-5", now_ms(), &matched), HS_OK, "%s", err);
    cr_assert_eq(matched, 0);
    cr_assert_eq(arrive("ce-y", "o-5", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 0);
    cr_assert_str_eq(step_output_order(id2), "waiting:-");
}

Test(wf_store, an_event_during_the_run_is_not_slept_through, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    claimed_run("w1", "e1", id);
    int matched = -1, woken = -1;
    cr_assert_eq(wait_for(id, "o-5", now_ms(), &matched), HS_OK, "%s", err);
    /* the event arrives before the worker puts the run to sleep until the timeout */
    cr_assert_eq(arrive("ce-y", "o-5", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 1);
    cr_assert_eq(wf_store_run_sleep(store, id, "w1", now_ms() + 60000, err, sizeof err), HS_OK);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1, "the run sleeps through its event");
}

Test(wf_store, a_wait_without_match_takes_any_event, .init = setup, .fini = teardown) {
    char id[37];
    claimed_run("w1", "e1", id);
    int matched = -1, woken = -1, calls = 0;
    json_t *any = json_null();
    cr_assert_eq(wf_store_wait_begin(store, id, "w1", "paid", "order.paid", any, now_ms(),
                                     now_ms() + 60000, match_order, &calls, &matched, err,
                                     sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(matched, 0);
    cr_assert_str_eq(sql1("SELECT coalesce(match::text, 'none') FROM workflow_waits"), "none");
    cr_assert_eq(arrive("ce-1", "o-1", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 1);
    cr_assert_eq(calls, 0);
    cr_assert_str_eq(step_output_order(id), "completed:o-1");
}

/* More kept events and open waits than one page (500) of each. */
Test(wf_store, waits_and_events_are_walked_page_by_page, .init = setup, .fini = teardown) {
    sql1("WITH e AS (INSERT INTO workflow_events (ce_id, event_type, event, keep_until)"
         " SELECT 'bulk-' || g, 'order.paid', jsonb_build_object('data',"
         " jsonb_build_object('order', 'o-' || g)), now() + interval '1 hour'"
         " FROM generate_series(1, 1200) g RETURNING 1) SELECT count(*) FROM e");
    char id[37];
    claimed_run("w1", "e1", id);
    int matched = 0, woken = 0;
    cr_assert_eq(wait_for(id, "o-1100", 0, &matched), HS_OK, "%s", err);
    cr_assert_eq(matched, 1);
    cr_assert_str_eq(step_output_order(id), "completed:o-1100");

    /* 1100 waiting runs, every other one waiting for order o-x */
    sql1("WITH r AS (INSERT INTO workflow_runs (workflow, version, trigger_id, trigger_type,"
         " status, event, wake_at) SELECT 'many', 'v1', 't' || g, 'order.created', 'waiting',"
         " '{}', now() + interval '1 hour' FROM generate_series(1, 1100) g RETURNING id, seq),"
         " w AS (INSERT INTO workflow_waits (run_id, step_id, event_type, match, timeout_at)"
         " SELECT id, 'paid', 'order.paid', jsonb_build_object('order',"
         " CASE WHEN seq % 2 = 0 THEN 'o-x' ELSE 'o-y' END), now() + interval '1 hour' FROM r"
         " RETURNING 1) SELECT count(*) FROM w");
    cr_assert_eq(arrive("ce-x", "o-x", &woken), HS_OK, "%s", err);
    cr_assert_eq(woken, 550);
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs WHERE workflow = 'many'"
                          " AND wake_at <= now()"),
                     "550");
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_waits"), "550");
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_steps WHERE status = 'completed'"
                          " AND output #>> '{data,order}' = 'o-x'"),
                     "550");
}

Test(wf_store, bad_waits_and_events_are_refused, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    run_new("w", "e1", "", 0, 0, id);
    int matched, woken;
    json_t *match = json_pack("{s:s}", "order", "o");
    cr_assert_eq(wf_store_wait_begin(store, id, "w1", "paid", "order.paid", match, 0, 0, NULL, NULL,
                                     &matched, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(wait_for(id, "o", 0, &matched), HS_ERR_CONFLICT, "a pending run is not held");
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1);
    cr_assert_eq(wf_store_wait_begin(store, id, "w1", "", "order.paid", match, 0, 0, match_order,
                                     NULL, &matched, err, sizeof err),
                 HS_ERR_INVALID);
    json_t *ev = order_event("c", "o");
    cr_assert_eq(wf_store_event_arrived(store, "order.paid", "", ev, 1000, match_order, NULL,
                                        &woken, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(wf_store_event_arrived(store, "order.paid", "c", ev, -1, match_order, NULL, &woken,
                                        err, sizeof err),
                 HS_ERR_INVALID);
    json_decref(ev);
    json_decref(match);
}

Test(wf_store, kept_events_are_pruned_after_their_time, .init = setup, .fini = teardown) {
    json_t *ev = order_event("short", "o");
    int woken, calls = 0, deleted = -1;
    cr_assert_eq(wf_store_event_arrived(store, "order.paid", "short", ev, 0, match_order, &calls,
                                        &woken, err, sizeof err),
                 HS_OK, "%s", err);
    json_decref(ev);
    cr_assert_eq(arrive("long", "o", &woken), HS_OK, "%s", err);
    usleep(20 * 1000);
    cr_assert_eq(wf_store_events_prune(store, &deleted, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(deleted, 1);
    cr_assert_str_eq(sql1("SELECT string_agg(ce_id, ',') FROM workflow_events"), "long");
}
