/* The live flag store (hs_flags.h): the file and the topic merged key by key into one set,
 * swapped in when a source changes. Readers take a reference under a lock held only for a
 * pointer copy; building a new set (parse, validate, compile) happens outside it, on the
 * store's thread, which also polls the file, follows the topic and flushes the counters. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hs_flags_internal.h"
#include "hs_log.h"

#define TOPIC_POLL_MS 100 /* longest wait for a record: bounds stop and file latency */
#define BATCH 1000        /* records applied before the set is rebuilt */
#define RETRY_MS 1000     /* between attempts to reach the topic */
#define FLUSH_MS 1000     /* evaluation counters into the metrics registry */

struct hs_flags {
    const hs_config_t *cfg;
    const char *file, *topic; /* borrowed from cfg; "" = none */
    int poll_ms;
    pthread_mutex_t mtx;   /* guards current and the ready/stop state below */
    pthread_cond_t cond;   /* signalled when ready or stop changes */
    hs_flagset_t *current; /* @locks: mtx */
    int ready, stop;       /* @locks: mtx */
    /* @locality: the store's thread once started (hs_flags_new's caller before) */
    json_t *file_doc, *topic_doc;
    struct stat file_st;
    int file_err; /* errno of the last failed stat, so that it is logged once */
    hs_flags_reader_t *reader;
    int assigned;
    pthread_t thread;
    int started;
    hs_metric_t *evals, *reloads, *loaded;
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reloaded(hs_flags_t *f, const char *source, hs_err_t err) {
    const char *labels[] = {source, err ? "rejected" : "ok"};
    hs_metric_add(f->reloads, labels, 1);
}

/* Builds the set of file + topic and swaps it in; the old one goes with its last reader. */
static hs_err_t publish(hs_flags_t *f, char *errstr, size_t n) {
    json_t *doc = hs_flags_doc_merge(f->file_doc, f->topic_doc);
    hs_flagset_t *set = doc ? hs_flagset_new(doc, errstr, n) : NULL;
    json_decref(doc);
    if (!set) return doc ? HS_ERR_INVALID : hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    set->evals = f->evals;
    hs_metric_set(f->loaded, NULL, (double)hs_flagset_count(set));
    pthread_mutex_lock(&f->mtx);
    hs_flagset_t *old = f->current;
    f->current = set;
    pthread_mutex_unlock(&f->mtx);
    hs_flagset_release(old);
    return HS_OK;
}

/* ---- the file ----------------------------------------------------------------------------------
 */

/* Reads and parses the file into a new document, or NULL with errstr. */
static json_t *file_load(const char *path, char *errstr, size_t n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        hs_fail(HS_ERR_IO, errstr, n, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(HS_FLAGS_MAX_DOC_BYTES + 1);
    size_t len = buf ? fread(buf, 1, HS_FLAGS_MAX_DOC_BYTES + 1, fp) : 0;
    int rerr = ferror(fp);
    fclose(fp);
    json_t *doc = NULL;
    json_error_t jerr;
    if (!buf || rerr)
        hs_fail(HS_ERR_IO, errstr, n, "%s: %s", path, buf ? "read error" : "out of memory");
    else if (len > HS_FLAGS_MAX_DOC_BYTES)
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "%s: larger than %d bytes", path,
                HS_FLAGS_MAX_DOC_BYTES);
    else if (!(doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)))
        hs_fail(HS_ERR_INVALID, errstr, n, "%s:%d:%d: not JSON: %s", path, jerr.line, jerr.column,
                jerr.text);
    free(buf);
    return doc;
}

