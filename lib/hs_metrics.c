#include "hs_metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_log.h"

#define MAX_SERIES 10000 /* per metric; more label sets share the overflow series */
#define MAX_LABELS 16
#define OVERFLOW_VALUE "_overflow"

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

static const double default_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* One label set of a metric, allocated in one block: the series, its label value pointers,
 * its histogram bucket counts, then the label value strings. @locks: the metric's mtx. */
typedef struct series {
    struct series *chain; /* next in the same hash bucket */
    struct series *next;  /* next in creation order, the order they render in */
    uint64_t hash;
    double value; /* counter, gauge */
    double sum;   /* histogram */
    uint64_t count;
    uint64_t *buckets; /* histogram: count per bound, the last one +Inf; not cumulative */
    char *values[];
} series_t;

/* @locks: registry_mtx guards next and registration; mtx guards every series field. */
struct hs_metric {
    struct hs_metric *next;
    kind_t kind;
    char *name;
    char *help;
    size_t nlabels;
    char *label_names[MAX_LABELS];
    double *bounds;
    size_t nbounds;
    pthread_mutex_t mtx;
    series_t **table; /* open hashing, table_size a power of two */
    size_t table_size;
    size_t nseries; /* not counting the overflow series */
    series_t *head, *tail;
    series_t *overflow;
};

/* The registry: the process-wide metrics list. Rendering holds registry_mtx so that a reset
 * cannot free a metric under it. */
static pthread_mutex_t registry_mtx = PTHREAD_MUTEX_INITIALIZER;
static hs_metric_t *registry;

/* Process metrics handles, refreshed by every render. @locks: registry_mtx. */
static struct { hs_metric_t *start, *rss, *vsz, *cpu, *fds; } proc;

static void die(const char *msg, const char *name) {
    hs_log(HS_LOG_ERROR, msg, "{s:s}", "metric", name);
    abort();
}

static int valid_name(const char *s, int allow_colon) {
    if (!s || !*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++) {
        int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                 *s == '_' || (allow_colon && *s == ':');
        if (!ok) return 0;
    }
    return 1;
}

/* Splits "a, b,c" into m->label_names; aborts on a malformed list (a bug in the caller). */
static void parse_labels(hs_metric_t *m, const char *labels) {
    if (!labels || !*labels) return;
    const char *p = labels;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (m->nlabels == MAX_LABELS) die("metric has too many labels", m->name);
        char *label = strndup(p, n);
        if (!label) die("out of memory registering metric", m->name);
        m->label_names[m->nlabels++] = label;
        if (!valid_name(label, 0) || (m->kind == KIND_HISTOGRAM && !strcmp(label, "le")))
            die("metric has an invalid label name", m->name);
        p += n;
        while (*p == ' ')
            p++;
        if (*p == ',') p++;
    }
}

static uint64_t hash_values(const char *const *values, size_t n) {
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *c = (const unsigned char *)values[i]; *c; c++)
            h = (h ^ *c) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL; /* 0xff never occurs in UTF-8: separates values */
    }
    return h;
}

static series_t *series_new(const hs_metric_t *m, const char *const *values, uint64_t hash) {
    size_t nb = m->kind == KIND_HISTOGRAM ? m->nbounds + 1 : 0;
    size_t size = sizeof(series_t) + m->nlabels * sizeof(char *) + nb * sizeof(uint64_t);
    size_t strings = 0;
    for (size_t i = 0; i < m->nlabels; i++)
        strings += strlen(values[i]) + 1;
    series_t *s = calloc(1, size + strings);
    if (!s) return NULL;
    s->hash = hash;
    s->buckets = nb ? (uint64_t *)(s->values + m->nlabels) : NULL;
    char *dst = (char *)s + size;
    for (size_t i = 0; i < m->nlabels; i++) {
        size_t len = strlen(values[i]) + 1;
        memcpy(dst, values[i], len);
        s->values[i] = dst;
        dst += len;
    }
    return s;
}

static void table_grow(hs_metric_t *m) {
    size_t size = m->table_size ? m->table_size * 2 : 16;
    series_t **table = calloc(size, sizeof *table);
    if (!table) return; /* keep the old table: longer chains, still correct */
    for (series_t *s = m->head; s; s = s->next) {
        s->chain = table[s->hash & (size - 1)];
        table[s->hash & (size - 1)] = s;
    }
    free(m->table);
    m->table = table;
    m->table_size = size;
}

static void series_insert(hs_metric_t *m, series_t *s) {
    if (m->nseries + 1 > m->table_size) table_grow(m);
    series_t **bucket = &m->table[s->hash & (m->table_size - 1)];
    s->chain = *bucket;
    *bucket = s;
    if (m->tail)
        m->tail->next = s;
    else
        m->head = s;
    m->tail = s;
}

