/* Schema side of the hs_avro module: parses schema text with avro-c (the validator other tools
 * agree with) and compiles the same JSON into the node tree of hs_avro_node.h, keeping field
 * defaults that avro-c drops. The codec itself is in hs_avro_encode.c and hs_avro_decode.c. */
#include "hs_avro_node.h"

#include <stdarg.h>
#include <string.h>

typedef struct {
    hs_avro_schema_t *s;
    char *errstr;
    size_t errstr_size;
} compile_t;

static const struct {
    const char *name;
    hs_avro_kind_t kind;
} primitives[] = {
    {"null", HS_AVRO_NULL},   {"boolean", HS_AVRO_BOOLEAN}, {"int", HS_AVRO_INT},
    {"long", HS_AVRO_LONG},   {"float", HS_AVRO_FLOAT},     {"double", HS_AVRO_DOUBLE},
    {"bytes", HS_AVRO_BYTES}, {"string", HS_AVRO_STRING},
};

static hs_avro_node_t *node_new(compile_t *c, hs_avro_kind_t kind, const char *name) {
    hs_avro_node_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->name = strdup(name);
    if (!n->name) {
        free(n);
        return NULL;
    }
    n->next_alloc = c->s->nodes;
    c->s->nodes = n;
    return n;
}

__attribute__((format(printf, 2, 3))) static hs_avro_node_t *fail(compile_t *c, const char *fmt,
                                                                  ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hs_fail(HS_ERR_INVALID, c->errstr, c->errstr_size, "schema: %s", msg);
    return NULL;
}

static int is_named(const hs_avro_node_t *n) {
    return n->kind == HS_AVRO_RECORD || n->kind == HS_AVRO_ENUM || n->kind == HS_AVRO_FIXED;
}

/* Resolves a type reference the Avro way: a dotted name is already full, a simple name is
 * looked up in the enclosing namespace first, then in the null namespace. */
static hs_avro_node_t *lookup_named(compile_t *c, const char *name, const char *ns) {
    char full[512];
    if (!strchr(name, '.') && ns && ns[0]) {
        snprintf(full, sizeof full, "%s.%s", ns, name);
        for (hs_avro_node_t *n = c->s->nodes; n; n = n->next_alloc)
            if (is_named(n) && strcmp(n->name, full) == 0) return n;
    }
    for (hs_avro_node_t *n = c->s->nodes; n; n = n->next_alloc)
        if (is_named(n) && strcmp(n->name, name) == 0) return n;
    return NULL;
}

static hs_avro_node_t *compile(compile_t *c, const json_t *t, const char *ns, int depth);

static hs_avro_node_t *compile_name(compile_t *c, const char *name, const char *ns) {
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (strcmp(name, primitives[i].name) == 0) return node_new(c, primitives[i].kind, name);
    hs_avro_node_t *n = lookup_named(c, name, ns);
    return n ? n : fail(c, "unknown type '%s'", name);
}

/* Creates the node of a named type; *child_ns receives the namespace its fields resolve in. */
static hs_avro_node_t *named_new(compile_t *c, const json_t *t, hs_avro_kind_t kind, const char *ns,
                                 char *child_ns, size_t child_ns_size) {
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *own_ns = json_string_value(json_object_get(t, "namespace"));
    if (!name) return fail(c, "named type without a name");
    char full[512];
    if (strchr(name, '.'))
        snprintf(full, sizeof full, "%s", name);
    else if (own_ns ? own_ns[0] : ns && ns[0])
        snprintf(full, sizeof full, "%s.%s", own_ns ? own_ns : ns, name);
    else
        snprintf(full, sizeof full, "%s", name);
    const char *dot = strrchr(full, '.');
    snprintf(child_ns, child_ns_size, "%.*s", dot ? (int)(dot - full) : 0, full);
    return node_new(c, kind, full);
}

