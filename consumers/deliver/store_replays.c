/* Delivery store: replays (created by the admin API, claimed by one runner, cancellable) and
 * the admin audit trail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_envelope.h"
#include "store_internal.h"

#define REPLAY_COLS                                                                                \
    "id, kind, endpoint_id, event_id, topic, from_ms, to_ms, since_ms, state, total, "             \
    "done, " STORE_MS("created_at") ", " STORE_MS("started_at") ", " STORE_MS(                     \
        "finished_at") ", error"

static void replay_from_row(const PGresult *res, int r, deliver_replay_t *out) {
    memset(out, 0, sizeof *out);
    store_copy(res, r, 0, out->id, sizeof out->id);
    store_copy(res, r, 1, out->kind, sizeof out->kind);
    store_copy(res, r, 2, out->endpoint_id, sizeof out->endpoint_id);
    store_copy(res, r, 3, out->event_id, sizeof out->event_id);
    store_copy(res, r, 4, out->topic, sizeof out->topic);
    out->from_ms = store_i64(res, r, 5);
    out->to_ms = store_i64(res, r, 6);
    out->since_ms = store_i64(res, r, 7);
    store_copy(res, r, 8, out->state, sizeof out->state);
    out->total = store_i64(res, r, 9);
    out->done = store_i64(res, r, 10);
    out->created_ms = store_i64(res, r, 11);
    out->started_ms = store_i64(res, r, 12);
    out->finished_ms = store_i64(res, r, 13);
    store_copy(res, r, 14, out->error, sizeof out->error);
}

static void set_time(json_t *o, const char *key, int64_t ms) {
    if (!ms) return;
    char t[40];
    hs_envelope_time_format(ms, t, sizeof t);
    json_object_set_new(o, key, json_string(t));
}

json_t *deliver_replay_json(const deliver_replay_t *r) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", r->id, "kind", r->kind,
                          "endpoint_id", r->endpoint_id, "state", r->state, "total",
                          (json_int_t)r->total, "done", (json_int_t)r->done);
    if (!o) return NULL;
    if (!strcmp(r->kind, "event")) json_object_set_new(o, "event_id", json_string(r->event_id));
    if (!strcmp(r->kind, "range")) {
        json_object_set_new(o, "topic", json_string(r->topic));
        json_object_set_new(o, "from_ms", json_integer(r->from_ms));
        json_object_set_new(o, "to_ms", json_integer(r->to_ms));
    }
    if (!strcmp(r->kind, "recover")) json_object_set_new(o, "since_ms", json_integer(r->since_ms));
    set_time(o, "created_at", r->created_ms);
    set_time(o, "started_at", r->started_ms);
    set_time(o, "finished_at", r->finished_ms);
    if (r->error[0]) json_object_set_new(o, "error", json_string(r->error));
    if (!strcmp(r->state, "running") && r->started_ms && r->done > 0 && r->total >= r->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double elapsed = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (double)r->started_ms / 1e3;
        if (elapsed < 0) elapsed = 0;
        double eta = elapsed / (double)r->done * (double)(r->total - r->done);
        json_object_set_new(o, "eta_s", json_real(eta));
    }
    return o;
}

/* What each kind needs; returns NULL when r is complete, else the complaint. */
static const char *replay_incomplete(const deliver_replay_t *r) {
    if (!strcmp(r->kind, "event")) return r->event_id[0] ? NULL : "kind event needs an event_id";
    if (!strcmp(r->kind, "range")) {
        if (!r->topic[0]) return "kind range needs a topic";
        return r->from_ms <= r->to_ms ? NULL : "kind range needs from <= to";
    }
    if (!strcmp(r->kind, "recover")) return NULL;
    return "kind must be event, range or recover";
}

hs_err_t deliver_store_replay_create(deliver_store_t *s, deliver_replay_t *r, char *errstr,
                                     size_t n) {
    const char *why = replay_incomplete(r);
    if (why) return hs_fail(HS_ERR_INVALID, errstr, n, "replay: %s", why);
    char id[DELIVER_ID_LEN], from[24], to[24], since[24];
    store_new_id("rp_", id);
    snprintf(from, sizeof from, "%lld", (long long)r->from_ms);
    snprintf(to, sizeof to, "%lld", (long long)r->to_ms);
    snprintf(since, sizeof since, "%lld", (long long)r->since_ms);
    const char *params[] = {id, r->kind, r->endpoint_id, r->event_id, r->topic, from, to, since};
    PGresult *res;
    hs_err_t err = store_query(
        s,
        "INSERT INTO replays (id, kind, endpoint_id, event_id, topic, from_ms, to_ms, since_ms)"
        " SELECT $1, $2, $3, $4, $5, $6, $7, $8"
        " WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = $3)"
        " RETURNING " STORE_MS("created_at"),
        8, params, &res, errstr, n);
    if (err) return err;
    if (!PQntuples(res)) {
        PQclear(res);
        return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "endpoint %s not found", r->endpoint_id);
    }
    memcpy(r->id, id, sizeof r->id);
    snprintf(r->state, sizeof r->state, "pending");
    r->created_ms = store_i64(res, 0, 0);
    r->started_ms = r->finished_ms = r->total = r->done = 0;
    r->error[0] = 0;
    PQclear(res);
    return HS_OK;
}

