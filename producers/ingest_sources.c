/* Source definitions for ingest (see ingest_sources.h): the YAML tree is walked once with a
 * table of known keys per source, strings are copied into the set, and each source is checked
 * by its connector. */
#include "ingest_sources.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_kafka.h"

#define MAX_STRINGS 24 /* owned strings per source: secrets, tenant, url, generic options */

typedef struct {
    hs_ingest_source_t pub;
    const char *secrets[HS_SOURCE_MAX_SECRETS];
    char *owned[MAX_STRINGS];
    size_t nowned;
} entry_t;

struct hs_ingest_sources {
    entry_t *e;
    size_t n;
};

static const char *const tiers[] = {"free", "pro", "enterprise"};

int hs_tier_parse(const char *text) {
    for (int i = 0; i < 3; i++)
        if (text && !strcmp(text, tiers[i])) return i;
    return -1;
}

hs_ingest_sources_t *hs_ingest_sources_new(void) {
    hs_ingest_sources_t *s = calloc(1, sizeof *s);
    if (s) s->e = calloc(HS_INGEST_MAX_SOURCES, sizeof *s->e);
    if (s && !s->e) {
        free(s);
        s = NULL;
    }
    return s;
}

void hs_ingest_sources_destroy(hs_ingest_sources_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->e[i].nowned; j++)
            free(s->e[i].owned[j]);
    free(s->e);
    free(s);
}

size_t hs_ingest_sources_count(const hs_ingest_sources_t *s) {
    return s->n;
}

const hs_ingest_source_t *hs_ingest_sources_at(const hs_ingest_sources_t *s, size_t i) {
    return i < s->n ? &s->e[i].pub : NULL;
}

const hs_ingest_source_t *hs_ingest_sources_find(const hs_ingest_sources_t *s, const char *name) {
    for (size_t i = 0; name && i < s->n; i++)
        if (!strcmp(s->e[i].pub.name, name)) return &s->e[i].pub;
    return NULL;
}

static const char *keep(entry_t *e, const char *text) {
    if (!text || e->nowned >= MAX_STRINGS) return NULL;
    char *copy = strdup(text);
    if (copy) e->owned[e->nowned++] = copy;
    return copy;
}

/* A source name becomes a URL segment and part of a topic name. */
static int name_ok(const char *name) {
    char topic[300];
    if (!name[0] || strlen(name) > 200) return 0;
    snprintf(topic, sizeof topic, "hs.inbox.%s", name);
    return hs_kafka_topic_name_ok(topic) && strspn(name, ".") != strlen(name);
}

/* Starts a new entry named name; NULL with errstr when the name is bad or taken. */
static entry_t *add_entry(hs_ingest_sources_t *s, const char *name, const char *where, char *errstr,
                          size_t n) {
    if (!name_ok(name))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "%s: source name '%s' must be 1-200 of [A-Za-z0-9._-]", where, name),
               NULL;
    if (hs_ingest_sources_find(s, name))
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: source '%s' is defined twice", where, name),
               NULL;
    if (s->n >= HS_INGEST_MAX_SOURCES)
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: more than %d sources", where,
                       HS_INGEST_MAX_SOURCES),
               NULL;
    entry_t *e = &s->e[s->n];
    memset(e, 0, sizeof *e);
    e->pub.name = keep(e, name);
    e->pub.cfg.name = e->pub.name;
    e->pub.cfg.secrets = e->secrets;
    e->pub.tier = HS_TIER_DEFAULT;
    return e;
}

static hs_err_t set_type(entry_t *e, const char *type, const char *where, char *errstr, size_t n) {
    e->pub.src = hs_source_find(type);
    if (e->pub.src) {
        e->pub.cfg.type = e->pub.src->type;
        return HS_OK;
    }
    char known[512];
    hs_source_list(known, sizeof known);
    return hs_fail(HS_ERR_INVALID, errstr, n, "%s: unknown provider '%s' (known: %s)", where, type,
                   known);
}

/* Drops the entry being built when it failed, keeps it otherwise. */
static hs_err_t finish(hs_ingest_sources_t *s, entry_t *e, hs_err_t err, const char *where,
                       char *errstr, size_t n) {
    if (err == HS_OK && !e->pub.src)
        err = hs_fail(HS_ERR_INVALID, errstr, n, "%s.type: missing", where);
    char why[400];
    if (err == HS_OK && hs_source_check(e->pub.src, &e->pub.cfg, why, sizeof why))
        err = hs_fail(HS_ERR_INVALID, errstr, n, "%s: %s", where, why);
    if (err == HS_OK) {
        s->n++;
        return HS_OK;
    }
    for (size_t j = 0; j < e->nowned; j++)
        free(e->owned[j]);
    e->nowned = 0;
    return err;
}

