/* hookstream produce: typed events in (JSON), Confluent-wire-format Avro out. Every line is
 * validated and encoded before the first message is sent, so one bad line sends nothing.
 * Each encoding thread writes values and keys straight from the lines' text into an arena of its
 * own (hs_avro_encode_text); librdkafka sends from the arenas without copying. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_envelope.h"
#include "hs_kafka.h"
#include "hs_registry.h"
#include "hs_wire.h"

#define DEFAULT_SOURCE "/hookstream/cli"
#define MAX_LINE_BYTES (4 * 1024 * 1024)
#define MAX_INPUT_BYTES ((size_t)1 << 30) /* input held in memory while it is checked */
#define PARALLEL_MIN 2000                 /* lines worth a second encoding thread */
#define MAX_WORKERS 4
#define PRINT_EACH_MAX 10 /* up to this many events: one line each */
#define MAX_FAILURES_SHOWN 10

static const char usage[] =
    "usage: hookstream produce [options] [JSON]\n\n"
    "Sends typed events. Input: the JSON argument, else JSON lines from --from-file or stdin.\n"
    "A line is the event's data (then --type is required) or an envelope {\"type\", \"data\",\n"
    "\"id\"?, \"source\"?, \"subject\"?, \"tenant\"?, \"time\"?, \"traceparent\"?}.\n"
    "Each event is validated against its Avro schema and encoded (Confluent wire format, schema\n"
    "id from the registry) BEFORE anything is sent: one bad line sends nothing. Key and\n"
    "ce_subject = the type's key field (or --key); topic = hs.events.<domain> (or --topic).\n"
    "Prints {\"topic\",\"partition\",\"offset\",\"key\",\"id\",\"type\"} per event for up to 10\n"
    "events (or with --verbose), else a summary on stderr.\n\n"
    "options:\n"
    "  -t, --type TYPE         event type of data lines, e.g. order.placed\n"
    "  -k, --key KEY           Kafka key and ce_subject (default: the type's key field)\n"
    "      --id ID             ce_id (default: a new UUID per event)\n"
    "      --source SRC        ce_source (default " DEFAULT_SOURCE ")\n"
    "      --tenant T          hs_tenant\n"
    "      --time RFC3339      ce_time (default: now)\n"
    "      --traceparent TP    W3C traceparent (default: a new trace per event)\n"
    "      --topic TOPIC       send to TOPIC instead of the type's topic\n"
    "  -f, --from-file FILE    read JSON lines from FILE ('-' = stdin)\n"
    "  -v, --verbose           one output line per event, however many\n"
    "  -b, --brokers LIST      bootstrap servers (kafka.brokers)\n"
    "      --registry URL      schema registry (registry.url; empty: the Postgres "
    "catalog)\n" CLI_COMMON_HELP;

/* Envelope attributes a line or a flag may set, and where they go in hs_envelope_t. */
enum { F_ID, F_SOURCE, F_SUBJECT, F_TENANT, F_TIME, F_TRACEPARENT, NFIELDS };
static const struct {
    const char *name;
    size_t offset, size;
} fields[NFIELDS] = {
    [F_ID] = {"id", offsetof(hs_envelope_t, id), sizeof(((hs_envelope_t *)0)->id)},
    [F_SOURCE] = {"source", offsetof(hs_envelope_t, source), sizeof(((hs_envelope_t *)0)->source)},
    [F_SUBJECT] = {"subject", offsetof(hs_envelope_t, subject),
                   sizeof(((hs_envelope_t *)0)->subject)},
    [F_TENANT] = {"tenant", offsetof(hs_envelope_t, tenant), sizeof(((hs_envelope_t *)0)->tenant)},
    [F_TIME] = {"time", offsetof(hs_envelope_t, time), sizeof(((hs_envelope_t *)0)->time)},
    [F_TRACEPARENT] = {"traceparent", offsetof(hs_envelope_t, traceparent),
                       sizeof(((hs_envelope_t *)0)->traceparent)},
};

