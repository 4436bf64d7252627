/* Delivery store: the attempt log. Rows are rendered to COPY text in the caller's thread and
 * appended to one pending buffer; a writer thread swaps the buffer out and sends it with one
 * COPY FROM STDIN, so the delivery path pays a mutex and a memcpy per attempt, never Postgres. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_log.h"
#include "hs_metrics.h"
#include "hs_pg.h"
#include "hs_envelope.h"
#include "store_internal.h"

#define BATCH_ROWS 1000
#define BATCH_WAIT_MS 100
#define DEFAULT_QUEUE_ROWS 100000
#define ROW_MAX 8192 /* a rendered row: every field escaped and every byte replaced by U+FFFD */

static const char copy_sql[] =
    "COPY attempts (endpoint_id, event_id, event_type, topic, partition, \"offset\", attempt,"
    " status, http_status, latency_ms, error, excerpt, replay_id, at) FROM STDIN";

/* @locality: the writer thread owns conn; @locks: mtx guards everything else. */
struct attempt_writer {
    PGconn *conn;
    pthread_t thread;
    pthread_mutex_t mtx;
    pthread_cond_t wake; /* writer waits: rows arrived, flush asked, stop */
    pthread_cond_t done; /* flushers wait: written_seq moved */
    char *buf;           /* pending COPY text */
    size_t len, size, rows, max_rows;
    struct timespec first_at; /* when the oldest pending row was queued */
    uint64_t queued_seq, written_seq, dropped, failed_batches;
    int stop, flush_wanted;
    hs_metric_t *m_dropped, *m_written, *m_batch;
};

/* ---- rendering one row as COPY text ---- */

typedef struct {
    char *p;
    size_t len, size;
} out_t;

static void put(out_t *o, const char *s, size_t len) {
    if (o->len + len >= o->size) return; /* cannot happen within ROW_MAX; never overflow */
    memcpy(o->p + o->len, s, len);
    o->len += len;
}

/* Well-formed UTF-8 multi-byte sequences (RFC 3629 section 4): lead byte range, range of the
 * second byte (excludes overlongs, surrogates, > U+10FFFF), total length. */
static const struct {
    unsigned char lead_lo, lead_hi, next_lo, next_hi;
    size_t len;
} utf8_forms[] = {
    {0xc2, 0xdf, 0x80, 0xbf, 2}, {0xe0, 0xe0, 0xa0, 0xbf, 3}, {0xe1, 0xec, 0x80, 0xbf, 3},
    {0xed, 0xed, 0x80, 0x9f, 3}, {0xee, 0xef, 0x80, 0xbf, 3}, {0xf0, 0xf0, 0x90, 0xbf, 4},
    {0xf1, 0xf3, 0x80, 0xbf, 4}, {0xf4, 0xf4, 0x80, 0x8f, 4},
};

/* Length of the valid UTF-8 sequence at s (at most avail bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
    if (s[0] < 0x80) return 1;
    for (size_t f = 0; f < sizeof utf8_forms / sizeof utf8_forms[0]; f++) {
        if (s[0] < utf8_forms[f].lead_lo || s[0] > utf8_forms[f].lead_hi) continue;
        size_t len = utf8_forms[f].len;
        if (len > avail || s[1] < utf8_forms[f].next_lo || s[1] > utf8_forms[f].next_hi) return 0;
        for (size_t i = 2; i < len; i++)
            if ((s[i] & 0xc0) != 0x80) return 0;
        return len;
    }
    return 0;
}

/* A text field: bounded by max bytes, invalid UTF-8 replaced, COPY specials escaped. */
static void put_text(out_t *o, const char *s, size_t max) {
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strnlen(s, max);
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);
        if (!k) {
            put(o, "\xef\xbf\xbd", 3);
            i++;
            continue;
        }
        if (k == 1 && (u[i] == '\\' || u[i] == '\n' || u[i] == '\r' || u[i] == '\t')) {
            char esc[2] = {'\\', u[i] == '\\'   ? '\\'
                                 : u[i] == '\n' ? 'n'
                                 : u[i] == '\r' ? 'r'
                                                : 't'};
            put(o, esc, 2);
        } else {
            put(o, s + i, k);
        }
        i += k;
    }
}

#define PUT_TEXT(o, field) put_text(o, field, sizeof(field))