hs_err_t hs_ingest_sources_add_spec(hs_ingest_sources_t *s, const char *spec, char *errstr,
                                    size_t errstr_size) {
    const char *eq = strchr(spec, '='), *colon = eq ? strchr(eq, ':') : NULL;
    char name[256], type[64], where[300];
    if (!eq || !colon || !colon[1] || eq == spec || (size_t)(eq - spec) >= sizeof name ||
        (size_t)(colon - eq - 1) >= sizeof type)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "--source: expected NAME=TYPE:SECRET, e.g. shop1=shopify:shpss_...");
    snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
    snprintf(type, sizeof type, "%.*s", (int)(colon - eq - 1), eq + 1);
    snprintf(where, sizeof where, "--source %s", name); /* never the secret */
    entry_t *e = add_entry(s, name, where, errstr, errstr_size);
    if (!e) return HS_ERR_INVALID;
    hs_err_t err = set_type(e, type, where, errstr, errstr_size);
    e->secrets[0] = keep(e, colon + 1);
    e->pub.cfg.nsecrets = 1;
    e->pub.cfg.tenant = e->pub.name;
    return finish(s, e, err, where, errstr, errstr_size);
}

/* ---- YAML ------------------------------------------------------------------------------- */

typedef struct {
    const hs_config_t *cfg;
    entry_t *e;
    char path[300]; /* "sources.shop1" */
    char *errstr;
    size_t n;
} walk_t;

static hs_err_t bad(walk_t *w, const char *key, const char *fmt, const char *arg) {
    char sub[400], reason[300];
    snprintf(sub, sizeof sub, "%s%s%s", w->path, key ? "." : "", key ? key : "");
    const char *origin = hs_config_tree_origin(w->cfg, sub);
    snprintf(reason, sizeof reason, fmt, arg);
    return hs_fail(HS_ERR_INVALID, w->errstr, w->n, "%s%s%s: %s", origin, origin[0] ? ": " : "",
                   sub, reason);
}

static hs_err_t str_field(walk_t *w, const char *key, json_t *v, const char **out) {
    if (!json_is_string(v) || !json_string_value(v)[0])
        return bad(w, key, "expected a non-empty string%s", "");
    *out = keep(w->e, json_string_value(v));
    return *out ? HS_OK : bad(w, key, "too many settings%s", "");
}

static hs_err_t int_field(walk_t *w, const char *key, json_t *v, int *out) {
    if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > 1000000000)
        return bad(w, key, "expected an integer from -1 to 1000000000%s", "");
    *out = (int)json_integer_value(v);
    return HS_OK;
}

static hs_err_t secrets_field(walk_t *w, const char *key, json_t *v) {
    hs_ingest_source_t *p = &w->e->pub;
    if (json_is_string(v)) {
        if (p->cfg.nsecrets) return bad(w, key, "give secret or secrets, not both%s", "");
        p->cfg.nsecrets = 1;
        return str_field(w, key, v, &w->e->secrets[0]);
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > HS_SOURCE_MAX_SECRETS)
        return bad(w, key, "expected a string or a list of 1 to 8 strings%s", "");
    if (p->cfg.nsecrets) return bad(w, key, "give secret or secrets, not both%s", "");
    for (size_t i = 0; i < json_array_size(v); i++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%s.%zu", key, i);
        if (str_field(w, sub, json_array_get(v, i), &w->e->secrets[i])) return HS_ERR_INVALID;
    }
    p->cfg.nsecrets = json_array_size(v);
    return HS_OK;
}

#define GEN(field) offsetof(hs_source_generic_t, field)
static const struct {
    const char *key;
    size_t offset;
} generic_keys[] = {
    {"header", GEN(header)},
    {"algorithm", GEN(algorithm)},
    {"encoding", GEN(encoding)},
    {"prefix", GEN(prefix)},
    {"template", GEN(tmpl)},
    {"timestamp_header", GEN(timestamp_header)},
    {"timestamp_format", GEN(timestamp_format)},
    {"id_header", GEN(id_header)},
};