typedef struct {
    const hs_event_type_t *type;
    char *value; /* wire header room (5 bytes) + Avro body, in an arena (at offset voff) */
    size_t len, voff, koff;
    char *key; /* NUL-terminated, in the same arena (at offset koff) */
    unsigned arena;
    rd_kafka_headers_t *hdrs; /* built with the value; owned until librdkafka takes it */
    char *over[NFIELDS];      /* the line's own envelope attributes; NULL: flag or default */
    char *id;                 /* ce_id as sent, kept only when printed */
    long line;
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int done;
} event_t;

/* Random bytes drawn from the kernel 4 KiB at a time: ids and trace ids for many events cost
 * one getrandom call per ~100 events instead of several each. */
typedef struct {
    unsigned char buf[4096];
    size_t avail; /* unused bytes at the end of buf */
} rand_pool_t;

/* ce_time of the events encoded within one millisecond, formatted once. */
typedef struct {
    int64_t ms;
    char text[40];
} clock_cache_t;

/* Values and keys of one encoding thread's events, back to back. Offsets are kept while it
 * grows; pointers are set once every line is encoded. */
typedef struct {
    char *buf;
    size_t len, cap;
} arena_t;

typedef struct {
    const char *type_flag, *topic, *file, *arg;
    const char *flag[NFIELDS]; /* --id, --source, --key (as subject), ... */
    int verbose;
    char *input; /* the whole input; lines are parsed in place */
    size_t input_len;
    event_t *ev;
    size_t n;
    int print_each; /* one output line per event: keep each ce_id */
    arena_t arenas[MAX_WORKERS];
    int32_t *ids; /* schema id per catalog index */
    long pending; /* messages without a delivery report */
} produce_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Checks one envelope attribute value; returns 0 or -1 with why. */
static int field_check(int f, const char *v, char *why, size_t n) {
    if (strlen(v) >= fields[f].size)
        return snprintf(why, n, "%s: longer than %zu characters", fields[f].name,
                        fields[f].size - 1),
               -1;
    if (f == F_TIME && !hs_envelope_valid_time(v))
        return snprintf(why, n, "time: '%s' is not an RFC 3339 timestamp", v), -1;
    if (f == F_TRACEPARENT && !hs_envelope_valid_traceparent(v))
        return snprintf(why, n, "traceparent: '%s' is not a W3C traceparent", v), -1;
    if (!v[0]) return snprintf(why, n, "%s: empty", fields[f].name), -1;
    return 0;
}

static void known_types(char *out, size_t n) {
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < hs_catalog_count() && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", hs_catalog_at(i)->type);
}

static size_t catalog_index(const hs_event_type_t *t) {
    for (size_t i = 0; i < hs_catalog_count(); i++)
        if (hs_catalog_at(i) == t) return i;
    return 0;
}

/* Splits a line into type name, data object and envelope attributes. */
static int split_line(produce_t *p, json_t *doc, event_t *e, const char **type, json_t **data,
                      char *why, size_t n) {
    json_t *jd = json_object_get(doc, "data"), *jt = json_object_get(doc, "type");
    if (!json_is_object(jd) || !json_is_string(jt)) { /* the data object itself */
        *type = p->type_flag;
        *data = doc;
        if (!*type)
            return snprintf(why, n,
                            "no event type: give --type or an envelope "
                            "{\"type\", \"data\"}"),
                   -1;
        return 0;
    }
    *type = json_string_value(jt);
    *data = jd;
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) {
        if (!strcmp(k, "type") || !strcmp(k, "data")) continue;
        int f = 0;
        while (f < NFIELDS && strcmp(fields[f].name, k))
            f++;
        if (f == NFIELDS)
            return snprintf(why, n,
                            "unknown envelope field '%s' (type, data, id, source, "
                            "subject, tenant, time, traceparent)",
                            k),
                   -1;
        if (!json_is_string(v)) return snprintf(why, n, "%s: expected a string", k), -1;
        if (field_check(f, json_string_value(v), why, n)) return -1;
        e->over[f] = strdup(json_string_value(v));
    }
    return 0;
}