static void put_num(out_t *o, long long v, char sep) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%lld%c", v, sep);
    put(o, tmp, (size_t)len);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t render_row(const deliver_attempt_t *a, char *line) {
    out_t o = {line, 0, ROW_MAX};
    PUT_TEXT(&o, a->endpoint_id), put(&o, "\t", 1);
    PUT_TEXT(&o, a->event_id), put(&o, "\t", 1);
    PUT_TEXT(&o, a->event_type), put(&o, "\t", 1);
    PUT_TEXT(&o, a->topic), put(&o, "\t", 1);
    put_num(&o, a->partition, '\t');
    put_num(&o, a->offset, '\t');
    put_num(&o, a->attempt, '\t');
    PUT_TEXT(&o, a->status), put(&o, "\t", 1);
    put_num(&o, a->http_status, '\t');
    put_num(&o, a->latency_ms, '\t');
    PUT_TEXT(&o, a->error), put(&o, "\t", 1);
    PUT_TEXT(&o, a->excerpt), put(&o, "\t", 1);
    PUT_TEXT(&o, a->replay_id), put(&o, "\t", 1);
    int64_t ms = a->at_ms ? a->at_ms : now_ms();
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[64];
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    tl += (size_t)snprintf(ts + tl, sizeof ts - tl, ".%03d+00\n", (int)(ms % 1000));
    put(&o, ts, tl);
    return o.len;
}

/* ---- the queue ---- */

void deliver_store_attempt_add(deliver_store_t *s, const deliver_attempt_t *a) {
    char line[ROW_MAX];
    size_t len = render_row(a, line);
    attempt_writer_t *w = s->writer;
    pthread_mutex_lock(&w->mtx);
    int full = w->rows >= w->max_rows;
    if (!full && w->len + len > w->size) {
        size_t size = w->size ? w->size : 1 << 16;
        while (size < w->len + len)
            size *= 2;
        char *grown = realloc(w->buf, size);
        if (grown)
            w->buf = grown, w->size = size;
        else
            full = 1;
    }
    if (full) {
        w->dropped++;
        pthread_mutex_unlock(&w->mtx);
        hs_metric_add(w->m_dropped, NULL, 1);
        return;
    }
    memcpy(w->buf + w->len, line, len);
    w->len += len;
    w->queued_seq++;
    if (++w->rows == 1) clock_gettime(CLOCK_MONOTONIC, &w->first_at);
    if (w->rows == 1 || w->rows == BATCH_ROWS) pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mtx);
}

void deliver_store_attempt_queue_set(deliver_store_t *s, size_t rows) {
    pthread_mutex_lock(&s->writer->mtx);
    s->writer->max_rows = rows ? rows : 1;
    pthread_mutex_unlock(&s->writer->mtx);
}

uint64_t deliver_store_attempt_dropped(deliver_store_t *s) {
    pthread_mutex_lock(&s->writer->mtx);
    uint64_t d = s->writer->dropped;
    pthread_mutex_unlock(&s->writer->mtx);
    return d;
}

hs_err_t deliver_store_attempt_flush(deliver_store_t *s, char *errstr, size_t n) {
    attempt_writer_t *w = s->writer;
    pthread_mutex_lock(&w->mtx);
    uint64_t target = w->queued_seq, failed = w->failed_batches;
    w->flush_wanted = 1;
    pthread_cond_signal(&w->wake);
    while (w->written_seq < target)
        pthread_cond_wait(&w->done, &w->mtx);
    int lost = w->failed_batches != failed;
    pthread_mutex_unlock(&w->mtx);
    if (lost)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n,
                       "attempt log: a batch could not be written (see the log)");
    return HS_OK;
}

/* ---- the writer thread ---- */

static int copy_batch(PGconn *c, const char *buf, size_t len, char *why, size_t why_size) {
    PGresult *res = PQexec(c, copy_sql);
    int ok = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (ok) ok = PQputCopyData(c, buf, (int)len) == 1;
    if (ok || PQstatus(c) == CONNECTION_OK) {
        ok = PQputCopyEnd(c, ok ? NULL : "attempt batch not sent") == 1 && ok;
        while ((res = PQgetResult(c))) {
            if (PQresultStatus(res) != PGRES_COMMAND_OK) ok = 0;
            if (!ok && !why[0]) snprintf(why, why_size, "%s", PQresultErrorMessage(res));
            PQclear(res);
        }
    }
    if (!ok && !why[0]) snprintf(why, why_size, "%s", PQerrorMessage(c));
    why[strcspn(why, "\n")] = 0;
    return ok;
}