static hs_err_t generic_field(walk_t *w, json_t *v) {
    if (!json_is_object(v)) return bad(w, "generic", "expected a mapping%s", "");
    const char *k;
    json_t *item;
    json_object_foreach(v, k, item) {
        size_t i = 0, n = sizeof generic_keys / sizeof generic_keys[0];
        while (i < n && strcmp(generic_keys[i].key, k))
            i++;
        char sub[128];
        snprintf(sub, sizeof sub, "generic.%s", k);
        if (i == n)
            return bad(w, sub,
                       "unknown key (known: header, algorithm, encoding, prefix, template, "
                       "timestamp_header, timestamp_format, id_header)%s",
                       "");
        const char **slot =
            (const char **)((char *)&w->e->pub.cfg.generic + generic_keys[i].offset);
        if (str_field(w, sub, item, slot)) return HS_ERR_INVALID;
    }
    return HS_OK;
}

/* One key of a source. */
static hs_err_t source_field(walk_t *w, const char *key, json_t *v) {
    hs_ingest_source_t *p = &w->e->pub;
    if (!strcmp(key, "type")) {
        if (!json_is_string(v)) return bad(w, key, "expected a provider name%s", "");
        char where[800], sub[400];
        snprintf(sub, sizeof sub, "%s.type", w->path);
        const char *origin = hs_config_tree_origin(w->cfg, sub);
        snprintf(where, sizeof where, "%s%s%s", origin, origin[0] ? ": " : "", sub);
        return set_type(w->e, json_string_value(v), where, w->errstr, w->n);
    }
    if (!strcmp(key, "secret") || !strcmp(key, "secrets")) return secrets_field(w, key, v);
    if (!strcmp(key, "tenant")) return str_field(w, key, v, &p->cfg.tenant);
    if (!strcmp(key, "public_url")) return str_field(w, key, v, &p->public_url);
    if (!strcmp(key, "tolerance_s")) return int_field(w, key, v, &p->cfg.tolerance_s);
    if (!strcmp(key, "inventory_low_threshold"))
        return int_field(w, key, v, &p->cfg.inventory_low_threshold);
    if (!strcmp(key, "generic")) return generic_field(w, v);
    if (!strcmp(key, "tier")) {
        int t = hs_tier_parse(json_string_value(v));
        if (t < 0) return bad(w, key, "expected free, pro or enterprise%s", "");
        p->tier = (hs_tier_t)t;
        return HS_OK;
    }
    return bad(w, key,
               "unknown key (known: type, secret, secrets, tenant, tier, tolerance_s, "
               "inventory_low_threshold, public_url, generic)%s",
               "");
}

static hs_err_t load_one(hs_ingest_sources_t *s, walk_t *w, const char *name, json_t *def) {
    snprintf(w->path, sizeof w->path, "sources.%s", name);
    char where[400];
    const char *origin = hs_config_tree_origin(w->cfg, w->path);
    snprintf(where, sizeof where, "%s%s%s", origin, origin[0] ? ": " : "", w->path);
    if (!json_is_object(def))
        return hs_fail(HS_ERR_INVALID, w->errstr, w->n,
                       "%s: expected a mapping with type and "
                       "secret",
                       where);
    w->e = add_entry(s, name, where, w->errstr, w->n);
    if (!w->e) return HS_ERR_INVALID;
    hs_err_t err = HS_OK;
    const char *k;
    json_t *v;
    json_object_foreach(def, k, v) {
        if ((err = source_field(w, k, v))) break;
    }
    if (!err && w->e->pub.cfg.nsecrets == 0) err = bad(w, NULL, "secret: missing%s", "");
    if (!err && !w->e->pub.cfg.tenant) w->e->pub.cfg.tenant = w->e->pub.name;
    return finish(s, w->e, err, where, w->errstr, w->n);
}

hs_err_t hs_ingest_sources_load(hs_ingest_sources_t *s, const hs_config_t *cfg, char *errstr,
                                size_t errstr_size) {
    const json_t *tree = hs_config_tree(cfg, "sources");
    if (!tree || json_is_null(tree)) return HS_OK;
    walk_t w = {.cfg = cfg, .errstr = errstr, .n = errstr_size};
    if (!json_is_object(tree)) {
        const char *origin = hs_config_tree_origin(cfg, "sources");
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "%s%ssources: expected a mapping of source names", origin,
                       origin[0] ? ": " : "");
    }
    const char *name;
    json_t *def;
    json_object_foreach((json_t *)tree, name, def) {
        if (load_one(s, &w, name, def)) return HS_ERR_INVALID;
    }
    return HS_OK;
}