/* Appends n bytes to a; *off receives where they start. Returns 0, or -1 out of memory. */
static int arena_put(arena_t *a, const void *data, size_t n, size_t *off) {
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1 << 16;
        while (cap < a->len + n)
            cap *= 2;
        char *nb = realloc(a->buf, cap);
        if (!nb) return -1;
        a->buf = nb;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, data, n);
    *off = a->len;
    a->len += n;
    return 0;
}

/* Stores key k (klen bytes) as e's key, NUL-terminated, in a. */
static int key_put(event_t *e, arena_t *a, const char *k, size_t klen, char *why, size_t n) {
    size_t end;
    if (klen >= fields[F_SUBJECT].size)
        return snprintf(why, n, "key longer than %zu characters", fields[F_SUBJECT].size - 1), -1;
    if (arena_put(a, k, klen, &e->koff) || arena_put(a, "", 1, &end))
        return snprintf(why, n, "out of memory"), -1;
    return 0;
}

/* The key: --key, else the line's subject, else the data's key field (a string or integer). */
static int event_key(produce_t *p, event_t *e, arena_t *a, json_t *data, char *why, size_t n) {
    const char *k = p->flag[F_SUBJECT] ? p->flag[F_SUBJECT] : e->over[F_SUBJECT];
    char num[32];
    if (!k) {
        json_t *v = json_object_get(data, e->type->key_field);
        if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            k = num;
        } else {
            k = json_string_value(v);
        }
    }
    if (!k || !k[0])
        return snprintf(why, n, "%s: no key (the field is empty or null; give --key)",
                        e->type->key_field),
               -1;
    return key_put(e, a, k, strlen(k), why, n);
}

/* The bulk case: a data line for --type, encoded from its text with no json_t in between.
 * Returns -1 (nothing kept) whenever the line needs the general path below: an envelope line,
 * a key that is not a plain string, anything hs_avro_encode_text declines, every error. */
static int event_fast(produce_t *p, const char *text, size_t len, event_t *e, arena_t *a) {
    static const unsigned char header[HS_WIRE_HEADER_SIZE];
    const hs_event_type_t *t = p->type_flag ? hs_catalog_find(p->type_flag) : NULL;
    if (!t) return -1;
    hs_avro_pick_t picks[] = {{"type", NULL, 0}, {"data", NULL, 0}, {t->key_field, NULL, 0}};
    size_t start = a->len, off;
    char err[128];
    if (arena_put(a, header, sizeof header, &off) ||
        hs_avro_encode_text(hs_catalog_schema(t), text, len, &a->buf, &a->len, &a->cap, picks, 3,
                            err, sizeof err)) {
        a->len = start;
        return -1;
    }
    int envelope =
        picks[0].text && picks[0].text[0] == '"' && picks[1].text && picks[1].text[0] == '{';
    const char *k = p->flag[F_SUBJECT];
    size_t klen = k ? strlen(k) : 0;
    if (!k && picks[2].text && picks[2].text[0] == '"') { /* no escapes: the text is the value */
        k = picks[2].text + 1;
        klen = picks[2].len - 2;
    }
    e->type = t;
    e->voff = start;
    e->len = a->len - start;
    if (envelope || !klen || key_put(e, a, k, klen, err, sizeof err)) {
        a->len = start;
        e->type = NULL;
        return -1;
    }
    return 0;
}

/* Encodes data as e's value into a (wire header room first). */
static int event_value(event_t *e, arena_t *a, json_t *data, char *why, size_t n) {
    char *buf = calloc(1, HS_WIRE_HEADER_SIZE), msg[512];
    size_t len = HS_WIRE_HEADER_SIZE;
    int rc = -1;
    if (buf && hs_avro_encode_json(hs_catalog_schema(e->type), data, &buf, &len, msg, sizeof msg))
        snprintf(why, n, "%s", msg);
    else if (!buf || arena_put(a, buf, len, &e->voff))
        snprintf(why, n, "out of memory");
    else
        rc = 0;
    e->len = len;
    free(buf);
    return rc;
}