static series_t *series_find(const hs_metric_t *m, const char *const *values, uint64_t hash) {
    for (series_t *s = m->table[hash & (m->table_size - 1)]; s; s = s->chain) {
        if (s->hash != hash) continue;
        size_t i = 0;
        while (i < m->nlabels && !strcmp(s->values[i], values[i]))
            i++;
        if (i == m->nlabels) return s;
    }
    return NULL;
}

static series_t *overflow_series(hs_metric_t *m) {
    if (m->overflow) return m->overflow;
    const char *values[MAX_LABELS];
    for (size_t i = 0; i < m->nlabels; i++)
        values[i] = OVERFLOW_VALUE;
    uint64_t hash = hash_values(values, m->nlabels);
    m->overflow = series_new(m, values, hash);
    if (!m->overflow) return NULL;
    series_insert(m, m->overflow);
    hs_log(HS_LOG_WARN, "metric series limit reached: further label sets count as _overflow",
           "{s:s, s:i}", "metric", m->name, "limit", MAX_SERIES);
    return m->overflow;
}

/* Returns the series of values, creating it; NULL when out of memory. Called with m->mtx. */
static series_t *series_get(hs_metric_t *m, const char *const *values) {
    const char *vals[MAX_LABELS];
    for (size_t i = 0; i < m->nlabels; i++)
        vals[i] = values && values[i] ? values[i] : "";
    uint64_t hash = hash_values(vals, m->nlabels);
    series_t *s = series_find(m, vals, hash);
    if (s) return s;
    if (m->nseries >= MAX_SERIES) return overflow_series(m);
    s = series_new(m, vals, hash);
    if (!s) return NULL;
    series_insert(m, s);
    m->nseries++;
    return s;
}

static void metric_free(hs_metric_t *m) {
    for (series_t *s = m->head, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->label_names[i]);
    pthread_mutex_destroy(&m->mtx);
    free(m->table);
    free(m->bounds);
    free(m->name);
    free(m->help);
    free(m);
}

static hs_metric_t *metric_new(kind_t kind, const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds) {
    hs_metric_t *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name)) || !(m->help = strdup(help ? help : "")))
        die("out of memory registering metric", name);
    m->kind = kind;
    pthread_mutex_init(&m->mtx, NULL);
    parse_labels(m, labels);
    if (kind == KIND_HISTOGRAM) {
        m->nbounds = nbounds;
        m->bounds = malloc(nbounds * sizeof *bounds);
        if (!m->bounds) die("out of memory registering metric", name);
        memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
    }
    table_grow(m);
    if (!m->table) die("out of memory registering metric", name);
    if (m->nlabels == 0) { /* an unlabelled metric always renders, 0 until touched */
        series_t *s = series_new(m, NULL, hash_values(NULL, 0));
        if (!s) die("out of memory registering metric", name);
        series_insert(m, s);
        m->nseries = 1;
    }
    return m;
}

static int same_definition(const hs_metric_t *a, const hs_metric_t *b) {
    if (a->kind != b->kind || a->nlabels != b->nlabels || a->nbounds != b->nbounds) return 0;
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcmp(a->label_names[i], b->label_names[i])) return 0;
    for (size_t i = 0; i < a->nbounds; i++)
        if (a->bounds[i] != b->bounds[i]) return 0;
    return 1;
}

static hs_metric_t *metric_register(kind_t kind, const char *name, const char *help,
                                    const char *labels, const double *bounds, size_t nbounds) {
    if (!valid_name(name, 1)) die("invalid metric name", name ? name : "(null)");
    if (kind == KIND_HISTOGRAM) {
        if (!bounds) {
            bounds = default_buckets;
            nbounds = sizeof default_buckets / sizeof *default_buckets;
        }
        for (size_t i = 0; i < nbounds; i++)
            if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                die("histogram buckets are not ascending", name);
    }
    /* Built outside the lock and compared, so that a redefinition is caught field by field. */
    hs_metric_t *fresh = metric_new(kind, name, help, labels, bounds, nbounds);
    pthread_mutex_lock(&registry_mtx);
    hs_metric_t *m = registry;
    while (m && strcmp(m->name, name))
        m = m->next;
    if (m && !same_definition(m, fresh)) {
        pthread_mutex_unlock(&registry_mtx);
        die("metric registered again with another type, labels or buckets", name);
    }
    if (!m) {
        m = fresh;
        m->next = registry;
        registry = m;
        fresh = NULL;
    }
    pthread_mutex_unlock(&registry_mtx);
    if (fresh) metric_free(fresh);
    return m;
}

