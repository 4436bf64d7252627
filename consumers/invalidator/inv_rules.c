/* The invalidator's rules (see inv_rules.h): parsing and checking the `invalidations` tree
 * against the event catalog, and rendering tag templates for one event. */
#include "inv_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_catalog.h"
#include "hs_evtype.h"

#define MAX_RULES 256
#define MAX_TEMPLATES 16 /* per rule */
#define MAX_PARTS 16     /* literal and {path} parts of one template */
#define MAX_SEGS 16      /* segments of one path */
#define MAX_DEPTH 32     /* nesting of the Avro schemas walked */

/* The defaults, twice: as JSON for the code and as YAML for people; a unit test checks that
 * they say the same. */
static const char defaults_json[] = "{\"product.updated\": [\"product:{data.product_id}\"],"
                                    " \"inventory.updated\": [\"product:{data.product_id}\"],"
                                    " \"inventory.low\": [\"product:{data.product_id}\"],"
                                    " \"customer.updated\": [\"customer:{data.customer_id}\"]}";
static const char defaults_yaml[] = "invalidations:\n"
                                    "  product.updated:   [\"product:{data.product_id}\"]\n"
                                    "  inventory.updated: [\"product:{data.product_id}\"]\n"
                                    "  inventory.low:     [\"product:{data.product_id}\"]\n"
                                    "  customer.updated:  [\"customer:{data.customer_id}\"]\n";

/* Envelope attributes a path may name besides data.* (each a string). */
static const char *const envelope_fields[] = {"id",   "type",   "source", "subject",
                                              "time", "tenant", NULL};

typedef struct {
    char *text;   /* literal text, or the path as written ("data.product_id") */
    char *segbuf; /* path: text split at the dots (segs point into it) */
    const char *segs[MAX_SEGS];
    size_t nsegs; /* 0: literal */
} part_t;

typedef struct {
    char *src; /* as written */
    part_t parts[MAX_PARTS];
    size_t nparts;
    int needs_data;
} tmpl_t;

typedef struct {
    char *pattern;
    tmpl_t *tmpls;
    size_t ntmpls;
} rule_t;

struct inv_rules {
    rule_t *rules;
    size_t n;
};

/* ---- parsing ------------------------------------------------------------------------------- */