/* Validates and encodes one input line into e (value and key in a); returns 0 or -1 with why. */
static int event_parse(produce_t *p, const char *text, size_t len, event_t *e, arena_t *a,
                       char *why, size_t n) {
    if (!event_fast(p, text, len, e, a)) return 0;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) return snprintf(why, n, "invalid JSON: %s (column %d)", jerr.text, jerr.column), -1;
    const char *type = NULL;
    json_t *data = NULL;
    int rc = -1;
    if (!json_is_object(doc)) {
        snprintf(why, n, "expected a JSON object");
    } else if (!split_line(p, doc, e, &type, &data, why, n)) {
        char known[1024];
        e->type = hs_catalog_find(type);
        if (!e->type) {
            known_types(known, sizeof known);
            snprintf(why, n, "unknown event type '%s'; known types: %s", type, known);
        } else if (!event_value(e, a, data, why, n)) {
            rc = event_key(p, e, a, data, why, n);
        }
    }
    json_decref(doc);
    return rc;
}

static void event_clear(event_t *e) {
    free(e->id);
    if (e->hdrs) rd_kafka_headers_destroy(e->hdrs);
    for (int f = 0; f < NFIELDS; f++)
        free(e->over[f]);
}

typedef struct {
    const char *text;
    size_t len;
} line_t;

/* Reads the whole input (the argument, the file or stdin) into p->input. */
static int load_input(produce_t *p) {
    if (p->arg) {
        /* the argument is one JSON document, possibly pretty-printed: newlines are only
         * whitespace there (a raw newline inside a JSON string is invalid anyway) */
        p->input = strdup(p->arg);
        p->input_len = strlen(p->arg);
        for (char *c = p->input; *c; c++)
            if (*c == '\n' || *c == '\r') *c = ' ';
        return 0;
    }
    FILE *fp = stdin;
    if (p->file && strcmp(p->file, "-") != 0 && !(fp = fopen(p->file, "r")))
        return fprintf(stderr, "hookstream produce: %s: %s\n", p->file, strerror(errno)), -1;
    size_t cap = 1 << 20, len = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap && cap < MAX_INPUT_BYTES) {
            cap *= 2;
            char *grown = realloc(buf, cap + 1);
            if (!grown) free(buf);
            buf = grown;
        } else if (len == cap) {
            fprintf(stderr, "hookstream produce: input larger than %zu MiB; split it\n",
                    MAX_INPUT_BYTES >> 20);
            free(buf);
            buf = NULL;
        }
    }
    int failed = ferror(fp);
    if (fp != stdin) fclose(fp);
    if (!buf || failed) {
        free(buf);
        return fprintf(stderr, "hookstream produce: cannot read the input\n"), -1;
    }
    buf[len] = 0;
    p->input = buf;
    p->input_len = len;
    return 0;
}

/* One event slot (zeroed, line number set) per non-blank line; *lines gets each line's text. */
static int split_lines(produce_t *p, line_t **lines) {
    size_t max = 1;
    for (const char *c = p->input, *end = p->input + p->input_len;
         (c = memchr(c, '\n', (size_t)(end - c))) != NULL; c++)
        max++;
    p->ev = calloc(max, sizeof *p->ev);
    *lines = calloc(max, sizeof **lines);
    if (!p->ev || !*lines) return fprintf(stderr, "hookstream produce: out of memory\n"), -1;
    long line = 0;
    for (const char *at = p->input, *end = p->input + p->input_len; at < end;) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        size_t raw = nl ? (size_t)(nl - at) : (size_t)(end - at), len = raw;
        line++;
        if (raw > MAX_LINE_BYTES)
            return fprintf(stderr, "hookstream produce: line %ld: longer than %d bytes\n", line,
                           MAX_LINE_BYTES),
                   -1;
        while (len && (at[len - 1] == '\r' || at[len - 1] == ' ' || at[len - 1] == '\t'))
            len--;
        if (strspn(at, " \t") < len) { /* blank lines are not events */
            p->ev[p->n].line = line;
            (*lines)[p->n++] = (line_t){at, len};
        }
        at += raw + 1;
    }
    if (p->n == 0) return fprintf(stderr, "hookstream produce: no events in the input\n"), -1;
    p->print_each = p->verbose || p->n <= PRINT_EACH_MAX;
    return 0;
}

