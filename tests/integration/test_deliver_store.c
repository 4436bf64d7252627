/* The delivery store against the stack's Postgres, each test in a private database (replay
 * claims and the audit list are global, and a running deliver service must not claim ours). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../consumers/deliver/store.h"
#include "hs_pg.h"
#include "test_db.h"

static char err[512];
static char dsn[512];
static hs_secretbox_key_t key;
static deliver_store_t *store;

static void setup(void) {
    test_db_create("hs_deliver_store", dsn, sizeof dsn);
    cr_assert_eq(
        hs_secretbox_key_parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                               &key, err, sizeof err),
        HS_OK, "%s", err);
    store = deliver_store_new(dsn, &key, 4, err, sizeof err);
    cr_assert(store, "%s", err);
}

static void teardown(void) {
    deliver_store_destroy(store);
    store = NULL;
    test_db_drop();
}

static PGconn *direct(void) {
    PGconn *c = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert(c, "%s", err);
    return c;
}

static long long scalar(const char *sql) {
    PGconn *c = direct();
    PGresult *res = hs_pg_query(c, sql, 0, NULL, err, sizeof err);
    cr_assert(res, "%s", err);
    long long v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(c);
    return v;
}

static char *types2[] = {"order.*", "customer.created"};

static void make_endpoint(deliver_endpoint_t *e, const char *url, const char *secret) {
    memset(e, 0, sizeof *e);
    e->url = (char *)url;
    e->description = (char *)"test endpoint";
    e->event_types = types2;
    e->n_event_types = 2;
    e->enabled = 1;
    e->rate_limit = 12.5;
    e->max_in_flight = 3;
    e->ordered = 1;
    snprintf(e->policy, sizeof e->policy, "%s", "10ms,20ms");
    cr_assert_eq(deliver_store_endpoint_create(store, e, secret, err, sizeof err), HS_OK, "%s",
                 err);
}

static int64_t version(void) {
    int64_t v = 0;
    cr_assert_eq(deliver_store_version(store, &v, err, sizeof err), HS_OK, "%s", err);
    return v;
}

Test(deliver_store, endpoint_create_get_list_update_delete, .init = setup, .fini = teardown) {
    deliver_endpoint_t e;
    make_endpoint(&e, "https://example.com/hook", "whsec_c2VjcmV0MQ==");
    cr_assert(!strncmp(e.id, "ep_", 3) && strlen(e.id) == 29, "%s", e.id);
    cr_assert(e.created_ms > 0 && e.updated_ms >= e.created_ms);

    deliver_endpoint_t g;
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_str_eq(g.url, "https://example.com/hook");
    cr_assert_str_eq(g.description, "test endpoint");
    cr_assert_eq(g.n_event_types, 2);
    cr_assert_str_eq(g.event_types[0], "order.*");
    cr_assert_str_eq(g.event_types[1], "customer.created");
    cr_assert_null(g.filter);
    cr_assert(g.enabled && g.ordered);
    cr_assert_float_eq(g.rate_limit, 12.5, 1e-9);
    cr_assert_eq(g.max_in_flight, 3);
    cr_assert_str_eq(g.policy, "10ms,20ms");
    cr_assert_eq(g.nsecrets, 1);
    cr_assert_str_eq(g.secrets[0], "whsec_c2VjcmV0MQ==");
    json_t *j = deliver_endpoint_json(&g);
    char *text = json_dumps(j, 0);
    cr_assert(!strstr(text, "whsec_"), "secret in the API view: %s", text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), e.id);
    free(text);
    json_decref(j);

    /* update replaces the mutable fields */
    char *types1[] = {"*"};
    char **owned = g.event_types;
    size_t nowned = g.n_event_types;
    g.event_types = types1;
    g.n_event_types = 1;
    free(g.url);
    g.url = strdup("https://example.org/other");
    g.filter = json_pack("{s:[{s:s}, s]}", "==", "var", "data.currency", "EUR");
    g.rate_limit = 0;
    g.ordered = 0;
    cr_assert_eq(deliver_store_endpoint_update(store, &g, err, sizeof err), HS_OK, "%s", err);
    g.event_types = owned; /* clear frees only what the store allocated */
    g.n_event_types = nowned;
    deliver_endpoint_clear(&g);

    deliver_endpoint_t u;
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &u, err, sizeof err), HS_OK, "%s", err);
    cr_assert_str_eq(u.url, "https://example.org/other");
    cr_assert_eq(u.n_event_types, 1);
    cr_assert_str_eq(u.event_types[0], "*");
    cr_assert(u.filter && json_is_object(u.filter));
    cr_assert_eq(u.ordered, 0);
    cr_assert_eq(u.created_ms, e.created_ms);

    deliver_endpoint_t second;
    make_endpoint(&second, "https://example.net/2", "whsec_Mg==");
    deliver_endpoint_t *list;
    size_t n;
    cr_assert_eq(deliver_store_endpoint_list(store, &list, &n, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[0].id, e.id);
    cr_assert_str_eq(list[1].id, second.id);
    cr_assert_str_eq(list[1].secrets[0], "whsec_Mg==");
    for (size_t i = 0; i < n; i++)
        deliver_endpoint_clear(&list[i]);
    free(list);

    cr_assert_eq(deliver_store_endpoint_delete(store, e.id, err, sizeof err), HS_OK, "%s", err);
    deliver_endpoint_t gone;
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &gone, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_assert(strstr(err, e.id), "%s", err);
    cr_assert_eq(deliver_store_endpoint_delete(store, e.id, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_assert_eq(deliver_store_endpoint_update(store, &u, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_assert_eq(scalar("SELECT count(*) FROM endpoint_secrets"), 1, "cascade left secrets");
    deliver_endpoint_clear(&u);
}

Test(deliver_store, bad_endpoints_are_refused, .init = setup, .fini = teardown) {
    deliver_endpoint_t e = {0};
    e.url = (char *)"https://example.com/";
    cr_assert_eq(deliver_store_endpoint_create(store, &e, NULL, err, sizeof err), HS_ERR_INVALID);
    cr_assert_eq(deliver_store_endpoint_create(store, &e, "", err, sizeof err), HS_ERR_INVALID);
    e.url = NULL;
    cr_assert_eq(deliver_store_endpoint_create(store, &e, "whsec_x", err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "url"), "%s", err);
    e.url = (char *)"https://example.com/";
    e.rate_limit = -1;
    cr_assert_eq(deliver_store_endpoint_create(store, &e, "whsec_x", err, sizeof err),
                 HS_ERR_INVALID, "%s", err);
    cr_assert_eq(scalar("SELECT count(*) FROM endpoints"), 0);
}

Test(deliver_store, secrets_are_encrypted_at_rest, .init = setup, .fini = teardown) {
    deliver_endpoint_t e;
    make_endpoint(&e, "https://example.com/", "whsec_cGxhaW50ZXh0LXNlY3JldA==");
    PGconn *c = direct();
    PGresult *res =
        hs_pg_query(c, "SELECT secret_enc FROM endpoint_secrets", 0, NULL, err, sizeof err);
    cr_assert(res, "%s", err);
    const char *raw = PQgetvalue(res, 0, 0);
    cr_assert(!strstr(raw, "whsec_") && !strstr(raw, "cGxhaW50ZXh0"), "plaintext at rest: %s", raw);
    cr_assert(!strncmp(raw, "v1.", 3), "%s", raw);
    PQclear(res);
    PQfinish(c);

    hs_secretbox_key_t other;
    memset(&other, 0x42, sizeof other);
    deliver_store_t *wrong = deliver_store_new(dsn, &other, 1, err, sizeof err);
    cr_assert(wrong, "%s", err);
    /* a wrong master key costs the endpoint its secrets (named why), never garbage */
    deliver_endpoint_t g;
    cr_assert_eq(deliver_store_endpoint_get(wrong, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.nsecrets, 0);
    cr_assert(strstr(g.secret_error, "deliver.master_key") && strstr(g.secret_error, e.id), "%s",
              g.secret_error);
    cr_assert(!strstr(g.secret_error, "whsec_"), "%s", g.secret_error);
    deliver_endpoint_clear(&g);
    deliver_endpoint_t *list;
    size_t n;
    cr_assert_eq(deliver_store_endpoint_list(wrong, &list, &n, err, sizeof err), HS_OK, "%s", err);
    size_t unusable = 0;
    for (size_t i = 0; i < n; i++) {
        unusable += list[i].nsecrets == 0 && list[i].secret_error[0];
        deliver_endpoint_clear(&list[i]);
    }
    free(list);
    cr_assert_geq(unusable, 1);
    deliver_store_destroy(wrong);

    /* a sealed secret moved to another endpoint does not open there (aad = endpoint id) */
    deliver_endpoint_t b;
    make_endpoint(&b, "https://example.com/b", "whsec_Yg==");
    c = direct();
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE endpoint_secrets SET secret_enc = (SELECT secret_enc FROM endpoint_secrets"
             " WHERE endpoint_id = '%s') WHERE endpoint_id = '%s'",
             e.id, b.id);
    cr_assert_eq(hs_pg_exec(c, sql, err, sizeof err), HS_OK, "%s", err);
    PQfinish(c);
    cr_assert_eq(deliver_store_endpoint_get(store, b.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.nsecrets, 0);
    cr_assert(g.secret_error[0]);
    deliver_endpoint_clear(&g);
}

Test(deliver_store, rotation_keeps_the_old_secret_for_the_grace, .init = setup, .fini = teardown) {
    deliver_endpoint_t e, g;
    make_endpoint(&e, "https://example.com/", "whsec_b2xk");
    cr_assert_eq(deliver_store_secret_rotate(store, e.id, "whsec_bmV3", 1, err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.nsecrets, 2);
    cr_assert_str_eq(g.secrets[0], "whsec_bmV3");
    cr_assert_str_eq(g.secrets[1], "whsec_b2xk");
    deliver_endpoint_clear(&g);
    int64_t v = version();

    usleep(1200 * 1000);
    cr_assert_neq(version(), v, "an expiry must change the version");
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.nsecrets, 1);
    cr_assert_str_eq(g.secrets[0], "whsec_bmV3");
    deliver_endpoint_clear(&g);

    /* many rotations within the grace keep at most DELIVER_MAX_SECRETS, newest first */
    for (int i = 0; i < 12; i++) {
        char s[32];
        snprintf(s, sizeof s, "whsec_%d", i);
        cr_assert_eq(deliver_store_secret_rotate(store, e.id, s, 3600, err, sizeof err), HS_OK,
                     "%s", err);
    }
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.nsecrets, DELIVER_MAX_SECRETS);
    cr_assert_str_eq(g.secrets[0], "whsec_11");
    cr_assert_str_eq(g.secrets[7], "whsec_4");
    deliver_endpoint_clear(&g);

    /* grace 0: the previous secrets stop at once */
    cr_assert_eq(deliver_store_secret_rotate(store, e.id, "whsec_last", 0, err, sizeof err), HS_OK);
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.nsecrets, 1);
    cr_assert_str_eq(g.secrets[0], "whsec_last");
    deliver_endpoint_clear(&g);

    cr_assert_eq(deliver_store_secret_rotate(store, "ep_nope", "whsec_x", 10, err, sizeof err),
                 HS_ERR_NOT_FOUND);
    cr_assert_eq(deliver_store_secret_rotate(store, e.id, "", 10, err, sizeof err), HS_ERR_INVALID);
}

Test(deliver_store, set_enabled_and_version_changes, .init = setup, .fini = teardown) {
    int64_t v0 = version();
    cr_assert_eq(version(), v0, "no change, same version");
    deliver_endpoint_t e, g;
    make_endpoint(&e, "https://example.com/", "whsec_eA==");
    int64_t v1 = version();
    cr_assert_neq(v1, v0);

    cr_assert_eq(deliver_store_endpoint_set_enabled(store, e.id, 0, "410 Gone", err, sizeof err),
                 HS_OK, "%s", err);
    int64_t v2 = version();
    cr_assert_neq(v2, v1);
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.enabled, 0);
    cr_assert_str_eq(g.disabled_reason, "410 Gone");
    deliver_endpoint_clear(&g);

    cr_assert_eq(deliver_store_endpoint_set_enabled(store, e.id, 1, NULL, err, sizeof err), HS_OK);
    int64_t v3 = version();
    cr_assert_neq(v3, v2);
    cr_assert_eq(deliver_store_endpoint_get(store, e.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.enabled, 1);
    cr_assert_str_eq(g.disabled_reason, "");
    cr_assert_eq(deliver_store_endpoint_update(store, &g, err, sizeof err), HS_OK, "%s", err);
    int64_t v4 = version();
    cr_assert_neq(v4, v3);
    deliver_endpoint_clear(&g);
    cr_assert_eq(deliver_store_secret_rotate(store, e.id, "whsec_eQ==", 60, err, sizeof err),
                 HS_OK);
    int64_t v5 = version();
    cr_assert_neq(v5, v4);
    cr_assert_eq(deliver_store_endpoint_delete(store, e.id, err, sizeof err), HS_OK);
    cr_assert_neq(version(), v5);
    cr_assert_eq(deliver_store_endpoint_set_enabled(store, e.id, 0, "x", err, sizeof err),
                 HS_ERR_NOT_FOUND);
}

static void attempt(deliver_attempt_t *a, const char *ep, const char *event, const char *status,
                    int64_t at_ms) {
    memset(a, 0, sizeof *a);
    snprintf(a->endpoint_id, sizeof a->endpoint_id, "%s", ep);
    snprintf(a->event_id, sizeof a->event_id, "%s", event);
    snprintf(a->event_type, sizeof a->event_type, "order.placed");
    snprintf(a->topic, sizeof a->topic, "hs.events.orders");
    a->partition = 2;
    a->offset = 100;
    a->attempt = 1;
    snprintf(a->status, sizeof a->status, "%s", status);
    a->http_status = 500;
    a->latency_ms = 12;
    snprintf(a->error, sizeof a->error, "HTTP 500");
    a->at_ms = at_ms;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(deliver_store, attempts_are_written_in_batches, .init = setup, .fini = teardown) {
    deliver_attempt_t a;
    attempt(&a, "ep_batch", "", "succeeded", 0);
    double t0 = seconds();
    for (int i = 0; i < 10000; i++) {
        snprintf(a.event_id, sizeof a.event_id, "evt-%d", i);
        a.offset = i;
        deliver_store_attempt_add(store, &a);
    }
    double t1 = seconds();
    cr_assert_eq(deliver_store_attempt_flush(store, err, sizeof err), HS_OK, "%s", err);
    double t2 = seconds();
    cr_log_info("attempt log: 10000 rows queued in %.1f ms, written at %.0f rows/s",
                (t1 - t0) * 1e3, 10000 / (t2 - t0));
    fprintf(stderr, "attempt log: 10000 rows queued in %.1f ms, written at %.0f rows/s\n",
            (t1 - t0) * 1e3, 10000 / (t2 - t0));
    cr_assert_eq(scalar("SELECT count(*) FROM attempts WHERE endpoint_id = 'ep_batch'"), 10000);
    cr_assert_eq(scalar("SELECT count(DISTINCT event_id) FROM attempts"), 10000);
    cr_assert_eq(deliver_store_attempt_dropped(store), 0);
}

Test(deliver_store, attempt_text_is_escaped_and_made_utf8, .init = setup, .fini = teardown) {
    deliver_attempt_t a;
    attempt(&a, "ep_text", "evt-text", "failed", 1700000000123);
    snprintf(a.excerpt, sizeof a.excerpt, "a\tb\nc\\d \xff\xfe caf\xc3\xa9 \xe2\x82");
    memset(a.error, 'x', sizeof a.error); /* not NUL-terminated: bounded by the field */
    deliver_store_attempt_add(store, &a);
    cr_assert_eq(deliver_store_attempt_flush(store, err, sizeof err), HS_OK, "%s", err);
    json_t *rows;
    cr_assert_eq(deliver_store_attempts(store, "ep_text", NULL, 0, 10, &rows, err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(json_array_size(rows), 1);
    json_t *r = json_array_get(rows, 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "excerpt")),
                     "a\tb\nc\\d \xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_eq(strlen(json_string_value(json_object_get(r, "error"))), sizeof a.error);
    cr_assert_str_eq(json_string_value(json_object_get(r, "at")), "2023-11-14T22:13:20.123Z");
    cr_assert_eq(json_integer_value(json_object_get(r, "at_ms")), 1700000000123);
    json_decref(rows);
}

Test(deliver_store, a_full_queue_drops_and_counts, .init = setup, .fini = teardown) {
    deliver_store_attempt_queue_set(store, 100);
    /* hold the table so the writer blocks on its first batch and the queue fills up */
    PGconn *c = direct();
    cr_assert_eq(hs_pg_exec(c, "BEGIN", err, sizeof err), HS_OK);
    cr_assert_eq(hs_pg_exec(c, "LOCK TABLE attempts IN ACCESS EXCLUSIVE MODE", err, sizeof err),
                 HS_OK, "%s", err);
    deliver_attempt_t a;
    attempt(&a, "ep_full", "", "succeeded", 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(a.event_id, sizeof a.event_id, "evt-%d", i);
        deliver_store_attempt_add(store, &a);
    }
    uint64_t dropped = deliver_store_attempt_dropped(store);
    cr_assert(dropped >= 800, "dropped %llu", (unsigned long long)dropped);
    cr_assert_eq(hs_pg_exec(c, "COMMIT", err, sizeof err), HS_OK);
    PQfinish(c);
    cr_assert_eq(deliver_store_attempt_flush(store, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(deliver_store_attempt_dropped(store), dropped);
    cr_assert_eq((uint64_t)scalar("SELECT count(*) FROM attempts"), 1000 - dropped);
}

Test(deliver_store, attempts_query_filters, .init = setup, .fini = teardown) {
    const int64_t t = 1700000000000;
    static const struct {
        const char *ep, *event, *status;
        int64_t at;
    } rows[] = {
        {"ep_q", "e1", "retrying", t},          {"ep_q", "e1", "succeeded", t + 1000},
        {"ep_q", "e2", "failed", t + 2000},     {"ep_q", "e3", "retrying", t + 3000},
        {"ep_other", "e9", "failed", t + 4000},
    };
    deliver_attempt_t a;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        attempt(&a, rows[i].ep, rows[i].event, rows[i].status, rows[i].at);
        deliver_store_attempt_add(store, &a);
    }
    cr_assert_eq(deliver_store_attempt_flush(store, err, sizeof err), HS_OK, "%s", err);
    json_t *out;
    cr_assert_eq(deliver_store_attempts(store, "ep_q", NULL, 0, 0, &out, err, sizeof err), HS_OK);
    cr_assert_eq(json_array_size(out), 4);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 0), "event_id")), "e3");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 3), "status")),
                     "retrying");
    json_decref(out);
    cr_assert_eq(deliver_store_attempts(store, "ep_q", "retrying", 0, 10, &out, err, sizeof err),
                 HS_OK);
    cr_assert_eq(json_array_size(out), 2);
    json_decref(out);
    cr_assert_eq(deliver_store_attempts(store, "ep_q", NULL, t + 1000, 10, &out, err, sizeof err),
                 HS_OK);
    cr_assert_eq(json_array_size(out), 3);
    json_decref(out);
    cr_assert_eq(deliver_store_attempts(store, "ep_q", NULL, 0, 1, &out, err, sizeof err), HS_OK);
    cr_assert_eq(json_array_size(out), 1);
    json_decref(out);
    cr_assert_eq(deliver_store_attempts(store, "ep_none", NULL, 0, 10, &out, err, sizeof err),
                 HS_OK);
    cr_assert_eq(json_array_size(out), 0);
    json_decref(out);

    char topic[256];
    int32_t partition;
    int64_t offset;
    cr_assert_eq(deliver_store_event_locate(store, "e9", topic, sizeof topic, &partition, &offset,
                                            err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_str_eq(topic, "hs.events.orders");
    cr_assert_eq(partition, 2);
    cr_assert_eq(offset, 100);
    cr_assert_eq(deliver_store_event_locate(store, "never", topic, sizeof topic, &partition,
                                            &offset, err, sizeof err),
                 HS_ERR_NOT_FOUND);
    cr_assert(strstr(err, "never"), "%s", err);
}

typedef struct {
    char events[16][16];
    int n, stop_after;
} seen_t;

static int collect(const char *event_id, const char *topic, int32_t partition, int64_t offset,
                   void *opaque) {
    seen_t *s = opaque;
    (void)topic, (void)partition, (void)offset;
    snprintf(s->events[s->n++], sizeof s->events[0], "%s", event_id);
    return s->stop_after && s->n >= s->stop_after;
}

Test(deliver_store, recover_each_follows_the_latest_attempt, .init = setup, .fini = teardown) {
    const int64_t t = 1700000000000;
    static const struct {
        const char *event, *status;
        int64_t at;
    } rows[] = {
        {"old", "failed", -5000},                                  /* before since */
        {"fixed", "failed", 1000},   {"fixed", "succeeded", 2000}, /* recovered already */
        {"f", "retrying", 1500},     {"f", "failed", 3000},         {"d", "dead", 2500},
        {"s", "skipped", 4000},      {"pending", "retrying", 3500}, /* still being retried */
        {"back", "succeeded", 1000}, {"back", "failed", 5000},      /* failed again later */
    };
    deliver_attempt_t a;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        attempt(&a, "ep_rec", rows[i].event, rows[i].status, t + rows[i].at);
        deliver_store_attempt_add(store, &a);
    }
    attempt(&a, "ep_else", "x", "failed", t + 1000);
    deliver_store_attempt_add(store, &a);
    cr_assert_eq(deliver_store_attempt_flush(store, err, sizeof err), HS_OK, "%s", err);
    seen_t seen = {0};
    cr_assert_eq(deliver_store_recover_each(store, "ep_rec", t, collect, &seen, err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(seen.n, 4);
    cr_assert_str_eq(seen.events[0], "d");
    cr_assert_str_eq(seen.events[1], "f");
    cr_assert_str_eq(seen.events[2], "s");
    cr_assert_str_eq(seen.events[3], "back");
    seen_t first = {.stop_after = 1};
    cr_assert_eq(deliver_store_recover_each(store, "ep_rec", t, collect, &first, err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(first.n, 1);
    /* the pool connection is usable after an early stop */
    seen_t again = {0};
    cr_assert_eq(
        deliver_store_recover_each(store, "ep_rec", t + 3500, collect, &again, err, sizeof err),
        HS_OK, "%s", err);
    cr_assert_eq(again.n, 2, "%d", again.n);
}

#define CLAIMS 20

typedef struct {
    char ids[CLAIMS][DELIVER_ID_LEN];
    int n;
} claimed_t;

static void *claimer(void *arg) {
    claimed_t *c = arg;
    char e[256];
    for (;;) {
        deliver_replay_t r;
        int found = 0;
        if (deliver_store_replay_claim(store, &r, &found, e, sizeof e) != HS_OK || !found) break;
        if (c->n < CLAIMS) memcpy(c->ids[c->n++], r.id, DELIVER_ID_LEN);
    }
    return NULL;
}

Test(deliver_store, replays_are_claimed_once, .init = setup, .fini = teardown) {
    deliver_endpoint_t e;
    make_endpoint(&e, "https://example.com/", "whsec_cg==");
    char ids[CLAIMS][DELIVER_ID_LEN];
    for (int i = 0; i < CLAIMS; i++) {
        deliver_replay_t r = {0};
        snprintf(r.kind, sizeof r.kind, "recover");
        snprintf(r.endpoint_id, sizeof r.endpoint_id, "%s", e.id);
        r.since_ms = 1;
        cr_assert_eq(deliver_store_replay_create(store, &r, err, sizeof err), HS_OK, "%s", err);
        cr_assert(!strncmp(r.id, "rp_", 3));
        cr_assert_str_eq(r.state, "pending");
        memcpy(ids[i], r.id, DELIVER_ID_LEN);
    }
    claimed_t a = {0}, b = {0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, claimer, &a);
    pthread_create(&tb, NULL, claimer, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.n + b.n, CLAIMS, "%d + %d", a.n, b.n);
    for (int i = 0; i < CLAIMS; i++) {
        int hits = 0;
        for (int k = 0; k < a.n; k++)
            hits += !strcmp(a.ids[k], ids[i]);
        for (int k = 0; k < b.n; k++)
            hits += !strcmp(b.ids[k], ids[i]);
        cr_assert_eq(hits, 1, "replay %s claimed %d times", ids[i], hits);
    }
    cr_assert_eq(scalar("SELECT count(*) FROM replays WHERE state = 'running'"), CLAIMS);
}

Test(deliver_store, replay_progress_and_cancel, .init = setup, .fini = teardown) {
    deliver_endpoint_t e;
    make_endpoint(&e, "https://example.com/", "whsec_cg==");
    deliver_replay_t r = {0};
    snprintf(r.kind, sizeof r.kind, "range");
    snprintf(r.endpoint_id, sizeof r.endpoint_id, "%s", e.id);
    cr_assert_eq(deliver_store_replay_create(store, &r, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "topic"), "%s", err);
    snprintf(r.topic, sizeof r.topic, "hs.events.orders");
    r.from_ms = 1000;
    r.to_ms = 2000;
    cr_assert_eq(deliver_store_replay_create(store, &r, err, sizeof err), HS_OK, "%s", err);

    deliver_replay_t c;
    int found;
    cr_assert_eq(deliver_store_replay_claim(store, &c, &found, err, sizeof err), HS_OK, "%s", err);
    cr_assert(found);
    cr_assert_str_eq(c.id, r.id);
    cr_assert_str_eq(c.state, "running");
    cr_assert_str_eq(c.topic, "hs.events.orders");
    cr_assert_eq(c.from_ms, 1000);
    cr_assert_eq(c.to_ms, 2000);
    cr_assert(c.started_ms > 0);
    cr_assert_eq(deliver_store_replay_claim(store, &c, &found, err, sizeof err), HS_OK);
    cr_assert_eq(found, 0);

    r.total = 100;
    r.done = 25;
    snprintf(r.state, sizeof r.state, "running");
    cr_assert_eq(deliver_store_replay_progress(store, &r, err, sizeof err), HS_OK, "%s", err);
    deliver_replay_t g;
    cr_assert_eq(deliver_store_replay_get(store, r.id, &g, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(g.total, 100);
    cr_assert_eq(g.done, 25);
    json_t *j = deliver_replay_json(&g);
    cr_assert(json_is_real(json_object_get(j, "eta_s")), "running replay without eta_s");
    cr_assert_str_eq(json_string_value(json_object_get(j, "topic")), "hs.events.orders");
    json_decref(j);

    snprintf(r.state, sizeof r.state, "bogus");
    cr_assert_eq(deliver_store_replay_progress(store, &r, err, sizeof err), HS_ERR_INVALID);
    cr_assert_eq(deliver_store_replay_cancel(store, r.id, err, sizeof err), HS_OK, "%s", err);
    snprintf(r.state, sizeof r.state, "running");
    cr_assert_eq(deliver_store_replay_progress(store, &r, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert(strstr(err, "cancelled"), "%s", err);
    cr_assert_eq(deliver_store_replay_cancel(store, r.id, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert_eq(deliver_store_replay_get(store, r.id, &g, err, sizeof err), HS_OK);
    cr_assert_str_eq(g.state, "cancelled");
    cr_assert(g.finished_ms > 0);
    j = deliver_replay_json(&g);
    cr_assert_null(json_object_get(j, "eta_s"));
    json_decref(j);

    cr_assert_eq(deliver_store_replay_get(store, "rp_none", &g, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_assert_eq(deliver_store_replay_cancel(store, "rp_none", err, sizeof err), HS_ERR_NOT_FOUND);
    snprintf(r.id, sizeof r.id, "rp_none");
    cr_assert_eq(deliver_store_replay_progress(store, &r, err, sizeof err), HS_ERR_NOT_FOUND);

    deliver_replay_t bad = {0};
    snprintf(bad.kind, sizeof bad.kind, "event");
    snprintf(bad.event_id, sizeof bad.event_id, "evt-1");
    snprintf(bad.endpoint_id, sizeof bad.endpoint_id, "ep_unknown");
    cr_assert_eq(deliver_store_replay_create(store, &bad, err, sizeof err), HS_ERR_NOT_FOUND);
    snprintf(bad.kind, sizeof bad.kind, "everything");
    cr_assert_eq(deliver_store_replay_create(store, &bad, err, sizeof err), HS_ERR_INVALID);

    /* a finished replay cannot be cancelled */
    deliver_replay_t d = {0};
    snprintf(d.kind, sizeof d.kind, "event");
    snprintf(d.event_id, sizeof d.event_id, "evt-2");
    snprintf(d.endpoint_id, sizeof d.endpoint_id, "%s", e.id);
    cr_assert_eq(deliver_store_replay_create(store, &d, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(deliver_store_replay_claim(store, &c, &found, err, sizeof err), HS_OK);
    cr_assert(found);
    snprintf(d.state, sizeof d.state, "done");
    d.total = d.done = 1;
    cr_assert_eq(deliver_store_replay_progress(store, &d, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(deliver_store_replay_cancel(store, d.id, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert(strstr(err, "done"), "%s", err);
}

Test(deliver_store, audit_add_and_list, .init = setup, .fini = teardown) {
    json_t *detail = json_pack("{s:s, s:i}", "url", "https://example.com/", "n", 3);
    cr_assert_eq(deliver_store_audit(store, "alice", "admin", "endpoint.create", "ep_1", detail,
                                     err, sizeof err),
                 HS_OK, "%s", err);
    json_decref(detail);
    cr_assert_eq(deliver_store_audit(store, "bob", "admin", "endpoint.disable", "ep_1", NULL, err,
                                     sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(deliver_store_audit(store, "carol", "admin", "replay.create", "rp_1", NULL, err,
                                     sizeof err),
                 HS_OK, "%s", err);
    json_t *list;
    cr_assert_eq(deliver_store_audit_list(store, 2, &list, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(list), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "actor")), "carol");
    cr_assert(json_is_null(json_object_get(json_array_get(list, 1), "detail")));
    json_decref(list);
    cr_assert_eq(deliver_store_audit_list(store, 0, &list, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(list), 3);
    json_t *first = json_array_get(list, 2);
    cr_assert_str_eq(json_string_value(json_object_get(first, "action")), "endpoint.create");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(first, "detail"), "n")), 3);
    cr_assert(json_string_value(json_object_get(first, "at")));
    json_decref(list);
}