static int seg_ok(const char *s, size_t len) {
    if (len == 0 || len > 64) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Splits part->text (a path) into segments; 0 when malformed. */
static int path_split(part_t *p) {
    size_t len = strlen(p->text);
    if (len == 0 || len >= INV_PATH_MAX || !(p->segbuf = strdup(p->text))) return 0;
    char *s = p->segbuf;
    for (;;) {
        char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (!seg_ok(s, n) || p->nsegs == MAX_SEGS) return 0;
        p->segs[p->nsegs++] = s;
        if (!dot) return 1;
        *dot = '\0';
        s = dot + 1;
    }
}

static int add_part(tmpl_t *t, const char *s, size_t len, int field, char *why, size_t n) {
    if (t->nparts == MAX_PARTS) return snprintf(why, n, "more than %d parts", MAX_PARTS), 0;
    part_t *p = &t->parts[t->nparts++];
    if (!(p->text = strndup(s, len))) return snprintf(why, n, "out of memory"), 0;
    if (!field) return 1;
    if (!path_split(p)) return snprintf(why, n, "bad field path {%s}", p->text), 0;
    for (size_t i = 0; envelope_fields[i]; i++)
        if (!strcmp(p->segs[0], envelope_fields[i]) && p->nsegs == 1) return 1;
    if (!strcmp(p->segs[0], "data") && p->nsegs > 1) return t->needs_data = 1, 1;
    snprintf(why, n,
             "{%s}: a path is data.<field>[.<field>|.<index>...] or one of id, type, source, "
             "subject, time, tenant",
             p->text);
    return 0;
}

/* Compiles src into t; 0 with why on a malformed template. */
static int tmpl_parse(tmpl_t *t, const char *src, char *why, size_t n) {
    size_t len = strlen(src);
    if (len == 0 || len >= INV_TAG_MAX)
        return snprintf(why, n, "empty or longer than %d bytes", INV_TAG_MAX - 1), 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
            return snprintf(why, n, "control character at byte %zu", i), 0;
    if (!(t->src = strdup(src))) return snprintf(why, n, "out of memory"), 0;
    const char *p = src;
    while (*p) {
        const char *open = strchr(p, '{'), *close = strchr(p, '}');
        if (close && (!open || close < open))
            return snprintf(why, n, "'}' without '{' at byte %zu", (size_t)(close - src)), 0;
        if (!open) return add_part(t, p, strlen(p), 0, why, n);
        if (open > p && !add_part(t, p, (size_t)(open - p), 0, why, n)) return 0;
        const char *end = strpbrk(open + 1, "{}");
        if (!end || *end == '{')
            return snprintf(why, n, "'{' at byte %zu is not closed", (size_t)(open - src)), 0;
        if (!add_part(t, open + 1, (size_t)(end - open - 1), 1, why, n)) return 0;
        p = end + 1;
    }
    return 1;
}

/* ---- checking paths against the catalog ---------------------------------------------------- */

static int is_scalar_name(const char *name) {
    static const char *const scalars[] = {"string", "int",     "long",  "float",
                                          "double", "boolean", "bytes", NULL};
    for (size_t i = 0; scalars[i]; i++)
        if (!strcmp(name, scalars[i])) return 1;
    return 0;
}

static int digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* 1 when segs (nsegs, maybe 0) lead from Avro type t to a scalar. A reference to a named type
 * defined elsewhere in the schema is not followed: accepted. */
static int type_has(const json_t *t, const char *const *segs, size_t nsegs, int depth) {
    if (depth > MAX_DEPTH) return 0;
    if (json_is_array(t)) { /* union: any branch */
        size_t i;
        const json_t *b;
        json_array_foreach(t, i, b) if (type_has(b, segs, nsegs, depth + 1)) return 1;
        return 0;
    }
    if (json_is_string(t)) {
        const char *name = json_string_value(t);
        if (is_scalar_name(name)) return nsegs == 0;
        return strcmp(name, "null") != 0; /* a named type: not followed */
    }
    const char *kind = json_string_value(json_object_get(t, "type"));
    if (!kind) return 0;
    if (!strcmp(kind, "enum") || !strcmp(kind, "fixed")) return nsegs == 0;
    if (!strcmp(kind, "array"))
        return nsegs > 0 && digits(segs[0]) &&
               type_has(json_object_get(t, "items"), segs + 1, nsegs - 1, depth + 1);
    if (!strcmp(kind, "map"))
        return nsegs > 0 && type_has(json_object_get(t, "values"), segs + 1, nsegs - 1, depth + 1);
    if (!strcmp(kind, "record")) {
        if (nsegs == 0) return 0;
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(t, "fields"), i, f) {
            const char *name = json_string_value(json_object_get(f, "name"));
            if (name && !strcmp(name, segs[0]))
                return type_has(json_object_get(f, "type"), segs + 1, nsegs - 1, depth + 1);
        }
        return 0;
    }
    return type_has(json_object_get(t, "type"), segs, nsegs, depth + 1); /* logical types */
}

/* 1 when every data path of t names a scalar of the catalog type et. */
static int tmpl_fits(const tmpl_t *t, const hs_event_type_t *et, const char **bad) {
    json_t *schema = NULL;
    int ok = 1;
    for (size_t i = 0; i < t->nparts && ok; i++) {
        const part_t *p = &t->parts[i];
        if (p->nsegs < 2) continue; /* literal or envelope attribute */
        if (!schema && !(schema = json_loads(et->schema_json, 0, NULL))) return 0;
        ok = type_has(schema, p->segs + 1, p->nsegs - 1, 0);
        if (!ok) *bad = p->text;
    }
    json_decref(schema);
    return ok;
}

/* Checks that pattern matches catalog types and that each template fits one of them. */
static int rule_check(const rule_t *r, char *why, size_t n) {
    size_t matched = 0;
    const hs_event_type_t *first = NULL;
    for (size_t i = 0; i < hs_catalog_count(); i++)
        if (hs_evtype_match(r->pattern, hs_catalog_at(i)->type)) {
            matched++;
            if (!first) first = hs_catalog_at(i);
        }
    if (!matched) return snprintf(why, n, "no event type matches (see hookstream schemas)"), 0;
    for (size_t j = 0; j < r->ntmpls; j++) {
        const char *bad = NULL;
        int fits = 0;
        for (size_t i = 0; i < hs_catalog_count() && !fits; i++) {
            const hs_event_type_t *et = hs_catalog_at(i);
            if (hs_evtype_match(r->pattern, et->type)) fits = tmpl_fits(&r->tmpls[j], et, &bad);
        }
        if (fits) continue;
        snprintf(why, n, "template \"%s\": %s has no scalar field %s", r->tmpls[j].src,
                 matched == 1 ? first->type : "no type it matches", bad ? bad : "?");
        return 0;
    }
    return 1;
}