static int same_stat(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Loads the file when it changed; an unreadable or invalid one leaves the flags as they are.
 * Returns 1 when the set must be rebuilt. */
static int file_poll(hs_flags_t *f) {
    char why[600];
    struct stat st;
    if (stat(f->file, &st)) {
        if (errno != f->file_err)
            hs_log(HS_LOG_ERROR, "flags file unreadable: the previous flags stay", "{s:s, s:s}",
                   "file", f->file, "error", strerror(errno));
        f->file_err = errno;
        return 0;
    }
    f->file_err = 0;
    if (same_stat(&st, &f->file_st)) return 0;
    f->file_st = st;
    json_t *doc = file_load(f->file, why, sizeof why);
    hs_err_t err = doc ? hs_flags_doc_check(doc, f->topic_doc, why, sizeof why) : HS_ERR_INVALID;
    reloaded(f, "file", err);
    if (err) {
        hs_log(HS_LOG_ERROR, "flags file rejected: the previous flags stay", "{s:s, s:s}", "file",
               f->file, "error", why);
        json_decref(doc);
        return 0;
    }
    hs_log(HS_LOG_INFO, "flags file loaded", "{s:s, s:i}", "file", f->file, "flags",
           (int)json_object_size(json_object_get(doc, "flags")));
    json_decref(f->file_doc);
    f->file_doc = doc;
    return 1;
}

/* ---- the topic ---------------------------------------------------------------------------------
 */

static void set_ready(hs_flags_t *f) {
    pthread_mutex_lock(&f->mtx);
    f->ready = 1;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mtx);
}

/* Assigns the topic (creating it when missing); logs a failure once per kind of failure. */
static void topic_assign(hs_flags_t *f, hs_err_t *last) {
    char why[600];
    hs_err_t err = hs_flags_reader_assign(f->reader, 1, why, sizeof why);
    if (err && err != *last)
        hs_log(HS_LOG_WARN, "flags topic not reachable yet, retrying", "{s:s, s:s}", "topic",
               f->topic, "error", why);
    *last = err;
    f->assigned = !err;
}

/* Applies the records that are there (up to BATCH); returns 1 when the set must be rebuilt. */
static int topic_poll(hs_flags_t *f) {
    int changed = 0;
    rd_kafka_message_t *m = hs_flags_reader_next(f->reader, TOPIC_POLL_MS);
    for (int i = 0; m && i < BATCH; i++) {
        hs_err_t err = hs_flags_record_apply(f->topic_doc, f->file_doc, m);
        reloaded(f, "topic", err);
        changed |= !err;
        rd_kafka_message_destroy(m);
        m = i + 1 < BATCH ? hs_flags_reader_next(f->reader, 0) : NULL;
    }
    return changed;
}

/* Sleeps up to ms unless stopped; returns 1 when stopped. */
static int wait_stop(hs_flags_t *f, long long ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_mutex_lock(&f->mtx);
    if (!f->stop) pthread_cond_timedwait(&f->cond, &f->mtx, &until);
    int stop = f->stop;
    pthread_mutex_unlock(&f->mtx);
    return stop;
}

static void *store_main(void *arg) {
    hs_flags_t *f = arg;
    long long next_file = now_ms() + f->poll_ms, next_flush = now_ms() + FLUSH_MS, retry = 0;
    hs_err_t last = HS_OK;
    for (;;) {
        int changed = 0;
        long long now = now_ms();
        if (f->reader && !f->assigned && now >= retry) {
            topic_assign(f, &last);
            retry = now + RETRY_MS;
        }
        if (f->assigned) {
            changed |= topic_poll(f);
            if (hs_flags_reader_at_end(f->reader) && !f->ready) set_ready(f);
        }
        if (*f->file && now_ms() >= next_file) {
            changed |= file_poll(f);
            next_file = now_ms() + f->poll_ms;
        }
        char why[600];
        if (changed && publish(f, why, sizeof why))
            hs_log(HS_LOG_ERROR, "flags: cannot build the new set", "{s:s}", "error", why);
        if (now_ms() >= next_flush) {
            hs_flagset_t *s = hs_flags_snapshot(f);
            hs_flagset_flush(s);
            hs_flagset_release(s);
            next_flush = now_ms() + FLUSH_MS;
        }
        long long nap = next_file < next_flush ? next_file : next_flush;
        if (!*f->file) nap = next_flush;
        if (f->reader && !f->assigned && retry < nap) nap = retry;
        nap -= now_ms();
        if (wait_stop(f, f->assigned ? 0 : nap > 0 ? nap : 0)) break;
    }
    return NULL;
}

/* ---- the API -----------------------------------------------------------------------------------
 */