static void rand_bytes(rand_pool_t *r, unsigned char *out, size_t n) {
    if (r->avail < n) {
        for (size_t got = 0; got < sizeof r->buf;) {
            ssize_t k = getrandom(r->buf + got, sizeof r->buf - got, 0);
            if (k > 0) got += (size_t)k;
        }
        r->avail = sizeof r->buf;
    }
    memcpy(out, r->buf + sizeof r->buf - r->avail, n);
    r->avail -= n;
}

static void hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

/* A UUID v4 ce_id and a new W3C trace context for env, unless it has them already. */
static void fresh_ids(rand_pool_t *r, hs_envelope_t *env) {
    unsigned char b[40];
    rand_bytes(r, b, sizeof b);
    if (!env->id[0]) {
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        static const int groups[] = {4, 2, 2, 2, 6};
        char *o = env->id;
        for (int g = 0, at = 0; g < 5; at += groups[g++]) {
            hex(b + at, (size_t)groups[g], o);
            o += 2 * groups[g];
            *o++ = g < 4 ? '-' : 0;
        }
    }
    if (!env->traceparent[0]) {
        b[31] |= 1; /* W3C forbids all-zero trace and span ids */
        b[39] |= 1;
        char *t = env->traceparent;
        memcpy(t, "00-", 3);
        hex(b + 16, 16, t + 3);
        t[35] = '-';
        hex(b + 32, 8, t + 36);
        memcpy(t + 52, "-01", 4);
    }
}

static void put(char *dst, size_t size, const char *src) {
    size_t len = strlen(src);
    if (len >= size) len = size - 1; /* not reached: values were checked against the sizes */
    memcpy(dst, src, len);
    dst[len] = 0;
}

/* Now as RFC 3339 UTC with milliseconds, the format hs_envelope_defaults uses. */
static const char *now_rfc3339(clock_cache_t *c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (ms != c->ms) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(c->text, sizeof c->text - 6, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(c->text + n, sizeof c->text - n, ".%03uZ", (unsigned)(ms % 1000));
        c->ms = ms;
    }
    return c->text;
}

/* Builds the headers of e, whose key is key (ownership goes to the caller). */
static rd_kafka_headers_t *event_headers(const produce_t *p, event_t *e, const char *key,
                                         rand_pool_t *rand, clock_cache_t *clock) {
    hs_envelope_t env;
    memset(&env, 0, sizeof env);
    for (int f = 0; f < NFIELDS; f++) {
        const char *v = e->over[f] ? e->over[f] : p->flag[f];
        if (f == F_TIME && !v) v = now_rfc3339(clock);
        if (f == F_SUBJECT) v = key;
        if (f == F_SOURCE && !v) v = DEFAULT_SOURCE;
        if (v) put((char *)&env + fields[f].offset, fields[f].size, v);
    }
    put(env.type, sizeof env.type, e->type->type);
    put(env.schema, sizeof env.schema, e->type->subject);
    fresh_ids(rand, &env);
    hs_envelope_defaults(&env); /* content type */
    if (p->print_each) e->id = strdup(env.id);
    return hs_envelope_headers(&env);
}

typedef struct {
    produce_t *p;
    const line_t *lines;
    size_t from, to, bad; /* bad: index of the first failing line, or to */
    unsigned arena;       /* index in p->arenas, this thread's own */
    rand_pool_t rand;
    clock_cache_t clock;
    char why[1500];
} worker_t;