/* ---- building ------------------------------------------------------------------------------ */

static hs_err_t bad_entry(const hs_config_t *cfg, const char *pattern, size_t idx, char *errstr,
                          size_t n, const char *why) {
    char path[300];
    snprintf(path, sizeof path, "invalidations.%s.%zu", pattern, idx);
    const char *origin = cfg ? hs_config_tree_origin(cfg, path) : "";
    return hs_fail(HS_ERR_INVALID, errstr, n, "%s%sinvalidations.%s: %s", origin,
                   origin[0] ? ": " : "", pattern, why);
}

static hs_err_t rule_add(inv_rules_t *rs, const char *pattern, const json_t *v,
                         const hs_config_t *cfg, char *errstr, size_t n) {
    char why[512];
    if (!hs_evtype_pattern_ok(pattern))
        return bad_entry(cfg, pattern, 0, errstr, n,
                         "not an event type pattern (a type, prefix.* or *)");
    if (rs->n == MAX_RULES) return bad_entry(cfg, pattern, 0, errstr, n, "too many rules");
    json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
    size_t count = json_array_size(list);
    if (!json_is_array(list) || count == 0 || count > MAX_TEMPLATES) {
        json_decref(list);
        return bad_entry(cfg, pattern, 0, errstr, n,
                         "expected a template or a list of 1 to 16 templates");
    }
    rule_t *r = &rs->rules[rs->n++];
    r->pattern = strdup(pattern);
    r->tmpls = calloc(count, sizeof *r->tmpls);
    hs_err_t e = r->pattern && r->tmpls ? HS_OK : HS_ERR_INTERNAL;
    if (e) snprintf(errstr, n, "out of memory");
    for (size_t i = 0; i < count && !e; i++) {
        const char *src = json_string_value(json_array_get(list, i));
        r->ntmpls++;
        if (!src)
            e = bad_entry(cfg, pattern, i, errstr, n, "a template is a string");
        else if (!tmpl_parse(&r->tmpls[i], src, why, sizeof why)) {
            char msg[800];
            snprintf(msg, sizeof msg, "template \"%s\": %s", src, why);
            e = bad_entry(cfg, pattern, i, errstr, n, msg);
        }
    }
    json_decref(list);
    if (!e && !rule_check(r, why, sizeof why)) e = bad_entry(cfg, pattern, 0, errstr, n, why);
    return e;
}

inv_rules_t *inv_rules_new(const json_t *tree, const hs_config_t *cfg, char *errstr,
                           size_t errstr_size) {
    json_t *defaults = NULL;
    if (!tree) tree = defaults = json_loads(defaults_json, 0, NULL);
    inv_rules_t *rs = calloc(1, sizeof *rs);
    if (rs) rs->rules = calloc(MAX_RULES, sizeof *rs->rules);
    if (!rs || !rs->rules || !tree) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        inv_rules_destroy(rs);
        json_decref(defaults);
        return NULL;
    }
    hs_err_t e = HS_OK;
    if (!json_is_object(tree))
        e = hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                    "invalidations: expected a mapping of event type to tag templates");
    const char *pattern;
    const json_t *v;
    json_object_foreach((json_t *)tree, pattern, v) {
        if (e) break;
        e = rule_add(rs, pattern, v, cfg, errstr, errstr_size);
    }
    json_decref(defaults);
    if (e) {
        inv_rules_destroy(rs);
        return NULL;
    }
    return rs;
}