hs_flags_t *hs_flags_new(const hs_config_t *cfg, char *errstr, size_t n) {
    hs_flags_t *f = calloc(1, sizeof *f);
    if (!f) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return NULL;
    }
    f->cfg = cfg;
    f->file = hs_config_str(cfg, "flags.file");
    f->topic = hs_config_str(cfg, "flags.topic");
    f->poll_ms = (int)hs_config_int(cfg, "flags.poll_ms");
    f->ready = !*f->topic;
    pthread_mutex_init(&f->mtx, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->evals = hs_metrics_counter("hs_flag_evaluations_total",
                                  "Flag evaluations by flag, variant and reason (flagd's).",
                                  "flag,variant,reason");
    f->reloads = hs_metrics_counter("hs_flag_reloads_total",
                                    "Changes of a flags source (a file load, a topic record) and "
                                    "whether they were applied (ok) or rejected.",
                                    "source,result");
    f->loaded = hs_metrics_gauge("hs_flags_loaded", "Flags in the current set.", NULL);
    f->topic_doc = json_pack("{s:{}}", "flags");
    f->file_doc = json_pack("{s:{}}", "flags");
    char why[600];
    if (*f->file) {
        json_decref(f->file_doc);
        stat(f->file, &f->file_st);
        f->file_doc = file_load(f->file, errstr, n);
        if (f->file_doc && hs_flags_doc_check(f->file_doc, NULL, why, sizeof why)) {
            hs_fail(HS_ERR_INVALID, errstr, n, "%s: %s", f->file, why);
            json_decref(f->file_doc);
            f->file_doc = NULL;
        }
        if (f->file_doc) reloaded(f, "file", HS_OK);
    }
    if (!f->file_doc || !f->topic_doc || publish(f, errstr, n)) {
        hs_flags_destroy(f);
        return NULL;
    }
    return f;
}

hs_err_t hs_flags_start(hs_flags_t *f, char *errstr, size_t n) {
    if (f->started) return HS_OK;
    if (*f->topic && !(f->reader = hs_flags_reader_new(f->cfg, HS_FLAGS_FOLLOW_FETCH_WAIT_MS, errstr, n))) return HS_ERR_INVALID;
    if (pthread_create(&f->thread, NULL, store_main, f))
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "flags: cannot start a thread");
    f->started = 1;
    return HS_OK;
}

hs_err_t hs_flags_wait_ready(hs_flags_t *f, int timeout_ms, char *errstr, size_t n) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_mutex_lock(&f->mtx);
    int rc = 0;
    while (!f->ready && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&f->cond, &f->mtx, &until);
    int ready = f->ready;
    pthread_mutex_unlock(&f->mtx);
    if (ready) return HS_OK;
    return hs_fail(HS_ERR_TIMEOUT, errstr, n, "flags topic %s not read to its end within %d ms",
                   f->topic, timeout_ms);
}

hs_flagset_t *hs_flags_snapshot(hs_flags_t *f) {
    pthread_mutex_lock(&f->mtx);
    hs_flagset_t *s = hs_flagset_ref(f->current);
    pthread_mutex_unlock(&f->mtx);
    return s;
}

int hs_flags_bool(hs_flags_t *f, const char *key, const json_t *ctx, int def) {
    hs_flagset_t *s = hs_flags_snapshot(f);
    int v = hs_flagset_bool(s, key, ctx, def);
    hs_flagset_release(s);
    return v;
}

int hs_flags_integration_enabled(hs_flags_t *f, const char *name, const json_t *ctx) {
    char key[300];
    snprintf(key, sizeof key, "integration.%s.enabled", name);
    hs_flagset_t *s = hs_flags_snapshot(f);
    hs_flag_result_t r;
    hs_flagset_eval(s, key, ctx, &r);
    int on = r.reason == HS_FLAG_REASON_DISABLED ? 0 : json_is_false(r.value) ? 0 : 1;
    hs_flagset_release(s);
    return on;
}

void hs_flags_destroy(hs_flags_t *f) {
    if (!f) return;
    if (f->started) {
        pthread_mutex_lock(&f->mtx);
        f->stop = 1;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->mtx);
        pthread_join(f->thread, NULL);
    }
    hs_flags_reader_destroy(f->reader);
    hs_flagset_release(f->current);
    json_decref(f->file_doc);
    json_decref(f->topic_doc);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mtx);
    free(f);
}