hs_metric_t *hs_metrics_counter(const char *name, const char *help, const char *labels) {
    return metric_register(KIND_COUNTER, name, help, labels, NULL, 0);
}

hs_metric_t *hs_metrics_gauge(const char *name, const char *help, const char *labels) {
    return metric_register(KIND_GAUGE, name, help, labels, NULL, 0);
}

hs_metric_t *hs_metrics_histogram(const char *name, const char *help, const char *labels,
                                  const double *buckets, size_t nbuckets) {
    return metric_register(KIND_HISTOGRAM, name, help, labels, buckets, nbuckets);
}

void hs_metric_add(hs_metric_t *m, const char *const *values, double v) {
    if (!m || m->kind == KIND_HISTOGRAM) return;
    if (m->kind == KIND_COUNTER && !(v >= 0)) return; /* counters only go up; also drops NaN */
    pthread_mutex_lock(&m->mtx);
    series_t *s = series_get(m, values);
    if (s) s->value += v;
    pthread_mutex_unlock(&m->mtx);
}

void hs_metric_set(hs_metric_t *m, const char *const *values, double v) {
    if (!m || m->kind != KIND_GAUGE) return;
    pthread_mutex_lock(&m->mtx);
    series_t *s = series_get(m, values);
    if (s) s->value = v;
    pthread_mutex_unlock(&m->mtx);
}

void hs_metric_observe(hs_metric_t *m, const char *const *values, double v) {
    if (!m || m->kind != KIND_HISTOGRAM || isnan(v)) return;
    size_t i = 0;
    while (i < m->nbounds && v > m->bounds[i])
        i++;
    pthread_mutex_lock(&m->mtx);
    series_t *s = series_get(m, values);
    if (s) {
        s->buckets[i]++;
        s->sum += v;
        s->count++;
    }
    pthread_mutex_unlock(&m->mtx);
}

/* A growing output buffer; on allocation failure it stops growing and render returns NULL. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *buf = realloc(b->buf, cap);
        if (!buf) {
            b->failed = 1;
            return;
        }
        b->buf = buf;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s) {
    sb_put(b, s, strlen(s));
}

/* Escapes \ and newline (HELP text), and " too inside label values. */
static void sb_escaped(sbuf_t *b, const char *s, int quotes) {
    for (const char *run = s;; s++) {
        const char *esc = *s == '\\'              ? "\\\\"
                          : *s == '\n'            ? "\\n"
                          : (quotes && *s == '"') ? "\\\""
                                                  : NULL;
        if (!esc && *s) continue;
        sb_put(b, run, (size_t)(s - run));
        if (!*s) return;
        sb_str(b, esc);
        run = s + 1;
    }
}

/* The shortest text that reads back as v, the way Prometheus clients print numbers. */
static void format_double(char *buf, size_t size, double v) {
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void sb_double(sbuf_t *b, double v) {
    char num[40];
    format_double(num, sizeof num, v);
    sb_str(b, num);
}

/* Writes `name{labels,le="x"} value\n`; le may be NULL. */
static void render_line(sbuf_t *b, const hs_metric_t *m, const char *suffix, const series_t *s,
                        const char *le, double value) {
    sb_str(b, m->name);
    sb_str(b, suffix);
    if (m->nlabels || le) {
        sb_str(b, "{");
        for (size_t i = 0; i < m->nlabels; i++) {
            if (i) sb_str(b, ",");
            sb_str(b, m->label_names[i]);
            sb_str(b, "=\"");
            sb_escaped(b, s->values[i], 1);
            sb_str(b, "\"");
        }
        if (le) {
            if (m->nlabels) sb_str(b, ",");
            sb_str(b, "le=\"");
            sb_str(b, le);
            sb_str(b, "\"");
        }
        sb_str(b, "}");
    }
    sb_str(b, " ");
    sb_double(b, value);
    sb_str(b, "\n");
}

static void render_histogram(sbuf_t *b, const hs_metric_t *m, const series_t *s) {
    uint64_t cumulative = 0;
    char le[40];
    for (size_t i = 0; i < m->nbounds; i++) {
        cumulative += s->buckets[i];
        format_double(le, sizeof le, m->bounds[i]);
        render_line(b, m, "_bucket", s, le, (double)cumulative);
    }
    render_line(b, m, "_bucket", s, "+Inf", (double)s->count);
    render_line(b, m, "_sum", s, NULL, s->sum);
    render_line(b, m, "_count", s, NULL, (double)s->count);
}

static void render_metric(sbuf_t *b, hs_metric_t *m) {
    sb_str(b, "# HELP ");
    sb_str(b, m->name);
    sb_str(b, " ");
    sb_escaped(b, m->help, 0);
    sb_str(b, "\n# TYPE ");
    sb_str(b, m->name);
    sb_str(b, " ");
    sb_str(b, kind_names[m->kind]);
    sb_str(b, "\n");
    pthread_mutex_lock(&m->mtx);
    for (const series_t *s = m->head; s; s = s->next) {
        if (m->kind == KIND_HISTOGRAM)
            render_histogram(b, m, s);
        else
            render_line(b, m, "", s, NULL, s->value);
    }
    pthread_mutex_unlock(&m->mtx);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(hs_metric_t *const *)a)->name, (*(hs_metric_t *const *)b)->name);
}