void inv_rules_destroy(inv_rules_t *rs) {
    if (!rs) return;
    for (size_t i = 0; rs->rules && i < rs->n; i++) {
        rule_t *r = &rs->rules[i];
        for (size_t j = 0; j < r->ntmpls; j++) {
            for (size_t k = 0; k < r->tmpls[j].nparts; k++) {
                free(r->tmpls[j].parts[k].text);
                free(r->tmpls[j].parts[k].segbuf);
            }
            free(r->tmpls[j].src);
        }
        free(r->tmpls);
        free(r->pattern);
    }
    free(rs->rules);
    free(rs);
}

const char *inv_rules_defaults_yaml(void) {
    return defaults_yaml;
}

size_t inv_rules_count(const inv_rules_t *r) {
    return r->n;
}

int inv_rules_match(const inv_rules_t *rs, const char *type) {
    for (size_t i = 0; i < rs->n; i++)
        if (hs_evtype_match(rs->rules[i].pattern, type)) return 1;
    return 0;
}

int inv_rules_need_data(const inv_rules_t *rs, const char *type) {
    for (size_t i = 0; i < rs->n; i++)
        if (hs_evtype_match(rs->rules[i].pattern, type))
            for (size_t j = 0; j < rs->rules[i].ntmpls; j++)
                if (rs->rules[i].tmpls[j].needs_data) return 1;
    return 0;
}

/* ---- rendering ----------------------------------------------------------------------------- */

static const json_t *resolve(const json_t *v, const part_t *p) {
    for (size_t i = 0; i < p->nsegs && v; i++) {
        if (json_is_array(v))
            v = digits(p->segs[i]) ? json_array_get(v, strtoul(p->segs[i], NULL, 10)) : NULL;
        else
            v = json_object_get(v, p->segs[i]);
    }
    return v;
}

/* Writes the scalar v into buf; NULL when it has no text form, else the reason it is missing. */
static const char *scalar_text(const json_t *v, char *buf, size_t n) {
    if (!v) return "absent";
    if (json_is_null(v)) return "null";
    if (json_is_string(v)) {
        snprintf(buf, n, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0)
            snprintf(buf, n, "%lld", (long long)d);
        else
            snprintf(buf, n, "%.17g", d);
    } else if (json_is_boolean(v)) {
        snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    } else {
        return "not a scalar";
    }
    return buf[0] ? NULL : "empty";
}

/* Renders t into tag; NULL or why not (with the path in *path). */
static const char *tmpl_render(const tmpl_t *t, const json_t *event, char *tag, const char **path) {
    size_t len = 0;
    char val[INV_TAG_MAX];
    for (size_t i = 0; i < t->nparts; i++) {
        const part_t *p = &t->parts[i];
        const char *text = p->text;
        if (p->nsegs) {
            const char *why = scalar_text(resolve(event, p), val, sizeof val);
            *path = p->text;
            if (why) return why;
            text = val;
        }
        size_t tl = strlen(text);
        if (len + tl >= INV_TAG_MAX) return "tag too long";
        for (size_t k = 0; k < tl; k++)
            if ((unsigned char)text[k] < 0x20 || text[k] == 0x7f) return "control character";
        memcpy(tag + len, text, tl);
        len += tl;
    }
    tag[len] = '\0';
    return NULL;
}

/* Adds tag unless present; 0 when out is full. */
static int tags_add(inv_tags_t *out, const char *tag) {
    for (size_t i = 0; i < out->n; i++)
        if (!strcmp(out->tags[i], tag)) return 1;
    if (out->n == INV_MAX_TAGS) return 0;
    snprintf(out->tags[out->n++], INV_TAG_MAX, "%s", tag);
    return 1;
}

void inv_rules_render(const inv_rules_t *rs, const char *type, const json_t *event,
                      inv_tags_t *out) {
    out->n = out->nmissing = 0;
    out->missing[0] = out->why[0] = '\0';
    char tag[INV_TAG_MAX];
    for (size_t i = 0; i < rs->n; i++) {
        const rule_t *r = &rs->rules[i];
        if (!hs_evtype_match(r->pattern, type)) continue;
        for (size_t j = 0; j < r->ntmpls; j++) {
            const char *path = "";
            const char *why = tmpl_render(&r->tmpls[j], event, tag, &path);
            if (!why && tags_add(out, tag)) continue;
            if (!why) why = "too many tags for one event";
            if (out->nmissing++ == 0) {
                snprintf(out->missing, sizeof out->missing, "%s", path);
                snprintf(out->why, sizeof out->why, "%s", why);
            }
        }
    }
}
