/* Avro schema resolution over jansson: a schema is parsed into a table of its named types (which
 * also validates it), then reader and writer are walked together following the resolution rules
 * of the Avro 1.11 specification. Recursive named types terminate because a (reader, writer)
 * pair of records already being compared is assumed compatible (co-inductive check). */
#include "hs_compat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64
#define MAX_PAIRS 256
#define PATH_SIZE 1024

/* Type kinds; kind_names is indexed by them. */
typedef int kind_t;
enum { K_NULL, K_BOOLEAN, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_BYTES, K_STRING };
enum { K_RECORD = K_STRING + 1, K_ENUM, K_ARRAY, K_MAP, K_FIXED, K_UNION, K_NONE };
#define IS_NAMED(k) ((k) == K_RECORD || (k) == K_ENUM || (k) == K_FIXED)

static const char *const kind_names[] = {"null",   "boolean", "int",    "long",   "float",
                                         "double", "bytes",   "string", "record", "enum",
                                         "array",  "map",     "fixed",  "union",  "?"};

/* A type as written (name, definition object or union array) and the namespace around it. */
typedef struct {
    json_t *j;
    const char *ns;
} ref_t;

/* root: the parsed JSON; names: full name → [definition, its namespace] (the namespace names
 * inside the definition resolve against). */
typedef struct {
    json_t *root, *names;
} schema_t;

/* What each mode checks: the new schema reads old data (backward), old schemas read new data
 * (forward), against the latest or against every version (transitive). */
static const struct {
    const char *name;
    hs_compat_mode_t mode;
    int backward, forward, transitive;
} modes[] = {
    {"NONE", HS_COMPAT_NONE, 0, 0, 0},
    {"BACKWARD", HS_COMPAT_BACKWARD, 1, 0, 0},
    {"BACKWARD_TRANSITIVE", HS_COMPAT_BACKWARD_TRANSITIVE, 1, 0, 1},
    {"FORWARD", HS_COMPAT_FORWARD, 0, 1, 0},
    {"FORWARD_TRANSITIVE", HS_COMPAT_FORWARD_TRANSITIVE, 0, 1, 1},
    {"FULL", HS_COMPAT_FULL, 1, 1, 0},
    {"FULL_TRANSITIVE", HS_COMPAT_FULL_TRANSITIVE, 1, 1, 1},
};
#define NMODES (sizeof modes / sizeof modes[0])

int hs_compat_mode_parse(const char *name) {
    for (size_t i = 0; name && i < NMODES; i++)
        if (!strcasecmp(name, modes[i].name)) return (int)modes[i].mode;
    return -1;
}

const char *hs_compat_mode_name(hs_compat_mode_t m) {
    return (size_t)m < NMODES ? modes[m].name : "UNKNOWN";
}

/* Kind named s among kinds [from, to]; "error" is the old name of a record. */
static kind_t kind_named(const char *s, kind_t from, kind_t to) {
    for (kind_t k = from; k <= to; k++)
        if (!strcmp(s, kind_names[k])) return k;
    return from == K_RECORD && !strcmp(s, "error") ? K_RECORD : K_NONE;
}

/* Frees s and leaves it empty (freeing it again is a no-op). */
/* Returns how many elements of array equal v. */
static size_t count_equal(json_t *array, json_t *v) {
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(array); i++)
        count += json_equal(json_array_get(array, i), v) != 0;
    return count;
}

static void schema_free(schema_t *s) {
    json_decref(s->names);
    json_decref(s->root);
    *s = (schema_t){0};
}

/* Writes the full name of named definition def declared inside namespace ns (spec naming
 * rules: a dotted name is full; else "namespace", else the enclosing one). -1 without a name. */
static int def_fullname(json_t *def, const char *ns, char full[512]) {
    const char *name = json_string_value(json_object_get(def, "name"));
    const char *own = json_string_value(json_object_get(def, "namespace"));
    if (!name || !*name) return -1;
    if (own) ns = own;
    int bare = strchr(name, '.') || !*ns;
    snprintf(full, 512, "%s%s%s", bare ? "" : ns, bare ? "" : ".", name);
    return 0;
}

