/* The workflow store against the stack's Postgres, each test in a private database: runs and
 * their claims within concurrency limits, leases, step runs, the admin queries and a connection
 * that breaks (event waits: test_wf_store_waits.c). */
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_wf_store.h"

Test(wf_store, run_create_is_idempotent_per_trigger, .init = setup, .fini = teardown) {
    char a[37], b[37], c[37];
    run_new("welcome", "evt-1", "", 0, 0, a);
    json_t *ev = json_pack("{s:s}", "id", "evt-1");
    wf_run_new_t r = {.workflow = "welcome",
                      .version = "v2",
                      .trigger_id = "evt-1",
                      .trigger_type = "order.created",
                      .event = ev};
    int created = 1;
    cr_assert_eq(wf_store_run_create(store, &r, b, &created, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(created, 0);
    cr_assert_str_eq(a, b);
    r.workflow = "other"; /* another workflow on the same event is another run */
    cr_assert_eq(wf_store_run_create(store, &r, c, &created, err, sizeof err), HS_OK, "%s", err);
    cr_assert(created && strcmp(a, c));
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs"), "2");
    cr_assert_str_eq(run_status(a), "pending");

    /* bad input */
    r.workflow = "";
    cr_assert_eq(wf_store_run_create(store, &r, c, &created, err, sizeof err), HS_ERR_INVALID);
    r.workflow = "w";
    r.trigger_type = "schedule";
    r.trigger_id = "schedule:soon";
    cr_assert_eq(wf_store_run_create(store, &r, c, &created, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "schedule:<unix ms>"), "%s", err);
    r.trigger_id = "evt-9";
    cr_assert_eq(wf_store_run_create(store, &r, c, &created, err, sizeof err), HS_ERR_INVALID);
    r.trigger_type = "order.created";
    r.depth = -1;
    cr_assert_eq(wf_store_run_create(store, &r, c, &created, err, sizeof err), HS_ERR_INVALID);
    r.depth = 0;
    json_decref(ev);
    ev = json_string("not an object");
    r.event = ev;
    cr_assert_eq(wf_store_run_create(store, &r, c, &created, err, sizeof err), HS_ERR_INVALID);
    json_decref(ev);
}

Test(wf_store, a_batch_of_runs_is_created_once, .init = setup, .fini = teardown) {
    json_t *ev = json_pack("{s:s, s:s}", "id", "b1", "type", "order.created");
    json_t *runs = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:O, s:i, s:i, s:i, s:I},"
                             " {s:s, s:s, s:s, s:s, s:s, s:O, s:i, s:i, s:i, s:I}]",
                             "workflow", "a", "version", "v1", "trigger_id", "b1", "trigger_type",
                             "order.created", "key", "k", "event", ev, "depth", 0, "max_runs", 0,
                             "max_per_key", 1, "deadline_ms", (json_int_t)(now_ms() + 60000),
                             "workflow", "b", "version", "v1", "trigger_id", "b1", "trigger_type",
                             "order.created", "key", "k", "event", ev, "depth", 2, "max_runs", 0,
                             "max_per_key", 0, "deadline_ms", (json_int_t)0);
    json_t *created = NULL;
    cr_assert_eq(wf_store_runs_create(store, runs, &created, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(created), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(created, 0), "trigger_id")),
                     "b1");
    json_decref(created);
    cr_assert_eq(wf_store_runs_create(store, runs, &created, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(created), 0, "a redelivered batch creates nothing");
    json_decref(created);
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs WHERE status = 'pending'"), "2");
    cr_assert_str_eq(sql1("SELECT depth FROM workflow_runs WHERE workflow = 'b'"), "2");
    json_object_set_new(json_array_get(runs, 0), "event", json_string("not an object"));
    cr_assert_eq(wf_store_runs_create(store, runs, &created, err, sizeof err), HS_ERR_INVALID);
    json_decref(runs);
    json_decref(ev);
}

