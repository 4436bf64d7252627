/* The mapping engine behind every connector's rule table (see hs_source_impl.h). It only builds
 * values of the Avro types the tables declare, range-checked, so whatever it returns encodes
 * with the catalog schema; a body that does not fit fails with the provider path of the field. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_catalog.h"
#include "hs_source_impl.h"

#define MAX_ITEMS 1000 /* array items and attributes mapped per field */

typedef struct {
    const hs_source_req_t *req;
    const json_t *body; /* body root: "$" paths */
    const json_t *root; /* the rule's object: "^" paths */
    char where[256];    /* provider path of the current object, for errors */
    char *err;
    size_t errn;
} ctx_t;

const json_t *hs_map_get(const json_t *obj, const char *path) {
    const char *p = path;
    while (obj && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char seg[128];
        if (n >= sizeof seg) return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (json_is_array(obj)) {
            char *end;
            errno = 0;
            unsigned long i = strtoul(seg, &end, 10);
            obj = n && !*end && !errno ? json_array_get(obj, i) : NULL;
        } else {
            obj = json_object_get(obj, seg);
        }
        p += n + (dot != NULL);
    }
    return obj;
}

/* Returns a new reference to the first present, non-null alternative of path, or NULL. */
static json_t *resolve(ctx_t *c, const json_t *cur, const char *path) {
    char alt[256];
    const char *p = path;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n >= sizeof alt) return NULL;
        memcpy(alt, p, n);
        alt[n] = '\0';
        const json_t *v = NULL;
        if (alt[0] == '@') {
            const char *h = hs_src_header(c->req, alt + 1);
            json_t *hv = h && h[0] ? json_string(h) : NULL; /* NULL too when not UTF-8 */
            if (hv) return hv;
        } else {
            v = hs_map_get(alt[0] == '$'   ? c->body
                           : alt[0] == '^' ? c->root
                                           : cur,
                           alt + (alt[0] == '$' || alt[0] == '^'));
        }
        if (v && !json_is_null(v)) return json_incref((json_t *)v);
        if (!bar) return NULL;
        p = bar + 1;
    }
}

static const char *json_kind(const json_t *v) {
    static const char *const names[] = {"object", "array", "string", "integer",
                                        "real",   "true",  "false",  "null"};
    return names[json_typeof(v)];
}

static json_t *fail(ctx_t *c, const hs_map_field_t *f, const char *fmt, const char *what) {
    char msg[160];
    snprintf(msg, sizeof msg, fmt, what);
    snprintf(c->err, c->errn, "%s%s%s: %s", c->where, c->where[0] && f->path[0] ? "." : "", f->path,
             msg);
    return NULL;
}

static json_t *lowered(const char *s, unsigned flags) {
    json_t *v = json_string(s);
    if (!v || !(flags & HS_MAP_LOWER)) return v;
    char *t = strdup(s);
    if (!t) {
        json_decref(v);
        return NULL;
    }
    for (char *q = t; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    json_string_set(v, t);
    free(t);
    return v;
}

/* Text of a scalar (string, integer, real, boolean) into buf; NULL for other kinds. */
static const char *scalar_text(const json_t *v, char *buf, size_t n) {
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, n, "%.15g", json_real_value(v));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return NULL;
    }
}

static json_t *to_integer(ctx_t *c, const hs_map_field_t *f, const json_t *v, json_int_t lo,
                          json_int_t hi) {
    json_int_t i;
    if (json_is_integer(v)) {
        i = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        errno = 0;
        long long l = strtoll(json_string_value(v), &end, 10);
        if (errno || end == json_string_value(v) || *end)
            return fail(c, f, "'%s' is not an integer", json_string_value(v));
        i = l;
    } else {
        return fail(c, f, "expected integer, got %s", json_kind(v));
    }
    if (i < lo || i > hi) return fail(c, f, "%s out of range", lo < -2147483648LL ? "long" : "int");
    return json_integer(i);
}

static json_t *to_time(ctx_t *c, const hs_map_field_t *f, const json_t *v) {
    int64_t ms;
    if (json_is_string(v)) {
        if (hs_sig_parse_iso8601_ms(json_string_value(v), &ms))
            return fail(c, f, "'%s' is not an ISO 8601 date-time", json_string_value(v));
        return json_integer(ms);
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) < 100000000000LL) /* seconds before year 5138 */
        return json_integer(json_integer_value(v) * 1000);
    return fail(c, f, "expected a date-time, got %s", json_kind(v));
}