/* Writes one batch; one retry on a fresh connection (a restarted server). Returns 0 on success. */
static int write_batch(attempt_writer_t *w, const char *buf, size_t len, size_t rows) {
    char why[512] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!copy_batch(w->conn, buf, len, why, sizeof why)) {
        if (PQstatus(w->conn) != CONNECTION_OK) PQreset(w->conn);
        why[0] = 0;
        if (!copy_batch(w->conn, buf, len, why, sizeof why)) {
            hs_log(HS_LOG_ERROR, "attempt log batch lost", "{s:i, s:s}", "rows", (int)rows, "error",
                   why);
            hs_metric_add(w->m_dropped, NULL, (double)rows);
            return -1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    hs_log(HS_LOG_DEBUG, "attempt log batch", "{s:i, s:f}", "rows", (int)rows, "ms", ms);
    hs_metric_add(w->m_written, NULL, (double)rows);
    return 0;
}

/* Waits (mtx held) until a batch is due: BATCH_ROWS rows, the oldest BATCH_WAIT_MS old, a flush
 * or stop. */
static void wait_for_batch(attempt_writer_t *w) {
    while (!w->stop && !w->flush_wanted && w->rows < BATCH_ROWS) {
        if (!w->rows) {
            pthread_cond_wait(&w->wake, &w->mtx);
            continue;
        }
        struct timespec due = w->first_at;
        due.tv_nsec += BATCH_WAIT_MS * 1000000L;
        if (due.tv_nsec >= 1000000000L) due.tv_sec++, due.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&w->wake, &w->mtx, &due) == ETIMEDOUT) return;
    }
}

static void *writer_main(void *arg) {
    attempt_writer_t *w = arg;
    char *spare = NULL;
    size_t spare_size = 0;
    pthread_mutex_lock(&w->mtx);
    for (;;) {
        wait_for_batch(w);
        if (!w->rows) {
            w->flush_wanted = 0;
            pthread_cond_broadcast(&w->done);
            if (w->stop) break;
            continue;
        }
        char *buf = w->buf;
        size_t len = w->len, rows = w->rows, size = w->size;
        uint64_t end = w->queued_seq;
        w->buf = spare, w->size = spare_size, w->len = 0, w->rows = 0;
        hs_metric_set(w->m_batch, NULL, (double)rows);
        pthread_mutex_unlock(&w->mtx);
        int failed = write_batch(w, buf, len, rows);
        pthread_mutex_lock(&w->mtx);
        spare = buf, spare_size = size;
        if (failed) w->dropped += rows, w->failed_batches++;
        w->written_seq = end;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mtx);
    free(spare);
    return NULL;
}

attempt_writer_t *attempt_writer_new(const char *dsn, char *errstr, size_t n) {
    attempt_writer_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->conn = hs_pg_connect(dsn, 10, errstr, n);
    if (!w->conn) {
        free(w);
        return NULL;
    }
    w->max_rows = DEFAULT_QUEUE_ROWS;
    w->m_dropped =
        hs_metrics_counter("hs_deliver_attempt_log_dropped_total",
                           "Attempt-log rows dropped: queue full or batch refused", NULL);
    w->m_written = hs_metrics_counter("hs_deliver_attempt_log_written_total",
                                      "Attempt-log rows written to Postgres", NULL);
    w->m_batch = hs_metrics_gauge("hs_deliver_attempt_log_batch_rows",
                                  "Rows of the latest attempt-log batch (queue depth then)", NULL);
    pthread_mutex_init(&w->mtx, NULL);
    pthread_cond_init(&w->done, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "attempt log: cannot start the writer thread");
        PQfinish(w->conn);
        free(w);
        return NULL;
    }
    return w;
}

void attempt_writer_destroy(attempt_writer_t *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mtx);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mtx);
    pthread_join(w->thread, NULL);
    PQfinish(w->conn);
    pthread_mutex_destroy(&w->mtx);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    free(w->buf);
    free(w);
}

/* ---- reading the log ---- */

static json_t *attempt_json(const PGresult *res, int r) {
    char at[40];
    int64_t at_ms = store_i64(res, r, 14);
    hs_envelope_time_format(at_ms, at, sizeof at);
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:s, s:s, s:s, "
        "s:s, s:I}",
        "id", (json_int_t)store_i64(res, r, 0), "endpoint_id", PQgetvalue(res, r, 1), "event_id",
        PQgetvalue(res, r, 2), "event_type", PQgetvalue(res, r, 3), "topic", PQgetvalue(res, r, 4),
        "partition", (json_int_t)store_i64(res, r, 5), "offset", (json_int_t)store_i64(res, r, 6),
        "attempt", (json_int_t)store_i64(res, r, 7), "status", PQgetvalue(res, r, 8), "http_status",
        (json_int_t)store_i64(res, r, 9), "latency_ms", (json_int_t)store_i64(res, r, 10), "error",
        PQgetvalue(res, r, 11), "excerpt", PQgetvalue(res, r, 12), "replay_id",
        PQgetvalue(res, r, 13), "at", at, "at_ms", (json_int_t)at_ms);
}