static void *encode_range(void *arg) {
    worker_t *w = arg;
    arena_t *a = &w->p->arenas[w->arena];
    if (w->to > w->from) { /* Avro is shorter than its JSON: one allocation is usually enough */
        const line_t *last = &w->lines[w->to - 1];
        size_t guess = (size_t)(last->text + last->len - w->lines[w->from].text) / 2 + 4096;
        char *buf = malloc(guess);
        if (buf) *a = (arena_t){buf, 0, guess};
    }
    for (w->bad = w->from; w->bad < w->to; w->bad++) {
        const line_t *l = &w->lines[w->bad];
        event_t *e = &w->p->ev[w->bad];
        e->arena = w->arena;
        if (event_parse(w->p, l->text, l->len, e, a, w->why, sizeof w->why)) break;
        e->hdrs = event_headers(w->p, e, a->buf + e->koff, &w->rand, &w->clock);
    }
    return NULL;
}

/* Validates and encodes every line, on up to MAX_WORKERS threads (each its own range); reports
 * the failing line with the lowest number. */
static int encode_all(produce_t *p, const line_t *lines) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nw = p->n < PARALLEL_MIN || cpus < 1 ? 1 : (size_t)cpus;
    if (nw > MAX_WORKERS) nw = MAX_WORKERS;
    worker_t w[MAX_WORKERS];
    pthread_t th[MAX_WORKERS];
    int started[MAX_WORKERS] = {0};
    for (size_t i = 0; i < nw; i++)
        w[i] = (worker_t){.p = p, .lines = lines, .from = p->n * i / nw, .arena = (unsigned)i};
    for (size_t i = 0; i < nw; i++)
        w[i].to = p->n * (i + 1) / nw;
    for (size_t i = 1; i < nw; i++)
        started[i] = pthread_create(&th[i], NULL, encode_range, &w[i]) == 0;
    encode_range(&w[0]);
    for (size_t i = 1; i < nw; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            encode_range(&w[i]); /* no thread: do its share here */
    }
    for (size_t i = 0; i < nw; i++) {
        if (w[i].bad == w[i].to) continue;
        fprintf(stderr, "hookstream produce: line %ld: %s\n", p->ev[w[i].bad].line, w[i].why);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) { /* the arenas have stopped moving */
        event_t *e = &p->ev[i];
        e->value = p->arenas[e->arena].buf + e->voff;
        e->key = p->arenas[e->arena].buf + e->koff;
    }
    return 0;
}

static int read_input(produce_t *p) {
    line_t *lines = NULL;
    int rc = load_input(p) || split_lines(p, &lines) || encode_all(p, lines) ? -1 : 0;
    free(lines);
    return rc;
}

/* Registers each type in use once and writes its schema id into every value's wire header. */
static int stamp_schema_ids(produce_t *p, hs_registry_t *reg) {
    char err[600];
    p->ids = calloc(hs_catalog_count() + 1, sizeof *p->ids);
    for (size_t i = 0; i < p->n; i++) {
        event_t *e = &p->ev[i];
        size_t ci = catalog_index(e->type);
        if (!p->ids[ci] && hs_registry_register(reg, e->type->subject, e->type->schema_json,
                                                &p->ids[ci], err, sizeof err)) {
            fprintf(stderr, "hookstream produce: registry %s: %s: %s\n", hs_registry_describe(reg),
                    e->type->subject, err);
            return -1;
        }
        hs_wire_header(p->ids[ci], (unsigned char *)e->value);
    }
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)opaque;
    produce_t *p = rd_kafka_opaque(rk);
    event_t *e = &p->ev[(size_t)(uintptr_t)m->_private];
    e->err = m->err;
    e->partition = m->partition;
    e->offset = m->offset;
    e->done = 1;
    p->pending--;
}