static json_t *to_strings(ctx_t *c, const hs_map_field_t *f, const json_t *v) {
    json_t *out = json_array();
    char buf[64];
    if (json_is_string(v)) { /* "a, b, c" */
        const char *s = json_string_value(v);
        while (*s && out && json_array_size(out) < MAX_ITEMS) {
            const char *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            size_t a = 0, b = n;
            while (a < b && isspace((unsigned char)s[a]))
                a++;
            while (b > a && isspace((unsigned char)s[b - 1]))
                b--;
            if (b > a) json_array_append_new(out, json_stringn(s + a, b - a));
            s += n + (e != NULL);
        }
        return out;
    }
    if (!json_is_array(v)) {
        json_decref(out);
        return fail(c, f, "expected array, got %s", json_kind(v));
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        const char *t = scalar_text(item, buf, sizeof buf);
        if (!t || i >= MAX_ITEMS) {
            json_decref(out);
            return fail(c, f, "item %s is not a string", t ? "past the limit" : json_kind(item));
        }
        json_array_append_new(out, lowered(t, f->flags));
    }
    return out;
}

/* "Channel::WebWidget" → "web_widget". */
static json_t *to_snake(const char *s) {
    const char *colon = strrchr(s, ':');
    if (colon) s = colon + 1;
    char out[128];
    size_t k = 0;
    for (size_t i = 0; s[i] && k + 2 < sizeof out; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isupper(ch) && i > 0 && k > 0 && out[k - 1] != '_') out[k++] = '_';
        out[k++] = (char)tolower(ch);
    }
    return json_stringn(out, k);
}

static json_t *to_words(const hs_map_field_t *f, const char *s) {
    while (*s == ' ')
        s++;
    size_t n = strcspn(s, " ");
    if (f->kind == HS_MAP_FIRST_WORD) return n ? json_stringn(s, n) : NULL;
    s += n;
    while (*s == ' ')
        s++;
    return *s ? json_string(s) : NULL;
}

static json_t *build(ctx_t *c, const hs_map_field_t *fields, const json_t *cur);
static json_t *convert(ctx_t *c, const hs_map_field_t *f, const json_t *cur);

/* Runs build on obj with c->where extended by suffix, restored afterwards. */
static json_t *nested(ctx_t *c, const hs_map_field_t *fields, const json_t *obj,
                      const char *suffix) {
    size_t len = strlen(c->where);
    if (suffix[0]) snprintf(c->where + len, sizeof c->where - len, "%s%s", len ? "." : "", suffix);
    json_t *r = build(c, fields, obj);
    c->where[len] = '\0';
    return r;
}

static json_t *to_records(ctx_t *c, const hs_map_field_t *f, const json_t *v) {
    if (!json_is_array(v)) return fail(c, f, "expected array, got %s", json_kind(v));
    if (json_array_size(v) > MAX_ITEMS) return fail(c, f, "%s", "too many items");
    json_t *out = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        char suffix[160];
        snprintf(suffix, sizeof suffix, "%s[%zu]", f->path, i);
        json_t *r = json_is_object(item) ? nested(c, f->arg, item, suffix) : NULL;
        if (!r) {
            if (!json_is_object(item)) fail(c, f, "items must be objects, got %s", json_kind(item));
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, r);
    }
    return out;
}

/* Copies each scalar member of obj into attrs under prefix+member. */
static void attrs_each(json_t *attrs, const char *prefix, const json_t *obj) {
    const char *k;
    const json_t *m;
    char buf[64], key[256];
    json_object_foreach((json_t *)obj, k, m) {
        const char *t = scalar_text(m, buf, sizeof buf);
        if (!t || !t[0] || json_object_size(attrs) >= MAX_ITEMS) continue;
        snprintf(key, sizeof key, "%s%s", prefix, k);
        json_object_set_new(attrs, key, json_string(t));
    }
}

static json_t *to_attrs(ctx_t *c, const json_t *cur, const hs_map_field_t *sources) {
    json_t *attrs = json_object();
    char buf[64];
    for (const hs_map_field_t *s = sources; s->name && attrs; s++) {
        json_t *v = resolve(c, cur, s->path);
        if (s->kind == HS_MAP_EACH && json_is_object(v)) {
            attrs_each(attrs, s->name, v);
        } else if (v && s->kind != HS_MAP_EACH) {
            const char *t = scalar_text(v, buf, sizeof buf);
            if (t && t[0]) json_object_set_new(attrs, s->name, json_string(t));
        }
        json_decref(v);
    }
    return attrs;
}

/* The value of an absent field: its default, null, an empty collection, or an error. */
static json_t *absent(ctx_t *c, const hs_map_field_t *f) {
    if (f->kind == HS_MAP_STRING && f->arg) return json_string(f->arg);
    if (f->flags & HS_MAP_OPT) return json_null();
    switch (f->kind) {
    case HS_MAP_BOOL:
        return json_false();
    case HS_MAP_RECORDS:
    case HS_MAP_STRINGS:
        return json_array();
    case HS_MAP_ATTRS:
        return json_object();
    default:
        return fail(c, f, "%s", "missing");
    }
}