hs_err_t deliver_store_replay_get(deliver_store_t *s, const char *id, deliver_replay_t *out,
                                  char *errstr, size_t n) {
    const char *params[] = {id};
    PGresult *res;
    hs_err_t err = store_query(s, "SELECT " REPLAY_COLS " FROM replays WHERE id = $1", 1, params,
                               &res, errstr, n);
    if (err) return err;
    if (!PQntuples(res)) {
        PQclear(res);
        return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "replay %s not found", id);
    }
    replay_from_row(res, 0, out);
    PQclear(res);
    return HS_OK;
}

hs_err_t deliver_store_replay_claim(deliver_store_t *s, deliver_replay_t *out, int *found,
                                    char *errstr, size_t n) {
    PGresult *res;
    *found = 0;
    hs_err_t err =
        store_query(s,
                    "UPDATE replays SET state = 'running', started_at = now() WHERE id = ("
                    " SELECT id FROM replays WHERE state = 'pending' ORDER BY created_at, id"
                    " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " REPLAY_COLS,
                    0, NULL, &res, errstr, n);
    if (err) return err;
    if (PQntuples(res)) {
        replay_from_row(res, 0, out);
        *found = 1;
    }
    PQclear(res);
    return HS_OK;
}

/* After an update that touched no row: why (unknown replay, or in which state it is). */
static hs_err_t not_changed(deliver_store_t *s, const char *id, const char *verb, char *errstr,
                            size_t n) {
    deliver_replay_t cur;
    hs_err_t err = deliver_store_replay_get(s, id, &cur, errstr, n);
    if (err) return err;
    return hs_fail(HS_ERR_CONFLICT, errstr, n, "replay %s is %s: cannot %s it", id, cur.state,
                   verb);
}

static const char *const progress_states[] = {"running", "done", "failed"};

hs_err_t deliver_store_replay_progress(deliver_store_t *s, const deliver_replay_t *r, char *errstr,
                                       size_t n) {
    size_t i = 0, count = sizeof progress_states / sizeof progress_states[0];
    while (i < count && strcmp(r->state, progress_states[i]))
        i++;
    if (i == count)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "replay %s: state %s is not running, done or "
                       "failed",
                       r->id, r->state);
    char total[24], done[24];
    snprintf(total, sizeof total, "%lld", (long long)r->total);
    snprintf(done, sizeof done, "%lld", (long long)r->done);
    const char *params[] = {r->id, total, done, r->state, r->error};
    PGresult *res;
    hs_err_t err = store_query(s,
                               "UPDATE replays SET total = $2, done = $3, state = $4, error = $5,"
                               " finished_at = CASE WHEN $4 = 'running' THEN NULL ELSE now() END"
                               " WHERE id = $1 AND state = 'running'",
                               5, params, &res, errstr, n);
    if (err) return err;
    int touched = (int)strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return touched ? HS_OK : not_changed(s, r->id, "update", errstr, n);
}

hs_err_t deliver_store_replay_cancel(deliver_store_t *s, const char *id, char *errstr, size_t n) {
    const char *params[] = {id};
    PGresult *res;
    hs_err_t err = store_query(s,
                               "UPDATE replays SET state = 'cancelled', finished_at = now()"
                               " WHERE id = $1 AND state IN ('pending', 'running')",
                               1, params, &res, errstr, n);
    if (err) return err;
    int touched = (int)strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return touched ? HS_OK : not_changed(s, id, "cancel", errstr, n);
}

/* ---- audit ---- */

hs_err_t deliver_store_audit(deliver_store_t *s, const char *actor, const char *role,
                             const char *action, const char *target, const json_t *detail,
                             char *errstr, size_t n) {
    char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *params[] = {actor ? actor : "", role ? role : "", action ? action : "",
                            target ? target : "", d};
    PGresult *res;
    hs_err_t err = store_query(s,
                               "INSERT INTO audit (actor, role, action, target, detail)"
                               " VALUES ($1, $2, $3, $4, $5::jsonb)",
                               5, params, &res, errstr, n);
    free(d);
    if (!err) PQclear(res);
    return err;
}

hs_err_t deliver_store_audit_list(deliver_store_t *s, int limit, json_t **out, char *errstr,
                                  size_t n) {
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit >= 1 && limit <= 1000 ? limit : 100);
    const char *params[] = {lim};
    PGresult *res;
    *out = NULL;
    hs_err_t err = store_query(
        s,
        "SELECT id, " STORE_MS("at") ", actor, role, action, target,"
                                     " detail::text FROM audit ORDER BY id DESC LIMIT $1::int",
        1, params, &res, errstr, n);
    if (err) return err;
    json_t *arr = json_array();
    for (int r = 0; r < PQntuples(res); r++) {
        char at[40];
        hs_envelope_time_format(store_i64(res, r, 1), at, sizeof at);
        json_t *detail = PQgetisnull(res, r, 6)
                             ? NULL
                             : json_loads(PQgetvalue(res, r, 6), JSON_DECODE_ANY, NULL);
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o}", "id",
                                             (json_int_t)store_i64(res, r, 0), "at", at, "actor",
                                             PQgetvalue(res, r, 2), "role", PQgetvalue(res, r, 3),
                                             "action", PQgetvalue(res, r, 4), "target",
                                             PQgetvalue(res, r, 5), "detail",
                                             detail ? detail : json_null()));
    }
    PQclear(res);
    *out = arr;
    return HS_OK;
}
