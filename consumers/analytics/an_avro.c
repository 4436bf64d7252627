/* Avro field picker: a schema compiled to a graph of nodes, walked over a body (see an_avro.h). */
#include "an_avro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 4096
#define MAX_DEPTH 64
#define MAX_PATH 256

typedef enum {
    K_NULL,
    K_BOOLEAN,
    K_INT,
    K_LONG,
    K_FLOAT,
    K_DOUBLE,
    K_BYTES,
    K_STRING,
    K_RECORD,
    K_ENUM,
    K_FIXED,
    K_ARRAY,
    K_MAP,
    K_UNION,
} kind_t;

/* One schema node. Children are node indexes: record field types, union branches, the items of
 * an array or the values of a map (children[0]). */
typedef struct {
    kind_t kind;
    int64_t n;     /* record: fields, union: branches, enum: symbols, fixed: size */
    int *children; /* n entries (1 for array and map) */
    int *picks;    /* record: pick slot of each field, -1 when not picked */
    char *name;    /* full name of a named type */
} node_t;

struct an_avro_plan {
    node_t *nodes;
    size_t n;
    int root;
    int npicks;
};

typedef struct {
    an_avro_plan_t *p;
    const char *const *paths;
    size_t npicks;
    char *err;
    size_t errn;
} compile_t;

static const struct {
    const char *name;
    kind_t kind;
} primitives[] = {{"null", K_NULL},   {"boolean", K_BOOLEAN}, {"int", K_INT},
                  {"long", K_LONG},   {"float", K_FLOAT},     {"double", K_DOUBLE},
                  {"bytes", K_BYTES}, {"string", K_STRING}};

static int node_add(compile_t *c, kind_t kind) {
    if (c->p->n == MAX_NODES) {
        hs_fail(HS_ERR_INVALID, c->err, c->errn, "schema has more than %d types", MAX_NODES);
        return -1;
    }
    node_t *grown = realloc(c->p->nodes, (c->p->n + 1) * sizeof *grown);
    if (!grown) abort();
    c->p->nodes = grown;
    grown[c->p->n] = (node_t){.kind = kind};
    return (int)c->p->n++;
}

static void fullname(const char *name, const char *ns, char *out, size_t n) {
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, n, "%s", name);
    else
        snprintf(out, n, "%s.%s", ns, name);
}

static int lookup_named(compile_t *c, const char *name, const char *ns) {
    char full[512];
    fullname(name, ns, full, sizeof full);
    for (size_t i = 0; i < c->p->n; i++) {
        const char *nm = c->p->nodes[i].name;
        if (nm && (!strcmp(nm, full) || !strcmp(nm, name))) return (int)i;
    }
    hs_fail(HS_ERR_INVALID, c->err, c->errn, "unknown type '%s'", name);
    return -1;
}

static int pick_of(const compile_t *c, const char *path) {
    for (size_t i = 0; path && i < c->npicks; i++)
        if (c->paths[i] && !strcmp(c->paths[i], path)) return (int)i;
    return -1;
}

static int compile_type(compile_t *c, const json_t *t, const char *ns, const char *path, int depth);

/* Registers a named type (record, enum, fixed) before its fields, so recursive types resolve.
 * ns is the enclosing namespace; a dotted name or a "namespace" member overrides it. */
static int named_add(compile_t *c, kind_t kind, const json_t *t, const char *ns) {
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *own_ns = json_string_value(json_object_get(t, "namespace"));
    if (!name) {
        hs_fail(HS_ERR_INVALID, c->err, c->errn, "named type without a name");
        return -1;
    }
    char full[512];
    fullname(name, own_ns ? own_ns : ns, full, sizeof full);
    int id = node_add(c, kind);
    if (id < 0) return -1;
    if (!(c->p->nodes[id].name = strdup(full))) abort();
    return id;
}

static int compile_record(compile_t *c, const json_t *t, const char *ns, const char *path,
                          int depth) {
    char ns_buf[512];
    int id = named_add(c, K_RECORD, t, ns);
    if (id < 0) return -1;
    /* The namespace of a dotted name is everything before its last dot. */
    const char *full = c->p->nodes[id].name;
    const char *dot = strrchr(full, '.');
    snprintf(ns_buf, sizeof ns_buf, "%.*s", dot ? (int)(dot - full) : 0, full);
    const json_t *fields = json_object_get(t, "fields");
    if (!json_is_array(fields)) {
        hs_fail(HS_ERR_INVALID, c->err, c->errn, "record %s without fields", full);
        return -1;
    }
    size_t nf = json_array_size(fields);
    int *children = calloc(nf ? nf : 1, sizeof *children);
    int *picks = calloc(nf ? nf : 1, sizeof *picks);
    if (!children || !picks) abort();
    c->p->nodes[id].children = children;
    c->p->nodes[id].picks = picks;
    c->p->nodes[id].n = (int64_t)nf;
    for (size_t i = 0; i < nf; i++) {
        const json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!fname) {
            hs_fail(HS_ERR_INVALID, c->err, c->errn, "record %s: field without a name", full);
            return -1;
        }
        char fpath[MAX_PATH];
        int fits = path && snprintf(fpath, sizeof fpath, "%s%s%s", path, *path ? "." : "", fname) <
                               (int)sizeof fpath;
        picks[i] = pick_of(c, fits ? fpath : NULL);
        int child =
            compile_type(c, json_object_get(f, "type"), ns_buf, fits ? fpath : NULL, depth + 1);
        if (child < 0) return -1;
        /* realloc in compile_type may have moved the node array: index again */
        c->p->nodes[id].children[i] = child;
    }
    return id;
}