static json_t *convert_value(ctx_t *c, const hs_map_field_t *f, const json_t *v) {
    char buf[64];
    const char *t;
    switch (f->kind) {
    case HS_MAP_STRING:
        if (!(t = scalar_text(v, buf, sizeof buf)))
            return fail(c, f, "expected string, got %s", json_kind(v));
        return lowered(t, f->flags);
    case HS_MAP_INT:
        return to_integer(c, f, v, -2147483648LL, 2147483647LL);
    case HS_MAP_LONG:
        return to_integer(c, f, v, LLONG_MIN, LLONG_MAX);
    case HS_MAP_BOOL:
        return json_boolean(json_is_true(v) ||
                            (json_is_string(v) && f->arg && !strcmp(json_string_value(v), f->arg)));
    case HS_MAP_TIME_MS:
        return to_time(c, f, v);
    case HS_MAP_RECORD:
        if (!json_is_object(v)) return fail(c, f, "expected object, got %s", json_kind(v));
        return nested(c, f->arg, v, f->path);
    case HS_MAP_RECORDS:
        return to_records(c, f, v);
    case HS_MAP_STRINGS:
        return to_strings(c, f, v);
    case HS_MAP_FIRST_WORD:
    case HS_MAP_REST_WORDS:
    case HS_MAP_SNAKE:
        if (!json_is_string(v)) return fail(c, f, "expected string, got %s", json_kind(v));
        return f->kind == HS_MAP_SNAKE ? to_snake(json_string_value(v))
                                       : to_words(f, json_string_value(v));
    default:
        return fail(c, f, "%s", "bad mapping table");
    }
}

static json_t *convert(ctx_t *c, const hs_map_field_t *f, const json_t *cur) {
    if (f->kind == HS_MAP_ATTRS) return to_attrs(c, cur, f->arg);
    json_t *v = f->path[0] ? resolve(c, cur, f->path) : json_incref((json_t *)cur);
    json_t *out = v ? convert_value(c, f, v) : NULL;
    /* A word split of a one-word name has nothing to give: absent, like a missing field. */
    if (v && !out && (f->kind == HS_MAP_FIRST_WORD || f->kind == HS_MAP_REST_WORDS) &&
        json_is_string(v))
        out = absent(c, f);
    else if (!v)
        out = absent(c, f);
    json_decref(v);
    return out;
}

static json_t *build(ctx_t *c, const hs_map_field_t *fields, const json_t *cur) {
    json_t *obj = json_object();
    for (const hs_map_field_t *f = fields; obj && f->name; f++) {
        json_t *v = convert(c, f, cur);
        if (!v) {
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, f->name, v);
    }
    return obj;
}

static hs_err_t add_event(const hs_map_rule_t *r, json_t *data, hs_source_events_t *out,
                          char *errstr, size_t errstr_size) {
    const hs_event_type_t *t = hs_catalog_find(r->type);
    const json_t *key = t ? json_object_get(data, t->key_field) : NULL;
    if (!json_is_string(key) || out->n == HS_SOURCE_MAX_EVENTS) {
        json_decref(data);
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "%s: no key or too many events",
                       r->type);
    }
    hs_source_event_t *e = &out->ev[out->n];
    if (!(e->key = strdup(json_string_value(key)))) {
        json_decref(data);
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    }
    e->type = t->type;
    e->data = data;
    out->n++;
    return HS_OK;
}

hs_err_t hs_map_apply(const hs_map_rule_t *rules, const hs_source_cfg_t *cfg,
                      const hs_source_req_t *req, const hs_source_body_t *body,
                      const hs_source_class_t *cls, hs_source_events_t *out, char *errstr,
                      size_t errstr_size) {
    size_t first = out->n;
    hs_err_t rc = HS_OK;
    for (const hs_map_rule_t *r = rules; rc == HS_OK && r && r->provider_type; r++) {
        if (strcmp(r->provider_type, cls->type) != 0) continue;
        if ((rc = hs_src_need_json(body, errstr, errstr_size))) break;
        ctx_t c = {.req = req, .body = body->json, .err = errstr, .errn = errstr_size};
        c.root = r->root[0] ? hs_map_get(body->json, r->root) : body->json;
        if (!json_is_object(c.root)) {
            rc = hs_fail(HS_ERR_INVALID, errstr, errstr_size, "%s: expected an object",
                         r->root[0] ? r->root : "body");
            break;
        }
        if (r->when && !r->when(cfg, c.root)) continue;
        snprintf(c.where, sizeof c.where, "%s", r->root);
        json_t *data = build(&c, r->fields, c.root);
        if (!data) {
            rc = HS_ERR_INVALID;
            break;
        }
        if (r->finish && (rc = r->finish(cfg, data))) {
            json_decref(data);
            snprintf(errstr, errstr_size, "%s: cannot complete the event", r->type);
            break;
        }
        rc = add_event(r, data, out, errstr, errstr_size);
    }
    if (rc != HS_OK) { /* leave out as it was */
        hs_source_events_t tail = {.n = 0};
        for (size_t i = first; i < out->n; i++)
            tail.ev[tail.n++] = out->ev[i];
        hs_source_events_clear(&tail);
        out->n = first;
    }
    return rc;
}