Test(wf_store, versions_are_kept_once, .init = setup, .fini = teardown) {
    cr_assert_eq(wf_store_put_version(store, "welcome", "v1", "name: welcome\n", err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(wf_store_put_version(store, "welcome", "v1", "changed", err, sizeof err), HS_OK,
                 "%s", err);
    hs_err_t e;
    char *text = wf_store_get_version(store, "welcome", "v1", &e, err, sizeof err);
    cr_assert_eq(e, HS_OK, "%s", err);
    cr_assert_str_eq(text, "name: welcome\n");
    free(text);
    cr_assert_null(wf_store_get_version(store, "welcome", "v2", &e, err, sizeof err));
    cr_assert_eq(e, HS_ERR_NOT_FOUND);
    cr_assert_eq(wf_store_put_version(store, "", "v1", "x", err, sizeof err), HS_ERR_INVALID);
}

Test(wf_store, one_run_per_key_in_creation_order, .init = setup, .fini = teardown) {
    char r1[37], r2[37], r3[37], other[37], ids[8][37];
    run_new("ship", "e1", "order-7", 0, 1, r1);
    run_new("ship", "e2", "order-7", 0, 1, r2);
    run_new("ship", "e3", "order-7", 0, 1, r3);
    run_new("ship", "e4", "order-8", 0, 1, other);
    int started = 1;
    cr_assert_eq(claim("w1", 60000, ids, &started), 2);
    cr_assert_str_eq(ids[0], r1);
    cr_assert_str_eq(ids[1], other);
    cr_assert_eq(started, 0);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 0, "a second run of order-7 started");
    wf_run_t *runs;
    size_t count;
    cr_assert_eq(wf_store_claim(store, "", 1000, 8, &runs, &count, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(wf_store_claim(store, "w1", 0, 8, &runs, &count, err, sizeof err), HS_ERR_INVALID);
    /* a waiting run still holds its key */
    cr_assert_eq(wf_store_run_sleep(store, r1, "w1", now_ms() + 60000, err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 0);
    cr_assert_eq(wf_store_run_cancel(store, r1, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1);
    cr_assert_str_eq(ids[0], r2);
    cr_assert_eq(wf_store_run_finish(store, r2, "w1", "completed", NULL, err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1);
    cr_assert_str_eq(ids[0], r3);
    cr_assert_str_eq(run_status(r2), "completed");
}

Test(wf_store, max_runs_bounds_the_workflow, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    for (int i = 0; i < 4; i++) {
        char tid[16], key[16];
        snprintf(tid, sizeof tid, "e%d", i);
        snprintf(key, sizeof key, "k%d", i);
        run_new("sync", tid, key, 2, 0, id);
    }
    run_new("unbounded", "u1", "", 0, 0, id);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 3); /* 2 of sync + the other workflow */
    cr_assert_eq(claim("w1", 60000, ids, NULL), 0);
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs WHERE workflow = 'sync'"
                          " AND status = 'running'"),
                     "2");
    const char *first = sql1("SELECT id FROM workflow_runs WHERE trigger_id = 'e0'");
    snprintf(id, sizeof id, "%s", first);
    cr_assert_eq(wf_store_run_finish(store, id, "w1", "failed", "boom", err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1);
    cr_assert_str_eq(run_status(ids[0]), "running");
    cr_assert_str_eq(sql1("SELECT trigger_id FROM workflow_runs WHERE status = 'pending'"), "e3");
}

typedef struct {
    wf_store_t *s;
    char owner[16]; /* each worker has its own name */
    size_t claimed;
} claimer_t;

static void *claimer(void *arg) {
    claimer_t *c = arg;
    char e[256];
    wf_run_t *runs = NULL;
    if (wf_store_claim(c->s, c->owner, 60000, 10, &runs, &c->claimed, e, sizeof e) == HS_OK)
        wf_store_runs_free(runs, c->claimed);
    return NULL;
}

Test(wf_store, concurrent_claims_respect_the_limit, .init = setup, .fini = teardown) {
    char id[37];
    for (int i = 0; i < 10; i++) {
        char tid[16];
        snprintf(tid, sizeof tid, "e%d", i);
        run_new("busy", tid, tid, 3, 0, id);
    }
    claimer_t c[4] = {0};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        c[i].s = wf_store_new(dsn, 5, err, sizeof err);
        cr_assert(c[i].s, "%s", err);
        snprintf(c[i].owner, sizeof c[i].owner, "racer%d", i);
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, claimer, &c[i]);
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += c[i].claimed;
        wf_store_destroy(c[i].s);
    }
    cr_assert_eq(total, 3);
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs WHERE status = 'running'"), "3");
}

Test(wf_store, an_expired_lease_moves_to_another_worker, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    run_new("slow", "e1", "", 0, 0, id);
    cr_assert_eq(claim("old", 100, ids, NULL), 1);
    int attempt = 0;
    cr_assert_eq(wf_store_step_begin(store, id, "old", "a", &attempt, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_eq(claim("new", 60000, ids, NULL), 0, "claimed before the lease expired");
    usleep(250 * 1000);
    int started = 0;
    cr_assert_eq(claim("new", 60000, ids, &started), 1);
    cr_assert_str_eq(ids[0], id);
    cr_assert_eq(started, 1);
    cr_assert_eq(wf_store_step_begin(store, id, "old", "a", &attempt, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_assert(strstr(err, "lease lost to new"), "%s", err);
    cr_assert_eq(wf_store_step_complete(store, id, "old", "a", NULL, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_assert_eq(wf_store_run_finish(store, id, "old", "completed", NULL, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_assert_eq(wf_store_lease_extend(store, id, "old", 1000, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert_eq(wf_store_run_sleep(store, id, "old", now_ms(), err, sizeof err), HS_ERR_CONFLICT);
    cr_assert_eq(wf_store_step_begin(store, id, "new", "a", &attempt, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_eq(attempt, 2);
    cr_assert_eq(wf_store_lease_extend(store, id, "new", 60000, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(wf_store_lease_extend(store, id, "new", 0, err, sizeof err), HS_ERR_INVALID);
    cr_assert_eq(wf_store_step_begin(store, "not-a-uuid", "new", "a", &attempt, err, sizeof err),
                 HS_ERR_NOT_FOUND);
}

Test(wf_store, a_worker_takes_back_at_once_what_it_held_before_a_crash, .init = setup,
     .fini = teardown) {
    char id[37], ids[8][37];
    run_new("w", "e1", "", 0, 0, id);
    cr_assert_eq(claim("host:1/w0", 60000, ids, NULL), 1);
    cr_assert_eq(claim("host:1/w1", 60000, ids, NULL), 0, "another worker took a held run");
    cr_assert_eq(claim("host:1/w0", 60000, ids, NULL), 0, "a live worker took its run again");
    /* the worker restarts: a new store, the same owner name */
    wf_store_destroy(store);
    store = wf_store_new(dsn, 5, err, sizeof err);
    cr_assert(store, "%s", err);
    int started = 0;
    cr_assert_eq(claim("host:1/w0", 60000, ids, &started), 1, "its own run was not taken back");
    cr_assert_str_eq(ids[0], id);
    cr_assert_eq(started, 1);
}

Test(wf_store, a_cancelled_run_stops_its_worker, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    claimed_run("w1", "e1", id);
    cr_assert_eq(wf_store_run_cancel(store, id, err, sizeof err), HS_OK, "%s", err);
    int attempt;
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "a", &attempt, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_assert(strstr(err, "is cancelled"), "%s", err);
    cr_assert_eq(wf_store_run_finish(store, id, "w1", "completed", NULL, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_assert_str_eq(run_status(id), "cancelled");
    cr_assert_eq(wf_store_run_cancel(store, id, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert(strstr(err, "is cancelled: cannot cancel"), "%s", err);
    cr_assert_eq(
        wf_store_run_cancel(store, "9b2f8a44-52c6-4a55-9d0e-7c1e1f2a3b4c", err, sizeof err),
        HS_ERR_NOT_FOUND);
    cr_assert_eq(wf_store_run_cancel(store, "'; DROP TABLE workflow_runs; --", err, sizeof err),
                 HS_ERR_NOT_FOUND);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 0);
}

Test(wf_store, step_runs_record_attempts_waits_and_results, .init = setup, .fini = teardown) {
    char id[37];
    claimed_run("w1", "e1", id);
    int attempt = 0;
    cr_assert_eq(wf_store_step_begin(store, id, "call", "w1", &attempt, err, sizeof err),
                 HS_ERR_CONFLICT, "owner and step swapped must not pass");
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "call", &attempt, err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(attempt, 1);
    int64_t wake = now_ms() + 5000;
    cr_assert_eq(wf_store_step_wait(store, id, "w1", "call", wake, "HTTP 503", err, sizeof err),
                 HS_OK, "%s", err);
    wf_step_run_t *st;
    size_t n;
    cr_assert_eq(wf_store_steps(store, id, &st, &n, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(st[0].status, "waiting");
    cr_assert_str_eq(st[0].error, "HTTP 503");
    cr_assert(llabs(st[0].wake_ms - wake) <= 1, "%lld", (long long)st[0].wake_ms);
    cr_assert_null(st[0].output);
    wf_store_steps_free(st, n);
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "call", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(attempt, 2);
    json_t *out = json_pack("{s:i}", "status", 201);
    cr_assert_eq(wf_store_step_complete(store, id, "w1", "call", out, err, sizeof err), HS_OK, "%s",
                 err);
    json_decref(out);
    cr_assert_eq(wf_store_step_complete(store, id, "w1", "log", NULL, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_fail(store, id, "w1", "mail", "smtp refused", err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "call", &attempt, err, sizeof err),
                 HS_ERR_CONFLICT, "a completed step began again");
    cr_assert(strstr(err, "already completed"), "%s", err);
    cr_assert_eq(wf_store_steps(store, id, &st, &n, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(st[0].step_id, "call"); /* start order */
    cr_assert_str_eq(st[0].status, "completed");
    cr_assert_eq(st[0].attempt, 2);
    cr_assert_null(st[0].error);
    cr_assert_eq(json_integer_value(json_object_get(st[0].output, "status")), 201);
    cr_assert(st[0].finished_ms >= st[0].started_ms && st[0].started_ms > 0);
    cr_assert(json_is_object(st[1].output) && json_object_size(st[1].output) == 0);
    cr_assert_str_eq(st[2].status, "failed");
    cr_assert_str_eq(st[2].error, "smtp refused");
    wf_store_steps_free(st, n);
    cr_assert_eq(wf_store_steps(store, "bad id", &st, &n, err, sizeof err), HS_ERR_NOT_FOUND);
}

Test(wf_store, a_sleeping_run_is_claimed_when_due, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    claimed_run("w1", "e1", id);
    cr_assert_eq(wf_store_run_sleep(store, id, "w1", now_ms() + 300, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_str_eq(run_status(id), "waiting");
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs WHERE lease_owner IS NULL"), "1");
    cr_assert_eq(claim("w2", 60000, ids, NULL), 0);
    usleep(400 * 1000);
    int started = 0;
    cr_assert_eq(claim("w2", 60000, ids, &started), 1);
    cr_assert_eq(started, 1);
    cr_assert_str_eq(sql1("SELECT lease_owner FROM workflow_runs"), "w2");
    cr_assert_eq(wf_store_run_finish(store, id, "w2", "done", NULL, err, sizeof err),
                 HS_ERR_INVALID);
}

Test(wf_store, retry_keeps_completed_steps, .init = setup, .fini = teardown) {
    char id[37], ids[8][37];
    run_new("w", "e1", "", 0, 0, id);
    cr_assert_eq(wf_store_run_retry(store, id, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert(strstr(err, "is pending"), "%s", err);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 1);
    int attempt;
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "a", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_complete(store, id, "w1", "a", NULL, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "b", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_fail(store, id, "w1", "b", "boom", err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_begin(store, id, "w1", "c", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_run_finish(store, id, "w1", "failed", "step b: boom", err, sizeof err),
                 HS_OK, "%s", err);
    /* it timed out: an hour's run created two hours ago */
    sql1("WITH r AS (UPDATE workflow_runs SET created_at = now() - interval '2 hours',"
         " deadline_at = now() - interval '1 hour' RETURNING 1) SELECT count(*) FROM r");
    cr_assert_eq(wf_store_run_retry(store, id, err, sizeof err), HS_OK, "%s", err);
    cr_assert_str_eq(run_status(id), "pending");
    cr_assert_str_eq(sql1("SELECT deadline_at BETWEEN now() + interval '59 minutes'"
                          " AND now() + interval '61 minutes' FROM workflow_runs"),
                     "t");
    cr_assert_str_eq(sql1("SELECT coalesce(error, 'none') FROM workflow_runs"), "none");
    cr_assert_str_eq(sql1("SELECT string_agg(step_id || ':' || status, ',') FROM workflow_steps"),
                     "a:completed");
    int started = 0;
    cr_assert_eq(claim("w2", 60000, ids, &started), 1);
    cr_assert_eq(started, 1);
    cr_assert_eq(wf_store_run_finish(store, id, "w2", "completed", NULL, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_run_retry(store, id, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert_eq(wf_store_run_retry(store, "x", err, sizeof err), HS_ERR_NOT_FOUND);
}

static void schedule_run(const char *workflow, int64_t ms) {
    char tid[40], id[37];
    snprintf(tid, sizeof tid, "schedule:%lld", (long long)ms);
    json_t *ev = json_pack("{s:s}", "type", "schedule");
    wf_run_new_t r = {.workflow = workflow,
                      .version = "v1",
                      .trigger_id = tid,
                      .trigger_type = "schedule",
                      .event = ev};
    int created;
    cr_assert_eq(wf_store_run_create(store, &r, id, &created, err, sizeof err), HS_OK, "%s", err);
    json_decref(ev);
}

Test(wf_store, last_fire_is_the_latest_schedule_run, .init = setup, .fini = teardown) {
    int64_t ms = 0;
    cr_assert_eq(wf_store_last_fire(store, "nightly", &ms, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(ms, -1);
    schedule_run("nightly", 1700000000000);
    schedule_run("nightly", 1700000300000);
    schedule_run("nightly", 1700000200000);
    schedule_run("hourly", 1800000000000);
    char id[37];
    run_new("nightly", "evt-1", "", 0, 0, id);
    cr_assert_eq(wf_store_last_fire(store, "nightly", &ms, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(ms, 1700000300000);
}

static regex_t rfc3339;

static void assert_time(const json_t *o, const char *key, int set) {
    const json_t *v = json_object_get(o, key);
    cr_assert(v, "%s missing", key);
    if (!set) {
        cr_assert(json_is_null(v), "%s should be null", key);
        return;
    }
    cr_assert(json_is_string(v), "%s not a string", key);
    cr_assert_eq(regexec(&rfc3339, json_string_value(v), 0, NULL, 0), 0, "%s: %s", key,
                 json_string_value(v));
}

static void assert_run_shape(const json_t *r, int started, int finished) {
    static const char *keys[] = {
        "id",    "workflow",   "version",    "status",      "key",     "trigger_id", "trigger_type",
        "depth", "created_at", "started_at", "finished_at", "wake_at", "error"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(json_object_get(r, keys[i]), "run without %s", keys[i]);
    cr_assert(json_is_integer(json_object_get(r, "depth")));
    assert_time(r, "created_at", 1);
    assert_time(r, "started_at", started);
    assert_time(r, "finished_at", finished);
}

Test(wf_store, admin_queries_have_the_documented_shape, .init = setup, .fini = teardown) {
    cr_assert_eq(regcomp(&rfc3339,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    char a[37], b[37], ids[8][37];
    run_new("welcome", "e1", "cust-1", 0, 0, a);
    usleep(2000);
    run_new("welcome", "e2", "cust-2", 0, 0, b);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 2);
    int attempt;
    cr_assert_eq(wf_store_step_begin(store, a, "w1", "contact", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_complete(store, a, "w1", "contact", NULL, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_step_begin(store, a, "w1", "email", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_run_finish(store, a, "w1", "failed", "smtp down", err, sizeof err),
                 HS_OK);

    wf_run_filter_t f = {.limit = 10};
    json_t *list;
    cr_assert_eq(wf_store_runs_list(store, &f, &list, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(list), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), b);
    assert_run_shape(json_array_get(list, 0), 1, 0);
    assert_run_shape(json_array_get(list, 1), 1, 1);
    cr_assert(json_is_null(json_object_get(json_array_get(list, 0), "error")));
    json_decref(list);
    f.status = "failed";
    f.key = "cust-1";
    f.workflow = "welcome";
    cr_assert_eq(wf_store_runs_list(store, &f, &list, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(list), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "error")),
                     "smtp down");
    json_decref(list);
    f = (wf_run_filter_t){.limit = 10, .before_ms = 1};
    cr_assert_eq(wf_store_runs_list(store, &f, &list, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(list), 0);
    json_decref(list);
    f = (wf_run_filter_t){.limit = 0};
    cr_assert_eq(wf_store_runs_list(store, &f, &list, err, sizeof err), HS_ERR_INVALID);
    f = (wf_run_filter_t){.limit = 10, .status = "sleeping"};
    cr_assert_eq(wf_store_runs_list(store, &f, &list, err, sizeof err), HS_ERR_INVALID);

    json_t *run;
    cr_assert_eq(wf_store_run_get(store, a, &run, err, sizeof err), HS_OK, "%s", err);
    assert_run_shape(run, 1, 1);
    cr_assert_str_eq(json_string_value(json_object_get(run, "key")), "cust-1");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "event"), "id")), "e1");
    json_t *steps = json_object_get(run, "steps");
    cr_assert_eq(json_array_size(steps), 2);
    json_t *s0 = json_array_get(steps, 0), *s1 = json_array_get(steps, 1);
    cr_assert_str_eq(json_string_value(json_object_get(s0, "step_id")), "contact");
    cr_assert_eq(json_integer_value(json_object_get(s0, "attempt")), 1);
    cr_assert(json_is_object(json_object_get(s0, "output")));
    assert_time(s0, "finished_at", 1);
    assert_time(s1, "started_at", 1);
    assert_time(s1, "finished_at", 0);
    assert_time(s1, "wake_at", 0);
    cr_assert(json_is_null(json_object_get(s1, "output")));
    json_decref(run);
    cr_assert_eq(wf_store_run_get(store, "not-a-uuid", &run, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_assert_eq(
        wf_store_run_get(store, "9b2f8a44-52c6-4a55-9d0e-7c1e1f2a3b4c", &run, err, sizeof err),
        HS_ERR_NOT_FOUND);

    json_t *stats;
    cr_assert_eq(wf_store_stats(store, &stats, err, sizeof err), HS_OK, "%s", err);
    json_t *welcome = json_object_get(json_object_get(stats, "runs"), "welcome");
    cr_assert(!json_object_get(welcome, "failed"), "ended runs are not counted");
    cr_assert_eq(json_integer_value(json_object_get(welcome, "running")), 1);
    cr_assert(json_is_integer(json_object_get(stats, "timers_due")));
    cr_assert_eq(json_integer_value(json_object_get(stats, "waits")), 0);
    json_decref(stats);
    regfree(&rfc3339);
}

Test(wf_store, ended_runs_are_pruned_after_the_history_window, .init = setup, .fini = teardown) {
    char old_done[37], old_failed[37], recent[37], open_run[37], ids[8][37];
    run_new("h", "e1", "k1", 0, 0, old_done);
    run_new("h", "e2", "k2", 0, 0, old_failed);
    run_new("h", "e3", "k3", 0, 0, recent);
    run_new("h", "e4", "k4", 0, 0, open_run);
    cr_assert_eq(claim("w1", 60000, ids, NULL), 4);
    int attempt;
    cr_assert_eq(wf_store_step_begin(store, old_done, "w1", "a", &attempt, err, sizeof err), HS_OK);
    cr_assert_eq(wf_store_run_finish(store, old_done, "w1", "completed", NULL, err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(wf_store_run_finish(store, old_failed, "w1", "failed", "x", err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(wf_store_run_finish(store, recent, "w1", "completed", NULL, err, sizeof err),
                 HS_OK, "%s", err);
    char q[256];
    snprintf(q, sizeof q,
             "UPDATE workflow_runs SET finished_at = now() - interval '2 days'"
             " WHERE id IN ('%s', '%s') RETURNING 1", old_done, old_failed);
    sql1(q);
    int deleted = -1;
    int64_t day_ago = now_ms() - 86400000;
    cr_assert_eq(wf_store_runs_prune(store, day_ago, 1, &deleted, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_eq(deleted, 1, "a batch is at most its limit");
    cr_assert_eq(wf_store_runs_prune(store, day_ago, 1000, &deleted, err, sizeof err), HS_OK);
    cr_assert_eq(deleted, 1);
    cr_assert_eq(wf_store_runs_prune(store, day_ago, 1000, &deleted, err, sizeof err), HS_OK);
    cr_assert_eq(deleted, 0);
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_runs"), "2", "the recent and the open run stay");
    cr_assert_str_eq(sql1("SELECT count(*) FROM workflow_steps"), "0", "steps go with their run");
    cr_assert_str_eq(run_status(open_run), "running");
}

Test(wf_store, audit_rows_are_appended, .init = setup, .fini = teardown) {
    json_t *detail = json_pack("{s:s}", "reason", "stuck");
    cr_assert_eq(wf_store_audit(store, "ops", "admin", "workflow.run.cancel", "run-1", detail, err,
                                sizeof err),
                 HS_OK, "%s", err);
    json_decref(detail);
    cr_assert_eq(
        wf_store_audit(store, "ops", "admin", "workflow.run.retry", NULL, NULL, err, sizeof err),
        HS_OK, "%s", err);
    cr_assert_str_eq(sql1("SELECT string_agg(action || '/' || target || '/' ||"
                          " coalesce(detail->>'reason', '-'), ',' ORDER BY id) FROM audit"),
                     "workflow.run.cancel/run-1/stuck,workflow.run.retry//-");
    cr_assert_eq(wf_store_audit(store, "ops", "admin", "", NULL, NULL, err, sizeof err),
                 HS_ERR_INVALID);
}

static void admin_sql(const char *sql) {
    PGconn *c = test_db_admin();
    char q[300];
    snprintf(q, sizeof q, sql, test_db_name);
    cr_assert_eq(hs_pg_exec(c, q, err, sizeof err), HS_OK, "%s", err);
    PQfinish(c);
}

Test(wf_store, a_lost_connection_is_unavailable_then_reconnected, .init = setup, .fini = teardown) {
    char where[256], id[37];
    hs_pg_describe(dsn, where, sizeof where);
    cr_assert_eq(wf_store_ping(store, err, sizeof err), HS_OK, "%s", err);
    /* the database refuses connections and our backend is gone: as if the server were down */
    admin_sql("ALTER DATABASE %s ALLOW_CONNECTIONS false");
    admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'");
    for (int i = 0; i < 3; i++) {
        err[0] = 0;
        hs_err_t e = i == 1 ? wf_store_run_cancel(store, "9b2f8a44-52c6-4a55-9d0e-7c1e1f2a3b4c",
                                                  err, sizeof err)
                            : wf_store_ping(store, err, sizeof err);
        cr_assert_eq(e, HS_ERR_UNAVAILABLE, "call %d: %s", i, err);
        cr_assert(strstr(err, where), "call %d names no server: %s", i, err);
    }
    admin_sql("ALTER DATABASE %s ALLOW_CONNECTIONS true");
    cr_assert_eq(wf_store_ping(store, err, sizeof err), HS_OK, "%s", err);
    run_new("w", "e1", "", 0, 0, id);

    /* a backend terminated while idle: the next call fails, the one after reconnects */
    admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'");
    usleep(50 * 1000);
    size_t count = 9;
    wf_run_t *runs = NULL;
    cr_assert_eq(wf_store_claim(store, "w1", 1000, 4, &runs, &count, err, sizeof err),
                 HS_ERR_UNAVAILABLE);
    cr_assert(strstr(err, where), "%s", err);
    cr_assert_eq(count, 0);
    cr_assert_eq(wf_store_claim(store, "w1", 1000, 4, &runs, &count, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_eq(count, 1);
    wf_store_runs_free(runs, count);

    wf_store_t *none =
        wf_store_new("postgresql://postgres@127.0.0.1:1/nowhere", 2, err, sizeof err);
    cr_assert_null(none);
    cr_assert(strstr(err, "postgres at 127.0.0.1:1/nowhere"), "%s", err);
}