static int compile_object(compile_t *c, const json_t *t, const char *ns, const char *path,
                          int depth) {
    const char *type = json_string_value(json_object_get(t, "type"));
    if (!type) {
        hs_fail(HS_ERR_INVALID, c->err, c->errn, "type object without a type name");
        return -1;
    }
    if (!strcmp(type, "record") || !strcmp(type, "error"))
        return compile_record(c, t, ns, path, depth);
    if (!strcmp(type, "enum") || !strcmp(type, "fixed")) {
        int enm = !strcmp(type, "enum");
        int id = named_add(c, enm ? K_ENUM : K_FIXED, t, ns);
        if (id < 0) return -1;
        const json_t *v = json_object_get(t, enm ? "symbols" : "size");
        c->p->nodes[id].n = enm ? (int64_t)json_array_size(v) : (int64_t)json_integer_value(v);
        return id;
    }
    if (!strcmp(type, "array") || !strcmp(type, "map")) {
        int id = node_add(c, !strcmp(type, "array") ? K_ARRAY : K_MAP);
        if (id < 0) return -1;
        int child = compile_type(c, json_object_get(t, *type == 'a' ? "items" : "values"), ns, NULL,
                                 depth + 1);
        if (child < 0) return -1;
        int *children = malloc(sizeof *children);
        if (!children) abort();
        children[0] = child;
        c->p->nodes[id].children = children;
        c->p->nodes[id].n = 1;
        return id;
    }
    /* {"type": "long", "logicalType": ...} and other wrapped primitives or references */
    return compile_type(c, json_object_get(t, "type"), ns, path, depth + 1);
}

static int compile_union(compile_t *c, const json_t *t, const char *ns, const char *path,
                         int depth) {
    int id = node_add(c, K_UNION);
    if (id < 0) return -1;
    size_t nb = json_array_size(t);
    int *children = calloc(nb ? nb : 1, sizeof *children);
    if (!children) abort();
    c->p->nodes[id].children = children;
    c->p->nodes[id].n = (int64_t)nb;
    for (size_t i = 0; i < nb; i++) {
        int child = compile_type(c, json_array_get(t, i), ns, path, depth + 1);
        if (child < 0) return -1;
        c->p->nodes[id].children[i] = child;
    }
    return id;
}

static int compile_type(compile_t *c, const json_t *t, const char *ns, const char *path,
                        int depth) {
    if (depth > MAX_DEPTH) {
        hs_fail(HS_ERR_INVALID, c->err, c->errn, "schema nested deeper than %d", MAX_DEPTH);
        return -1;
    }
    if (json_is_string(t)) {
        const char *s = json_string_value(t);
        for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
            if (!strcmp(s, primitives[i].name)) return node_add(c, primitives[i].kind);
        return lookup_named(c, s, ns);
    }
    if (json_is_array(t)) return compile_union(c, t, ns, path, depth);
    if (json_is_object(t)) return compile_object(c, t, ns, path, depth);
    hs_fail(HS_ERR_INVALID, c->err, c->errn, "not a schema");
    return -1;
}

an_avro_plan_t *an_avro_plan_new(const json_t *schema, const char *const *paths, size_t npicks,
                                 char *errstr, size_t errstr_size) {
    an_avro_plan_t *p = calloc(1, sizeof *p);
    if (!p) abort();
    compile_t c = {p, paths, npicks < AN_AVRO_MAX_PICKS ? npicks : AN_AVRO_MAX_PICKS, errstr,
                   errstr_size};
    p->npicks = (int)c.npicks;
    if ((p->root = compile_type(&c, schema, NULL, "", 0)) < 0) {
        an_avro_plan_destroy(p);
        return NULL;
    }
    return p;
}

void an_avro_plan_destroy(an_avro_plan_t *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->nodes[i].children);
        free(p->nodes[i].picks);
        free(p->nodes[i].name);
    }
    free(p->nodes);
    free(p);
}

/* ---- running ------------------------------------------------------------------------------ */

typedef struct {
    const an_avro_plan_t *p;
    const unsigned char *start, *cur, *end;
    an_avro_val_t *vals;
    char *err;
    size_t errn;
} run_t;