static hs_avro_node_t *compile_record(compile_t *c, const json_t *t, const char *ns, int depth) {
    char child_ns[512];
    hs_avro_node_t *n = named_new(c, t, HS_AVRO_RECORD, ns, child_ns, sizeof child_ns);
    const json_t *fields = json_object_get(t, "fields");
    if (!n || !json_is_array(fields)) return n ? fail(c, "record %s: no fields", n->name) : n;
    n->fields = calloc(json_array_size(fields) + 1, sizeof *n->fields);
    if (!n->fields) return NULL;
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        hs_avro_field_t *out = &n->fields[n->nfields];
        out->name = json_string_value(json_object_get(f, "name"));
        if (!out->name) return fail(c, "record %s: field without a name", n->name);
        out->name_len = strlen(out->name);
        out->def = json_object_get(f, "default");
        out->type = compile(c, json_object_get(f, "type"), child_ns, depth + 1);
        if (!out->type) return NULL;
        n->nfields++;
    }
    return n;
}

static hs_avro_node_t *compile_enum(compile_t *c, const json_t *t, const char *ns) {
    char child_ns[512];
    hs_avro_node_t *n = named_new(c, t, HS_AVRO_ENUM, ns, child_ns, sizeof child_ns);
    const json_t *symbols = json_object_get(t, "symbols");
    if (!n || !json_is_array(symbols)) return n ? fail(c, "enum %s: no symbols", n->name) : n;
    n->symbols = calloc(json_array_size(symbols) + 1, sizeof *n->symbols);
    if (!n->symbols) return NULL;
    size_t i;
    const json_t *sym;
    json_array_foreach(symbols, i, sym) {
        if (!json_is_string(sym)) return fail(c, "enum %s: symbol is not a string", n->name);
        n->symbols[n->nsymbols++] = json_string_value(sym);
    }
    return n;
}

static hs_avro_node_t *compile_fixed(compile_t *c, const json_t *t, const char *ns) {
    char child_ns[512];
    hs_avro_node_t *n = named_new(c, t, HS_AVRO_FIXED, ns, child_ns, sizeof child_ns);
    json_int_t size = json_integer_value(json_object_get(t, "size"));
    if (n && (!json_is_integer(json_object_get(t, "size")) || size < 0))
        return fail(c, "fixed %s: bad size", n->name);
    if (n) n->size = (size_t)size;
    return n;
}

static hs_avro_node_t *compile_union(compile_t *c, const json_t *t, const char *ns, int depth) {
    hs_avro_node_t *n = node_new(c, HS_AVRO_UNION, "union");
    if (!n) return NULL;
    n->branches = calloc(json_array_size(t) + 1, sizeof *n->branches);
    if (!n->branches) return NULL;
    size_t i;
    const json_t *b;
    json_array_foreach(t, i, b) {
        n->branches[i] = compile(c, b, ns, depth + 1);
        if (!n->branches[i]) return NULL;
        n->nbranches++;
    }
    return n;
}

static hs_avro_node_t *compile_object(compile_t *c, const json_t *t, const char *ns, int depth) {
    const json_t *type = json_object_get(t, "type");
    const char *name = json_string_value(type);
    if (!name) return compile(c, type, ns, depth + 1);
    if (strcmp(name, "record") == 0 || strcmp(name, "error") == 0)
        return compile_record(c, t, ns, depth);
    if (strcmp(name, "enum") == 0) return compile_enum(c, t, ns);
    if (strcmp(name, "fixed") == 0) return compile_fixed(c, t, ns);
    int array = strcmp(name, "array") == 0;
    if (array || strcmp(name, "map") == 0) {
        hs_avro_node_t *n = node_new(c, array ? HS_AVRO_ARRAY : HS_AVRO_MAP, name);
        if (!n) return NULL;
        n->items = compile(c, json_object_get(t, array ? "items" : "values"), ns, depth + 1);
        return n->items ? n : NULL;
    }
    /* {"type": "long", "logicalType": "timestamp-millis"} and the like: the annotation does not
     * change the encoding. */
    return compile_name(c, name, ns);
}