hs_err_t deliver_store_attempts(deliver_store_t *s, const char *endpoint_id, const char *status,
                                int64_t since_ms, int limit, json_t **out, char *errstr, size_t n) {
    char since[24], lim[16];
    snprintf(since, sizeof since, "%lld", (long long)since_ms);
    snprintf(lim, sizeof lim, "%d", limit >= 1 && limit <= 1000 ? limit : 100);
    const char *params[] = {endpoint_id, status ? status : "", since, lim};
    PGresult *res;
    *out = NULL;
    hs_err_t err = store_query(
        s,
        "SELECT id, endpoint_id, event_id, event_type, topic, partition, \"offset\", attempt,"
        " status, http_status, latency_ms, error, excerpt, replay_id, " STORE_MS(
            "at") " FROM attempts WHERE endpoint_id = $1 AND ($2 = '' OR status = $2)"
                  " AND at >= to_timestamp($3::bigint / 1000.0) ORDER BY at DESC, id DESC LIMIT "
                  "$4::int",
        4, params, &res, errstr, n);
    if (err) return err;
    json_t *arr = json_array();
    for (int r = 0; r < PQntuples(res); r++)
        json_array_append_new(arr, attempt_json(res, r));
    PQclear(res);
    *out = arr;
    return HS_OK;
}

hs_err_t deliver_store_event_locate(deliver_store_t *s, const char *event_id, char *topic,
                                    size_t topic_size, int32_t *partition, int64_t *offset,
                                    char *errstr, size_t n) {
    const char *params[] = {event_id};
    PGresult *res;
    hs_err_t err = store_query(s,
                               "SELECT topic, partition, \"offset\" FROM attempts"
                               " WHERE event_id = $1 ORDER BY at DESC, id DESC LIMIT 1",
                               1, params, &res, errstr, n);
    if (err) return err;
    if (!PQntuples(res)) {
        PQclear(res);
        return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "event %s has no delivery attempt", event_id);
    }
    store_copy(res, 0, 0, topic, topic_size);
    *partition = (int32_t)store_i64(res, 0, 1);
    *offset = store_i64(res, 0, 2);
    PQclear(res);
    return HS_OK;
}

/* The latest attempt per event decides: an event that failed and then succeeded in a later
 * attempt (or replay) is not recovered again. */
static const char recover_sql[] =
    "SELECT event_id, topic, partition, \"offset\" FROM ("
    " SELECT DISTINCT ON (event_id) event_id, topic, partition, \"offset\", status, at, id"
    " FROM attempts WHERE endpoint_id = $1 AND at >= to_timestamp($2::bigint / 1000.0)"
    " ORDER BY event_id, at DESC, id DESC) latest"
    " WHERE status IN ('failed', 'dead', 'skipped') ORDER BY at, id";

/* Rows stream in single-row mode so a recovery of millions of events holds one row at a time. */
hs_err_t deliver_store_recover_each(deliver_store_t *s, const char *endpoint_id, int64_t since_ms,
                                    deliver_locate_fn fn, void *opaque, char *errstr, size_t n) {
    char since[24];
    snprintf(since, sizeof since, "%lld", (long long)since_ms);
    const char *params[] = {endpoint_id, since};
    PGconn *c = store_conn_get(s);
    hs_err_t err = HS_OK;
    if (!PQsendQueryParams(c, recover_sql, 2, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(c)) {
        store_conn_put(s, c);
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "postgres: %s", PQerrorMessage(c));
    }
    int stopped = 0;
    PGresult *res;
    while ((res = PQgetResult(c))) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && !stopped && !err) {
            stopped = fn(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                         (int32_t)store_i64(res, 0, 2), store_i64(res, 0, 3), opaque);
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !err) {
            char why[256];
            snprintf(why, sizeof why, "%s", PQresultErrorMessage(res));
            why[strcspn(why, "\n")] = 0;
            err = hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "postgres: %s", why);
        }
        PQclear(res);
    }
    store_conn_put(s, c);
    return err;
}
