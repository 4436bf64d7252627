#include "hs_catalog.h"

#include <pthread.h>
#include <string.h>

#include "hs_embedded.h"
#include "hs_log.h"

typedef struct {
    hs_event_type_t t; /* first, so a type pointer is its entry's address */
    hs_avro_schema_t *schema;
} entry_t;

/* Built once by build() and never changed or freed afterwards: readers need no lock. */
static entry_t *entries;
static size_t nentries;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static char *join(const char *a, const char *sep, const char *b) {
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

/* Fills e from the embedded file at path "<domain>/<type>.avsc"; returns 0 when the file is not
 * a usable event schema (logged; the catalog unit test fails on it before anything ships). */
static int describe(const hs_embedded_file_t *f, entry_t *e) {
    char err[512] = "no hs.key attribute", domain[128], type[256];
    const char *slash = strchr(f->path, '/');
    size_t plen = strlen(f->path);
    if (!slash || strchr(slash + 1, '/') || plen < 5 || strcmp(f->path + plen - 5, ".avsc") != 0) {
        hs_log(HS_LOG_ERROR, "catalog: schema path is not <domain>/<type>.avsc", "{s:s}", "path",
               f->path);
        return 0;
    }
    e->schema = hs_avro_schema_parse(f->text, err, sizeof err);
    json_t *root = json_loads(f->text, 0, NULL);
    const char *key = json_string_value(json_object_get(root, "hs.key"));
    if (!e->schema || !key) {
        hs_log(HS_LOG_ERROR, "catalog: unusable schema", "{s:s, s:s}", "path", f->path, "error",
               err);
        json_decref(root);
        return 0;
    }
    int dlen = (int)(slash - f->path);
    snprintf(domain, sizeof domain, "%.*s", dlen, f->path);
    snprintf(type, sizeof type, "%.*s", (int)(plen - 5) - dlen - 1, slash + 1);
    e->t.domain = strdup(domain);
    e->t.type = strdup(type);
    e->t.topic = join("hs.events.", "", domain);
    e->t.fullname = strdup(hs_avro_schema_fullname(e->schema));
    if (e->t.topic && e->t.fullname) e->t.subject = join(e->t.topic, "-", e->t.fullname);
    e->t.key_field = strdup(key);
    e->t.schema_json = f->text;
    json_decref(root);
    return e->t.domain && e->t.type && e->t.topic && e->t.fullname && e->t.subject &&
           e->t.key_field;
}

/* Frees what a failed describe() left in e, so the slot can be reused. */
static void forget(entry_t *e) {
    free((char *)e->t.domain);
    free((char *)e->t.type);
    free((char *)e->t.topic);
    free((char *)e->t.fullname);
    free((char *)e->t.subject);
    free((char *)e->t.key_field);
    hs_avro_schema_destroy(e->schema);
    memset(e, 0, sizeof *e);
}

static int by_type(const void *a, const void *b) {
    return strcmp(((const entry_t *)a)->t.type, ((const entry_t *)b)->t.type);
}

static void build(void) {
    size_t n = 0;
    while (hs_embedded_avsc[n].path)
        n++;
    entries = calloc(n + 1, sizeof *entries);
    if (!entries) {
        hs_log(HS_LOG_ERROR, "catalog: out of memory", NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (describe(&hs_embedded_avsc[i], &entries[nentries]))
            nentries++;
        else
            forget(&entries[nentries]);
    }
    qsort(entries, nentries, sizeof *entries, by_type);
}

static void ensure(void) {
    pthread_once(&once, build);
}

const hs_event_type_t *hs_catalog_find(const char *type) {
    ensure();
    for (size_t i = 0; type && i < nentries; i++)
        if (strcmp(entries[i].t.type, type) == 0) return &entries[i].t;
    return NULL;
}

const hs_event_type_t *hs_catalog_find_fullname(const char *fullname) {
    ensure();
    for (size_t i = 0; fullname && i < nentries; i++)
        if (strcmp(entries[i].t.fullname, fullname) == 0) return &entries[i].t;
    return NULL;
}

size_t hs_catalog_count(void) {
    ensure();
    return nentries;
}

const hs_event_type_t *hs_catalog_at(size_t i) {
    ensure();
    return i < nentries ? &entries[i].t : NULL;
}

const hs_avro_schema_t *hs_catalog_schema(const hs_event_type_t *t) {
    ensure();
    for (size_t i = 0; i < nentries; i++)
        if (t == &entries[i].t) return entries[i].schema;
    return NULL;
}