static hs_avro_node_t *compile(compile_t *c, const json_t *t, const char *ns, int depth) {
    if (depth > HS_AVRO_MAX_DEPTH)
        return fail(c, "nested deeper than %d levels", HS_AVRO_MAX_DEPTH);
    if (json_is_string(t)) return compile_name(c, json_string_value(t), ns);
    if (json_is_array(t)) return compile_union(c, t, ns, depth);
    if (json_is_object(t)) return compile_object(c, t, ns, depth);
    return fail(c, "%s is not a type", t ? "a JSON value of that kind" : "a missing value");
}

/* Avro requires a union field's default to match the union's first branch. Each default is
 * encoded here once (a union's with the index of branch 0 in front), so encoding an event that
 * leaves the field out only copies bytes. */
static hs_err_t check_defaults(hs_avro_schema_t *s, char *errstr, size_t errstr_size) {
    for (hs_avro_node_t *n = s->nodes; n; n = n->next_alloc) {
        for (size_t i = 0; i < n->nfields; i++) {
            hs_avro_field_t *f = &n->fields[i];
            if (!f->def) continue;
            const hs_avro_node_t *t = f->type;
            int in_union = t->kind == HS_AVRO_UNION && t->nbranches;
            if (in_union) t = t->branches[0];
            char why[256];
            size_t len = in_union;
            f->def_avro = calloc(1, 1); /* the zigzag varint of branch index 0 is one 0 byte */
            if (!f->def_avro)
                return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "schema: out of memory");
            if (hs_avro_encode_node(t, f->def, &f->def_avro, &len, why, sizeof why) != HS_OK)
                return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                               "schema: field %s.%s: bad default: %s", n->name, f->name, why);
            f->def_avro_len = len;
        }
    }
    return HS_OK;
}

hs_avro_schema_t *hs_avro_schema_parse(const char *json, char *errstr, size_t errstr_size) {
    if (errstr && errstr_size) errstr[0] = '\0';
    if (!json) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "schema: no text");
        return NULL;
    }
    hs_avro_schema_t *s = calloc(1, sizeof *s);
    if (!s) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "schema: out of memory");
        return NULL;
    }
    json_error_t jerr;
    s->json = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (!s->json) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "schema: invalid JSON at line %d: %s",
                jerr.line, jerr.text);
        hs_avro_schema_destroy(s);
        return NULL;
    }
    if (avro_schema_from_json_length(json, strlen(json), &s->raw) != 0) {
        s->raw = NULL;
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "schema: %s", avro_strerror());
        hs_avro_schema_destroy(s);
        return NULL;
    }
    compile_t c = {s, errstr, errstr_size};
    s->root = compile(&c, s->json, "", 0);
    if (!s->root || check_defaults(s, errstr, errstr_size) != HS_OK) {
        if (!s->root && errstr && errstr_size && !errstr[0])
            hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "schema: out of memory");
        hs_avro_schema_destroy(s);
        return NULL;
    }
    return s;
}

void hs_avro_schema_destroy(hs_avro_schema_t *s) {
    if (!s) return;
    for (hs_avro_node_t *n = s->nodes, *next; n; n = next) {
        next = n->next_alloc;
        free(n->name);
        for (size_t i = 0; i < n->nfields; i++)
            free(n->fields[i].def_avro);
        free(n->fields);
        free(n->branches);
        free(n->symbols);
        free(n);
    }
    if (s->raw) avro_schema_decref(s->raw);
    json_decref(s->json);
    free(s);
}

const char *hs_avro_schema_fullname(const hs_avro_schema_t *s) {
    return s->root->name;
}

avro_schema_t hs_avro_schema_raw(const hs_avro_schema_t *s) {
    return s->raw;
}