static int send_one(produce_t *p, rd_kafka_t *rk, size_t i) {
    event_t *e = &p->ev[i];
    const char *topic = p->topic ? p->topic : e->type->topic;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(0), /* the arena outlives it */
            RD_KAFKA_V_VALUE(e->value, e->len), RD_KAFKA_V_KEY(e->key, strlen(e->key)),
            RD_KAFKA_V_HEADERS(e->hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END);
        if (!err) {
            e->hdrs = NULL; /* librdkafka owns them now */
            p->pending++;
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "hookstream produce: line %ld: %s: %s\n", e->line, topic,
                    rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(rk, 10); /* the local queue is full: serve delivery reports, retry */
    }
}

/* Waits for the delivery reports of the first sent events; returns how many failed. */
static size_t wait_deliveries(produce_t *p, rd_kafka_t *rk, size_t sent, int timeout_ms) {
    /* Every message is reported within message.timeout.ms (= kafka.timeout_ms) of being
     * queued; the margin covers the last batch in flight. */
    double deadline = now_s() + timeout_ms / 1000.0 + 5;
    while (p->pending > 0 && now_s() < deadline)
        rd_kafka_flush(rk, 100);
    size_t failed = 0;
    for (size_t i = 0; i < sent; i++) {
        event_t *e = &p->ev[i];
        if (e->done && !e->err) continue;
        if (failed++ < MAX_FAILURES_SHOWN)
            fprintf(stderr, "hookstream produce: line %ld (%s, key %s): delivery failed: %s\n",
                    e->line, e->type->type, e->key,
                    e->done ? rd_kafka_err2str(e->err) : "no delivery report");
    }
    if (failed > MAX_FAILURES_SHOWN)
        fprintf(stderr, "hookstream produce: ... and %zu more failed deliveries\n",
                failed - MAX_FAILURES_SHOWN);
    return failed;
}