static int bad(run_t *r, const char *why) {
    hs_fail(HS_ERR_INVALID, r->err, r->errn, "avro body: %s at byte %zu", why,
            (size_t)(r->cur - r->start));
    return -1;
}

/* Reads a zigzag varint long. */
static int read_long(run_t *r, int64_t *out) {
    if (r->cur < r->end && !(*r->cur & 0x80)) { /* one byte: most lengths, indexes, counts */
        unsigned b = *r->cur++;
        *out = (int64_t)(b >> 1) ^ -(int64_t)(b & 1);
        return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->cur == r->end) return bad(r, "truncated number");
        unsigned char b = *r->cur++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return bad(r, "number longer than 10 bytes");
}

static int skip(run_t *r, size_t n) {
    if ((size_t)(r->end - r->cur) < n) return bad(r, "truncated value");
    r->cur += n;
    return 0;
}

static int walk(run_t *r, int id, int slot, int depth);

/* Array and map blocks: counts (negative: followed by the block's byte size), ended by 0. */
static int walk_blocks(run_t *r, const node_t *nd, int depth) {
    for (;;) {
        int64_t count, bytes;
        if (read_long(r, &count)) return -1;
        if (count == 0) return 0;
        if (count < 0) {
            if (count == INT64_MIN || read_long(r, &bytes)) return bad(r, "bad block count");
            count = -count;
        }
        if (count > r->end - r->cur) return bad(r, "block count larger than the input");
        for (int64_t i = 0; i < count; i++) {
            if (nd->kind == K_MAP) {
                int64_t klen;
                if (read_long(r, &klen) || klen < 0 || skip(r, (size_t)klen))
                    return bad(r, "bad map key");
            }
            if (walk(r, nd->children[0], -1, depth + 1)) return -1;
        }
    }
}

static int walk_string(run_t *r, int slot) {
    int64_t len;
    if (read_long(r, &len)) return -1;
    if (len < 0 || len > r->end - r->cur) return bad(r, "string length out of range");
    if (slot >= 0) r->vals[slot] = (an_avro_val_t){AN_VAL_STR, (const char *)r->cur, (size_t)len};
    r->cur += len;
    return 0;
}

static int walk_int(run_t *r, int slot) {
    int64_t v;
    if (read_long(r, &v)) return -1;
    if (slot >= 0) r->vals[slot] = (an_avro_val_t){.kind = AN_VAL_INT, .i = v};
    return 0;
}

static int walk(run_t *r, int id, int slot, int depth) {
    const node_t *nd = &r->p->nodes[id];
    int64_t v;
    if (depth > MAX_DEPTH) return bad(r, "nested too deep");
    if (slot >= 0) r->vals[slot].kind = AN_VAL_OTHER;
    switch (nd->kind) {
    case K_NULL:
        if (slot >= 0) r->vals[slot].kind = AN_VAL_NULL;
        return 0;
    case K_BOOLEAN:
        if (r->cur == r->end || *r->cur > 1) return bad(r, "bad boolean");
        if (slot >= 0) r->vals[slot] = (an_avro_val_t){.kind = AN_VAL_INT, .i = *r->cur};
        r->cur++;
        return 0;
    case K_INT:
    case K_LONG:
        return walk_int(r, slot);
    case K_FLOAT:
        return skip(r, 4);
    case K_DOUBLE:
        return skip(r, 8);
    case K_STRING:
        return walk_string(r, slot);
    case K_BYTES:
        if (walk_string(r, -1)) return -1;
        return 0;
    case K_FIXED:
        return skip(r, (size_t)nd->n);
    case K_ENUM:
        if (read_long(r, &v)) return -1;
        return v < 0 || v >= nd->n ? bad(r, "enum index out of range") : 0;
    case K_UNION:
        if (read_long(r, &v)) return -1;
        if (v < 0 || v >= nd->n) return bad(r, "union branch out of range");
        return walk(r, nd->children[v], slot, depth + 1);
    case K_RECORD:
        for (int64_t i = 0; i < nd->n; i++)
            if (walk(r, nd->children[i], nd->picks[i], depth + 1)) return -1;
        return 0;
    case K_ARRAY:
    case K_MAP:
        return walk_blocks(r, nd, depth);
    }
    return bad(r, "unknown node");
}

hs_err_t an_avro_run(const an_avro_plan_t *p, const void *body, size_t len, an_avro_val_t *vals,
                     char *errstr, size_t errstr_size) {
    run_t r = {p, body, body, (const unsigned char *)body + len, vals, errstr, errstr_size};
    for (int i = 0; i < p->npicks; i++)
        vals[i] = (an_avro_val_t){0};
    if (walk(&r, p->root, -1, 0)) return HS_ERR_INVALID;
    if (r.cur != r.end)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "avro body: %zu trailing bytes",
                       (size_t)(r.end - r.cur));
    return HS_OK;
}