/* Returns [definition, namespace] of the type `name` used inside namespace ns, NULL if none. */
static json_t *lookup(const schema_t *s, const char *name, const char *ns) {
    char full[512];
    int qualify = !strchr(name, '.') && *ns;
    snprintf(full, sizeof full, "%s%s%s", qualify ? ns : "", qualify ? "." : "", name);
    json_t *nt = json_object_get(s->names, full);
    return nt ? nt : json_object_get(s->names, name);
}

/* Resolves r to the JSON that defines it (following names and {"type": "x"} wrappers). */
static kind_t resolve(const schema_t *s, ref_t r, ref_t *out) {
    for (int hops = 0; hops < MAX_DEPTH; hops++) {
        *out = r;
        if (json_is_array(r.j)) return K_UNION;
        if (json_is_string(r.j)) {
            const char *name = json_string_value(r.j);
            kind_t k = kind_named(name, K_NULL, K_STRING);
            if (k != K_NONE) return k;
            json_t *nt = lookup(s, name, r.ns);
            if (!nt) return K_NONE;
            r = (ref_t){json_array_get(nt, 0), json_string_value(json_array_get(nt, 1))};
            continue;
        }
        json_t *t = json_object_get(r.j, "type");
        if (json_is_string(t)) {
            kind_t k = kind_named(json_string_value(t), K_RECORD, K_FIXED);
            char full[512];
            json_t *nt = IS_NAMED(k) && !def_fullname(r.j, r.ns, full) ? lookup(s, full, "") : 0;
            if (nt) out->ns = json_string_value(json_array_get(nt, 1));
            if (k != K_NONE) return k;
        }
        r.j = t;
    }
    return K_NONE;
}

static hs_err_t invalid(char *e, size_t n, const char *path, const char *what) {
    return hs_fail(HS_ERR_INVALID, e, n, "invalid schema at '%s': %s", *path ? path : "(root)",
                   what);
}

static int default_ok(const schema_t *s, ref_t r, json_t *v, int depth);

static int record_default_ok(const schema_t *s, ref_t r, json_t *v, int depth) {
    if (!json_is_object(v)) return 0;
    json_t *fields = json_object_get(r.j, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        json_t *fv = json_object_get(v, json_string_value(json_object_get(f, "name")));
        if (!fv) fv = json_object_get(f, "default");
        if (!fv || !default_ok(s, (ref_t){json_object_get(f, "type"), r.ns}, fv, depth + 1))
            return 0;
    }
    return 1;
}

/* Whether v is a valid default for type r (a union's default must match its first branch). */
static int default_ok(const schema_t *s, ref_t r, json_t *v, int depth) {
    ref_t d;
    if (depth > MAX_DEPTH) return 0;
    kind_t k = resolve(s, r, &d);
    if (k == K_NULL) return json_is_null(v);
    if (k == K_BOOLEAN) return json_is_boolean(v);
    if (k == K_INT || k == K_LONG) return json_is_integer(v);
    if (k == K_FLOAT || k == K_DOUBLE) return json_is_number(v);
    if (k == K_BYTES || k == K_STRING || k == K_FIXED) return json_is_string(v);
    if (k == K_RECORD) return record_default_ok(s, d, v, depth);
    if (k == K_UNION)
        return json_array_size(d.j) > 0 &&
               default_ok(s, (ref_t){json_array_get(d.j, 0), d.ns}, v, depth + 1);
    if (k == K_ENUM) return json_is_string(v) && count_equal(json_object_get(d.j, "symbols"), v);
    if (k != K_ARRAY && k != K_MAP) return 0;
    ref_t it = {json_object_get(d.j, k == K_ARRAY ? "items" : "values"), d.ns};
    if (k == K_ARRAY ? !json_is_array(v) : !json_is_object(v)) return 0;
    for (void *iter = json_object_iter(v); iter; iter = json_object_iter_next(v, iter))
        if (!default_ok(s, it, json_object_iter_value(iter), depth + 1)) return 0;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!default_ok(s, it, json_array_get(v, i), depth + 1)) return 0;
    return 1;
}

static hs_err_t define(schema_t *s, ref_t r, char *path, size_t plen, int depth, char *e, size_t n);