static void print_results(const produce_t *p) {
    for (size_t i = 0; i < p->n; i++) {
        const event_t *e = &p->ev[i];
        json_t *line =
            json_pack("{s:s, s:i, s:I, s:s, s:s?, s:s}", "topic",
                      p->topic ? p->topic : e->type->topic, "partition", e->partition, "offset",
                      (json_int_t)e->offset, "key", e->key, "id", e->id, "type", e->type->type);
        json_dumpf(line, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(line);
    }
    fflush(stdout);
}

/* Producer settings for a bulk send (PARALLEL_MIN events or more), where nobody waits on one
 * event: fuller batches mean fewer produce requests to acknowledge, and a queue that holds the
 * whole input means send never stalls on QUEUE_FULL. Pass-through properties still win. */
static const char *const bulk_props[][2] = {
    {"linger.ms", "50"},
    {"queue.buffering.max.messages", "1000000"},
};

static hs_err_t prop_is(const char *name, const char *value, const char *origin, void *opaque) {
    (void)value, (void)origin;
    return strcmp(name, opaque) == 0 ? HS_ERR_CONFLICT : HS_OK;
}

static void bulk_conf(const produce_t *p, const hs_config_t *cfg, rd_kafka_conf_t *conf) {
    char err[256];
    for (size_t i = 0; p->n >= PARALLEL_MIN && i < sizeof bulk_props / sizeof bulk_props[0]; i++)
        if (hs_config_kafka_each(cfg, prop_is, (void *)bulk_props[i][0]) == HS_OK)
            rd_kafka_conf_set(conf, bulk_props[i][0], bulk_props[i][1], err, sizeof err);
}

static int produce_all(produce_t *p, const hs_config_t *cfg, double t0) {
    char err[600];
    int timeout_ms = (int)hs_config_int(cfg, "kafka.timeout_ms");
    rd_kafka_conf_t *conf = hs_kafka_producer_conf(cfg, err, sizeof err);
    if (!conf) return fprintf(stderr, "hookstream produce: config: %s\n", err), 2;
    bulk_conf(p, cfg, conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_t *rk = hs_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) return fprintf(stderr, "hookstream produce: %s\n", err), 2;
    int rc = 1;
    if (hs_kafka_check(rk, timeout_ms, err, sizeof err)) {
        fprintf(stderr, "hookstream produce: %s; nothing sent\n", err);
    } else {
        size_t sent = 0;
        while (sent < p->n && !send_one(p, rk, sent))
            sent++;
        size_t failed = wait_deliveries(p, rk, sent, timeout_ms);
        if (sent == p->n && failed == 0) {
            rc = 0;
            if (p->print_each) print_results(p);
            double secs = now_s() - t0;
            if (!p->print_each)
                fprintf(stderr, "produced %zu events in %.2f s (%.0f events/s)\n", p->n, secs,
                        secs > 0 ? (double)p->n / secs : 0.0);
        }
    }
    rd_kafka_destroy(rk);
    return rc;
}

static int produce_run(produce_t *p, const hs_config_t *cfg) {
    double t0 = now_s();
    if (read_input(p)) return 1;
    char err[600];
    hs_registry_t *reg = hs_registry_new(cfg, err, sizeof err);
    if (!reg) return fprintf(stderr, "hookstream produce: registry: %s; nothing sent\n", err), 1;
    int rc = stamp_schema_ids(p, reg) ? 1 : produce_all(p, cfg, t0);
    hs_registry_destroy(reg);
    return rc;
}

/* Flags that set envelope attributes, checked like a line's attributes. */
static int flag_field(produce_t *p, int f, const char *v) {
    char why[400];
    if (field_check(f, v, why, sizeof why)) {
        fprintf(stderr, "hookstream produce: --%s\n", why);
        return -1;
    }
    p->flag[f] = v;
    return 0;
}

static const struct option opts[] = {
    CLI_COMMON_OPTIONS,
    {"type", required_argument, 0, 't'},
    {"key", required_argument, 0, 'k'},
    {"id", required_argument, 0, 1000 + F_ID},
    {"source", required_argument, 0, 1000 + F_SOURCE},
    {"tenant", required_argument, 0, 1000 + F_TENANT},
    {"time", required_argument, 0, 1000 + F_TIME},
    {"traceparent", required_argument, 0, 1000 + F_TRACEPARENT},
    {"topic", required_argument, 0, 'T'},
    {"from-file", required_argument, 0, 'f'},
    {"verbose", no_argument, 0, 'v'},
    {"brokers", required_argument, 0, 'b'},
    {"registry", required_argument, 0, 'R'},
    {0, 0, 0, 0},
};

int cmd_produce(int argc, char **argv) {
    cli_common_t common = {0};
    produce_t p = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "t:k:f:vb:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt >= 1000 && opt < 1000 + NFIELDS) {
            if (flag_field(&p, opt - 1000, optarg)) return 2;
            continue;
        }
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 't':
            p.type_flag = optarg;
            break;
        case 'k':
            if (flag_field(&p, F_SUBJECT, optarg)) return 2;
            break;
        case 'T':
            p.topic = optarg;
            break;
        case 'f':
            p.file = optarg;
            break;
        case 'v':
            p.verbose = 1;
            break;
        case 'b':
            cli_set(&common, "kafka.brokers", optarg);
            break;
        case 'R':
            cli_set(&common, "registry.url", optarg);
            break;
        default:
            return cli_usage_error("produce");
        }
    }
    if (optind < argc) p.arg = argv[optind++];
    if (optind < argc || (p.arg && p.file)) {
        fprintf(stderr, "hookstream produce: give one JSON argument or --from-file, not both\n");
        return 2;
    }
    if (p.topic && !hs_kafka_topic_name_ok(p.topic)) {
        fprintf(stderr, "hookstream produce: --topic '%s' is not a topic name\n", p.topic);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "produce");
    int rc = produce_run(&p, cfg);
    for (size_t i = 0; i < p.n; i++)
        event_clear(&p.ev[i]);
    free(p.ev);
    for (size_t i = 0; i < MAX_WORKERS; i++)
        free(p.arenas[i].buf);
    free(p.input);
    free(p.ids);
    hs_config_destroy(cfg);
    return rc;
}