/* Sets a metric's unlabelled value whatever its kind (the cpu counter is read, not added). */
static void metric_store(hs_metric_t *m, double v) {
    pthread_mutex_lock(&m->mtx);
    m->head->value = v;
    pthread_mutex_unlock(&m->mtx);
}

/* Reads the whitespace-separated field number `field` (1-based, after the command name) of
 * /proc/self/stat; the command name is in parentheses and may hold spaces. */
static int read_stat_fields(unsigned long long *out, const int *fields, size_t n) {
    char line[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    char *p = ok ? strrchr(line, ')') : NULL;
    if (!p) return -1;
    p++;
    for (int field = 3; *p; field++) { /* field 3 is the state after "pid (comm)" */
        while (*p == ' ')
            p++;
        for (size_t i = 0; i < n; i++)
            if (fields[i] == field) out[i] = strtoull(p, NULL, 10);
        p += strcspn(p, " ");
    }
    return 0;
}

static double boot_time(void) {
    char line[256];
    double btime = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "btime ", 6)) btime = strtod(line + 6, NULL);
    fclose(f);
    return btime;
}

static double open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    double n = -1; /* the directory's own descriptor */
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Called with registry_mtx held, so a concurrent reset cannot free the handles. */
static void refresh_process_metrics(void) {
    if (!proc.start) return;
    double page = (double)sysconf(_SC_PAGESIZE), ticks = (double)sysconf(_SC_CLK_TCK);
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2) size = resident = 0;
        fclose(f);
    }
    metric_store(proc.rss, (double)resident * page);
    metric_store(proc.vsz, (double)size * page);
    static const int fields[] = {14, 15, 22}; /* utime, stime, starttime in clock ticks */
    unsigned long long v[3] = {0, 0, 0};
    if (read_stat_fields(v, fields, 3) == 0) {
        metric_store(proc.cpu, (double)(v[0] + v[1]) / ticks);
        metric_store(proc.start, boot_time() + (double)v[2] / ticks);
    }
    metric_store(proc.fds, open_fds());
}

void hs_metrics_register_process(void) {
    hs_metric_t *start = hs_metrics_gauge("process_start_time_seconds",
                                          "Start time of the process since the Unix epoch.", NULL);
    hs_metric_t *rss =
        hs_metrics_gauge("process_resident_memory_bytes", "Resident memory size in bytes.", NULL);
    hs_metric_t *vsz =
        hs_metrics_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", NULL);
    hs_metric_t *cpu = hs_metrics_counter("process_cpu_seconds_total",
                                          "Total user and system CPU time in seconds.", NULL);
    hs_metric_t *fds = hs_metrics_gauge("process_open_fds", "Open file descriptors.", NULL);
    pthread_mutex_lock(&registry_mtx);
    proc.start = start;
    proc.rss = rss;
    proc.vsz = vsz;
    proc.cpu = cpu;
    proc.fds = fds;
    pthread_mutex_unlock(&registry_mtx);
}

char *hs_metrics_render(void) {
    sbuf_t b = {0};
    sb_str(&b, ""); /* an empty registry renders as "" rather than NULL */
    pthread_mutex_lock(&registry_mtx);
    refresh_process_metrics();
    size_t n = 0;
    for (hs_metric_t *m = registry; m; m = m->next)
        n++;
    hs_metric_t **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted) {
        n = 0;
        for (hs_metric_t *m = registry; m; m = m->next)
            sorted[n++] = m;
        qsort(sorted, n, sizeof *sorted, by_name);
        for (size_t i = 0; i < n; i++)
            render_metric(&b, sorted[i]);
    }
    pthread_mutex_unlock(&registry_mtx);
    free(sorted);
    if (!sorted || b.failed) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

void hs_metrics_reset(void) {
    pthread_mutex_lock(&registry_mtx);
    for (hs_metric_t *m = registry, *next; m; m = next) {
        next = m->next;
        metric_free(m);
    }
    registry = NULL;
    memset(&proc, 0, sizeof proc);
    pthread_mutex_unlock(&registry_mtx);
}