static hs_err_t define_fields(schema_t *s, ref_t r, char *path, size_t plen, int depth, char *e,
                              size_t n) {
    json_t *fields = json_object_get(r.j, "fields");
    if (!json_is_array(fields)) return invalid(e, n, path, "record without a 'fields' array");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!fname || !*fname) return invalid(e, n, path, "field without a name");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(fname,
                        json_string_value(json_object_get(json_array_get(fields, j), "name"))))
                return invalid(e, n, path, "duplicate field name");
        snprintf(path + plen, PATH_SIZE - plen, "%s%s", plen ? "." : "", fname);
        ref_t ft = {json_object_get(f, "type"), r.ns};
        if (!ft.j) return invalid(e, n, path, "field without a type");
        hs_err_t err = define(s, ft, path, strlen(path), depth + 1, e, n);
        if (err) return err;
        json_t *def = json_object_get(f, "default");
        if (def && !default_ok(s, ft, def, 0))
            return invalid(e, n, path, "default value does not match the field type");
        path[plen] = 0;
    }
    return HS_OK;
}

static hs_err_t define_named(schema_t *s, ref_t r, kind_t k, char *path, size_t plen, int depth,
                             char *e, size_t n) {
    char full[512];
    if (def_fullname(r.j, r.ns, full)) return invalid(e, n, path, "named type without a name");
    if (lookup(s, full, "")) return invalid(e, n, path, "a type with this name is already defined");
    const char *dot = strrchr(full, '.');
    json_t *nt = json_pack("[Os#]", r.j, full, dot ? (int)(dot - full) : 0);
    if (!nt || json_object_set_new(s->names, full, nt))
        return hs_fail(HS_ERR_INTERNAL, e, n, "out of memory");
    if (k == K_RECORD)
        return define_fields(s, (ref_t){r.j, json_string_value(json_array_get(nt, 1))}, path, plen,
                             depth, e, n);
    if (k == K_FIXED) {
        json_t *size = json_object_get(r.j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return invalid(e, n, path, "fixed without a non-negative integer 'size'");
        return HS_OK;
    }
    json_t *sym = json_object_get(r.j, "symbols"), *def = json_object_get(r.j, "default");
    if (!json_is_array(sym)) return invalid(e, n, path, "enum without a 'symbols' array");
    for (size_t i = 0; i < json_array_size(sym); i++) {
        if (!json_is_string(json_array_get(sym, i)))
            return invalid(e, n, path, "enum symbol is not a string");
        if (count_equal(sym, json_array_get(sym, i)) > 1)
            return invalid(e, n, path, "duplicate enum symbol");
    }
    if (def && !default_ok(s, r, def, 0))
        return invalid(e, n, path, "enum default is not one of its symbols");
    return HS_OK;
}

static hs_err_t define_union(schema_t *s, ref_t r, char *path, size_t plen, int depth, char *e,
                             size_t n) {
    for (size_t i = 0; i < json_array_size(r.j); i++) {
        ref_t b = {json_array_get(r.j, i), r.ns}, d, d2;
        hs_err_t err = define(s, b, path, plen, depth + 1, e, n);
        if (err) return err;
        kind_t k = resolve(s, b, &d);
        if (k == K_UNION) return invalid(e, n, path, "union directly inside a union");
        for (size_t j = 0; j < i; j++) {
            kind_t k2 = resolve(s, (ref_t){json_array_get(r.j, j), r.ns}, &d2);
            if (k2 == k && (d.j == d2.j || !IS_NAMED(k)))
                return invalid(e, n, path, "union holds the same type twice");
        }
    }
    return HS_OK;
}

/* Registers the named types of r (in definition order) and validates its structure. */
static hs_err_t define(schema_t *s, ref_t r, char *path, size_t plen, int depth, char *e,
                       size_t n) {
    ref_t d;
    if (depth > MAX_DEPTH) return invalid(e, n, path, "nested deeper than 64 levels");
    if (json_is_array(r.j)) return define_union(s, r, path, plen, depth, e, n);
    if (json_is_string(r.j))
        return resolve(s, r, &d) == K_NONE ? invalid(e, n, path, "unknown type name") : HS_OK;
    if (!json_is_object(r.j)) return invalid(e, n, path, "a type must be a name, object or array");
    json_t *t = json_object_get(r.j, "type");
    if (!json_is_string(t)) return define(s, (ref_t){t, r.ns}, path, plen, depth + 1, e, n);
    kind_t k = kind_named(json_string_value(t), K_RECORD, K_FIXED);
    if (IS_NAMED(k)) return define_named(s, r, k, path, plen, depth, e, n);
    if (k == K_ARRAY || k == K_MAP) {
        json_t *inner = json_object_get(r.j, k == K_ARRAY ? "items" : "values");
        if (!inner)
            return invalid(e, n, path,
                           k == K_ARRAY ? "array without 'items'" : "map without 'values'");
        return define(s, (ref_t){inner, r.ns}, path, plen, depth + 1, e, n);
    }
    return define(s, (ref_t){t, r.ns}, path, plen, depth + 1, e, n);
}

static hs_err_t schema_parse(schema_t *s, const char *json, const char *role, char *e, size_t n) {
    json_error_t jerr = {0};
    char path[PATH_SIZE] = "";
    s->names = json_object();
    s->root = json_loads(json ? json : "", JSON_DECODE_ANY, &jerr);
    if (!s->root || !s->names) {
        schema_free(s);
        return hs_fail(HS_ERR_INVALID, e, n, "%s schema is not JSON: %s (line %d)", role, jerr.text,
                       jerr.line);
    }
    hs_err_t err = define(s, (ref_t){s->root, ""}, path, 0, 0, e, n);
    if (err) schema_free(s);
    return err;
}

typedef struct {
    const schema_t *r, *w;
    json_t *pairs[MAX_PAIRS][2]; /* (reader, writer) records being compared */
    size_t npairs, n;
    char path[PATH_SIZE], *e;
} check_t;

static const char *at(const check_t *c) {
    return *c->path ? c->path : "(root)";
}

static const char *unqualified(const char *name) {
    const char *dot = name ? strrchr(name, '.') : NULL;
    return dot ? dot + 1 : name ? name : "";
}

/* Reader and writer named types match by unqualified name or a reader alias. */
static int names_match(json_t *rdef, json_t *wdef) {
    const char *wn = unqualified(json_string_value(json_object_get(wdef, "name")));
    if (!strcmp(unqualified(json_string_value(json_object_get(rdef, "name"))), wn)) return 1;
    json_t *aliases = json_object_get(rdef, "aliases");
    for (size_t i = 0; i < json_array_size(aliases); i++)
        if (!strcmp(unqualified(json_string_value(json_array_get(aliases, i))), wn)) return 1;
    return 0;
}

static int promotable(kind_t w, kind_t r) {
    return (w == K_INT && (r == K_LONG || r == K_FLOAT || r == K_DOUBLE)) ||
           (w == K_LONG && (r == K_FLOAT || r == K_DOUBLE)) || (w == K_FLOAT && r == K_DOUBLE) ||
           (w == K_STRING && r == K_BYTES) || (w == K_BYTES && r == K_STRING);
}

static hs_err_t check(check_t *c, ref_t r, ref_t w, int depth);

static json_t *writer_field(json_t *wfields, json_t *rf) {
    const char *name = json_string_value(json_object_get(rf, "name"));
    json_t *aliases = json_object_get(rf, "aliases");
    for (size_t i = 0; i < json_array_size(wfields); i++) {
        json_t *wf = json_array_get(wfields, i);
        const char *wn = json_string_value(json_object_get(wf, "name"));
        if (!strcmp(wn, name)) return wf;
        for (size_t a = 0; a < json_array_size(aliases); a++)
            if (!strcmp(wn, json_string_value(json_array_get(aliases, a)))) return wf;
    }
    return NULL;
}

static hs_err_t check_record(check_t *c, ref_t r, ref_t w, int depth) {
    for (size_t i = 0; i < c->npairs; i++)
        if (c->pairs[i][0] == r.j && c->pairs[i][1] == w.j) return HS_OK;
    if (c->npairs == MAX_PAIRS)
        return hs_fail(HS_ERR_INVALID, c->e, c->n, "schemas nest too many records");
    c->pairs[c->npairs][0] = r.j;
    c->pairs[c->npairs++][1] = w.j;
    json_t *rfields = json_object_get(r.j, "fields"), *wfields = json_object_get(w.j, "fields");
    size_t plen = strlen(c->path);
    hs_err_t err = HS_OK;
    for (size_t i = 0; !err && i < json_array_size(rfields); i++) {
        json_t *rf = json_array_get(rfields, i), *wf = writer_field(wfields, rf);
        snprintf(c->path + plen, sizeof c->path - plen, "%s%s", plen ? "." : "",
                 json_string_value(json_object_get(rf, "name")));
        if (wf)
            err = check(c, (ref_t){json_object_get(rf, "type"), r.ns},
                        (ref_t){json_object_get(wf, "type"), w.ns}, depth + 1);
        else if (!json_object_get(rf, "default"))
            err =
                hs_fail(HS_ERR_CONFLICT, c->e, c->n,
                        "reader field '%s' has no default and is missing from the writer", c->path);
        c->path[plen] = 0;
    }
    c->npairs--;
    return err;
}

static hs_err_t check_enum(check_t *c, ref_t r, ref_t w) {
    json_t *rs = json_object_get(r.j, "symbols"), *ws = json_object_get(w.j, "symbols");
    if (json_object_get(r.j, "default")) return HS_OK;
    for (size_t i = 0; i < json_array_size(ws); i++)
        if (!count_equal(rs, json_array_get(ws, i)))
            return hs_fail(HS_ERR_CONFLICT, c->e, c->n,
                           "writer enum symbol '%s' at '%s' is missing from the reader enum, "
                           "which has no default",
                           json_string_value(json_array_get(ws, i)), at(c));
    return HS_OK;
}

/* Reader union: some branch must read the writer's type. The reason reported is that of the
 * branch of the same kind (and name), which is the one a user meant to match. */
static hs_err_t check_reader_union(check_t *c, ref_t r, ref_t w, kind_t wk, ref_t wd, int depth) {
    hs_err_t matched = HS_OK;
    char reason[512], *e = c->e;
    size_t n = c->n;
    for (size_t i = 0; i < json_array_size(r.j); i++) {
        ref_t b = {json_array_get(r.j, i), r.ns}, bd;
        kind_t bk = resolve(c->r, b, &bd);
        c->e = reason;
        c->n = sizeof reason;
        hs_err_t err = check(c, b, w, depth + 1);
        c->e = e;
        c->n = n;
        if (!err) return HS_OK;
        if (!matched && bk == wk && (!IS_NAMED(bk) || names_match(bd.j, wd.j)))
            matched = hs_fail(err, e, n, "%s", reason);
    }
    if (matched) return matched;
    return hs_fail(HS_ERR_CONFLICT, e, n,
                   "type mismatch at '%s': writer %s, reader union has no branch that reads it",
                   at(c), kind_names[wk]);
}

static hs_err_t check(check_t *c, ref_t r, ref_t w, int depth) {
    ref_t rd, wd;
    kind_t rk = resolve(c->r, r, &rd), wk = resolve(c->w, w, &wd);
    if (depth > MAX_DEPTH) return hs_fail(HS_ERR_INVALID, c->e, c->n, "schemas nest too deep");
    for (size_t i = 0; wk == K_UNION && i < json_array_size(wd.j); i++) {
        hs_err_t err = check(c, r, (ref_t){json_array_get(wd.j, i), wd.ns}, depth + 1);
        if (err) return err;
    }
    if (wk == K_UNION) return HS_OK; /* every writer branch is readable */
    if (rk == K_UNION) return check_reader_union(c, rd, w, wk, wd, depth);
    if (rk != wk && promotable(wk, rk)) return HS_OK;
    if (rk != wk)
        return hs_fail(HS_ERR_CONFLICT, c->e, c->n, "type mismatch at '%s': writer %s, reader %s",
                       at(c), kind_names[wk], kind_names[rk]);
    if (IS_NAMED(rk) && !names_match(rd.j, wd.j))
        return hs_fail(HS_ERR_CONFLICT, c->e, c->n,
                       "name mismatch at '%s': writer %s '%s', reader %s '%s' (and no alias)",
                       at(c), kind_names[wk], json_string_value(json_object_get(wd.j, "name")),
                       kind_names[rk], json_string_value(json_object_get(rd.j, "name")));
    if (rk == K_RECORD) return check_record(c, rd, wd, depth);
    if (rk == K_ENUM) return check_enum(c, rd, wd);
    if (rk == K_FIXED) {
        json_int_t rs = json_integer_value(json_object_get(rd.j, "size"));
        json_int_t ws = json_integer_value(json_object_get(wd.j, "size"));
        if (rs == ws) return HS_OK;
        return hs_fail(HS_ERR_CONFLICT, c->e, c->n,
                       "fixed size mismatch at '%s': writer %lld, reader %lld", at(c), ws, rs);
    }
    if (rk != K_ARRAY && rk != K_MAP) return HS_OK;
    const char *inner = rk == K_ARRAY ? "items" : "values";
    size_t plen = strlen(c->path);
    snprintf(c->path + plen, sizeof c->path - plen, rk == K_ARRAY ? "[]" : "{}");
    hs_err_t err = check(c, (ref_t){json_object_get(rd.j, inner), rd.ns},
                         (ref_t){json_object_get(wd.j, inner), wd.ns}, depth + 1);
    c->path[plen] = 0;
    return err;
}

static hs_err_t can_read(const schema_t *r, const schema_t *w, char *errstr, size_t n) {
    check_t *c = calloc(1, sizeof *c);
    if (!c) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    *c = (check_t){.r = r, .w = w, .e = errstr, .n = n};
    hs_err_t err = check(c, (ref_t){r->root, ""}, (ref_t){w->root, ""}, 0);
    free(c);
    return err;
}

hs_err_t hs_compat_can_read(const char *reader_json, const char *writer_json, char *errstr,
                            size_t n) {
    schema_t r, w = {0};
    hs_err_t err = schema_parse(&r, reader_json, "reader", errstr, n);
    if (!err) err = schema_parse(&w, writer_json, "writer", errstr, n);
    if (!err) err = can_read(&r, &w, errstr, n);
    schema_free(&r);
    schema_free(&w);
    return err;
}

/* Checks one direction of the mode against existing schema i; prefixes the reason. */
static hs_err_t check_one(const schema_t *cand, const char *old_json, int backward, size_t i,
                          size_t total, int transitive, char *errstr, size_t n) {
    schema_t old;
    char reason[768], which[64];
    hs_err_t err = schema_parse(&old, old_json, "existing", errstr, n);
    if (err) return err;
    err = backward ? can_read(cand, &old, reason, sizeof reason)
                   : can_read(&old, cand, reason, sizeof reason);
    schema_free(&old);
    if (!err) return HS_OK;
    snprintf(which, sizeof which,
             transitive && i + 1 < total ? "schema %zu of %zu" : "the latest schema", i + 1, total);
    return hs_fail(err, errstr, n,
                   backward ? "the new schema cannot read data written with %s: %s"
                            : "%s cannot read data written with the new schema: %s",
                   which, reason);
}

hs_err_t hs_compat_check(hs_compat_mode_t mode, const char *candidate, const char *const *existing,
                         size_t nexisting, char *errstr, size_t n) {
    schema_t cand;
    hs_err_t err = schema_parse(&cand, candidate, "new", errstr, n);
    if (err) return err;
    if ((size_t)mode >= NMODES) err = hs_fail(HS_ERR_INVALID, errstr, n, "unknown mode %d", mode);
    int backward = !err && modes[mode].backward, forward = !err && modes[mode].forward;
    int transitive = !err && modes[mode].transitive;
    size_t first = transitive || nexisting == 0 ? 0 : nexisting - 1;
    for (size_t i = nexisting; !err && (backward || forward) && i-- > first;) {
        if (backward) err = check_one(&cand, existing[i], 1, i, nexisting, transitive, errstr, n);
        if (!err && forward)
            err = check_one(&cand, existing[i], 0, i, nexisting, transitive, errstr, n);
    }
    schema_free(&cand);
    return err;
}
