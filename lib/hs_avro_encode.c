/* JSON → Avro binary. Walks the compiled schema and the JSON value together, appending to the
 * caller's buffer; every refusal names the field path ("line_items[1].quantity") and why.
 * The path is kept as a stack of borrowed segments and only formatted when an error is reported:
 * the hot path never prints. On any error the caller's length is restored, so nothing
 * half-written is ever visible. */
#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "hs_avro_node.h"

/* One step of the path: a field or map key (name, borrowed from the schema or the value) or,
 * when name is NULL, an array index. */
typedef struct {
    const char *name;
    size_t len; /* of name; the index itself for an array step */
} seg_t;

/* Records, arrays and maps each push one step and the deepest record may add an unknown key. */
#define MAX_SEGS (HS_AVRO_MAX_DEPTH + 2)
#define PATH_MAX_CHARS 511 /* longer paths lose their last steps */

typedef struct {
    char **buf;
    size_t *len;
    size_t cap;
    seg_t seg[MAX_SEGS];
    size_t nseg;
    int depth;
    char *errstr;
    size_t errstr_size;
} enc_t;

typedef hs_err_t (*encode_fn)(enc_t *e, const hs_avro_node_t *n, const json_t *v);
static hs_err_t encode(enc_t *e, const hs_avro_node_t *n, const json_t *v);

/* Pushes a step and returns the depth to pop back to; steps beyond MAX_SEGS are not kept. */
static size_t push_name(enc_t *e, const char *name, size_t len) {
    size_t mark = e->nseg;
    if (e->nseg < MAX_SEGS) e->seg[e->nseg++] = (seg_t){name, len};
    return mark;
}

static size_t push_index(enc_t *e, size_t i) {
    return push_name(e, NULL, i);
}

/* "line_items[1].quantity"; a step that does not fit whole is left out. */
static void format_path(const enc_t *e, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < e->nseg; i++) {
        const seg_t *s = &e->seg[i];
        int n = s->name ? snprintf(out + used, size - used, "%s%.*s", used ? "." : "", (int)s->len,
                                   s->name)
                        : snprintf(out + used, size - used, "[%zu]", s->len);
        if (n < 0 || (size_t)n >= size - used) {
            out[used] = '\0';
            continue;
        }
        used += (size_t)n;
    }
}

__attribute__((format(printf, 2, 3))) static hs_err_t bad(enc_t *e, const char *fmt, ...) {
    char msg[384], path[PATH_MAX_CHARS + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_path(e, path, sizeof path);
    if (path[0]) return hs_fail(HS_ERR_INVALID, e->errstr, e->errstr_size, "%s: %s", path, msg);
    return hs_fail(HS_ERR_INVALID, e->errstr, e->errstr_size, "%s", msg);
}

/* Describes a JSON value for "got ..." in messages, e.g. `string "two"` or `integer 5`. */
static const char *describe(const json_t *v, char *out, size_t size) {
    static const char *const kinds[] = {
        [JSON_OBJECT] = "object",       [JSON_ARRAY] = "array", [JSON_STRING] = "string",
        [JSON_INTEGER] = "integer",     [JSON_REAL] = "number", [JSON_TRUE] = "boolean true",
        [JSON_FALSE] = "boolean false", [JSON_NULL] = "null",
    };
    const char *kind = kinds[json_typeof(v)];
    if (json_is_string(v))
        snprintf(out, size, "%s \"%.40s%s\"", kind, json_string_value(v),
                 json_string_length(v) > 40 ? "..." : "");
    else if (json_is_integer(v))
        snprintf(out, size, "%s %" JSON_INTEGER_FORMAT, kind, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, size, "%s %.17g", kind, json_real_value(v));
    else
        snprintf(out, size, "%s", kind);
    return out;
}

static hs_err_t mismatch(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    char got[80];
    const char *what = n->kind == HS_AVRO_RECORD  ? "object for record "
                       : n->kind == HS_AVRO_ENUM  ? "symbol of enum "
                       : n->kind == HS_AVRO_FIXED ? "string for fixed "
                                                  : "";
    return bad(e, "expected %s%s, got %s", what, n->name, describe(v, got, sizeof got));
}

static hs_err_t put(enc_t *e, const void *data, size_t n) {
    if (*e->len + n > e->cap) {
        size_t cap = e->cap * 2 > 256 ? e->cap * 2 : 256;
        while (cap < *e->len + n)
            cap *= 2;
        char *nb = realloc(*e->buf, cap);
        if (!nb) return hs_fail(HS_ERR_INTERNAL, e->errstr, e->errstr_size, "out of memory");
        *e->buf = nb;
        e->cap = cap;
    }
    memcpy(*e->buf + *e->len, data, n);
    *e->len += n;
    return HS_OK;
}

/* Avro ints and longs are zigzag-encoded base-128 varints, least significant group first. */
static hs_err_t put_long(enc_t *e, int64_t v) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(z & 0x7f);
        z >>= 7;
        if (z) b[n] |= 0x80;
        n++;
    } while (z);
    return put(e, b, n);
}

static hs_err_t put_le(enc_t *e, uint64_t bits, size_t n) {
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    return put(e, b, n);
}

static hs_err_t enc_null(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    return json_is_null(v) ? HS_OK : mismatch(e, n, v);
}

static hs_err_t enc_boolean(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_boolean(v)) return mismatch(e, n, v);
    unsigned char b = json_is_true(v);
    return put(e, &b, 1);
}

static hs_err_t enc_int(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_integer(v)) return mismatch(e, n, v);
    json_int_t i = json_integer_value(v);
    if (n->kind == HS_AVRO_INT && (i < INT32_MIN || i > INT32_MAX))
        return bad(e, "%" JSON_INTEGER_FORMAT " out of int range", i);
    return put_long(e, (int64_t)i);
}

static hs_err_t enc_float(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_number(v)) return mismatch(e, n, v);
    double d = json_number_value(v);
    if (n->kind == HS_AVRO_DOUBLE) {
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return put_le(e, bits, 8);
    }
    if (d > FLT_MAX || d < -FLT_MAX) return bad(e, "%.17g out of float range", d);
    float f = (float)d;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return put_le(e, bits, 4);
}

/* Avro's JSON convention for bytes: each character of the string (a code point 0-255) is one
 * byte. Returns the byte count, or -1 with *bad_cp set to the first code point above 255. */
static long byte_count(const json_t *v, unsigned *bad_cp) {
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v);
    long count = 0;
    for (size_t i = 0; i < len; count++) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) != 0xc0 || s[i] > 0xc3) {
            unsigned cp = s[i] & (s[i] >= 0xf0 ? 0x07 : s[i] >= 0xe0 ? 0x0f : 0x1f);
            for (size_t k = 1; k < 4 && i + k < len && (s[i + k] & 0xc0) == 0x80; k++)
                cp = cp << 6 | (s[i + k] & 0x3f);
            *bad_cp = cp;
            return -1;
        }
        i += 2;
    }
    return count;
}

static hs_err_t put_bytes_of(enc_t *e, const json_t *v, size_t count) {
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v);
    size_t at = *e->len;
    hs_err_t err = put(e, s, count); /* reserves the room; overwritten below */
    for (size_t i = 0; i < len && !err;) {
        (*e->buf)[at++] =
            (char)(s[i] < 0x80 ? s[i] : (unsigned char)((s[i] & 0x03) << 6 | (s[i + 1] & 0x3f)));
        i += s[i] < 0x80 ? 1 : 2;
    }
    return err;
}

static hs_err_t enc_bytes(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_string(v)) return mismatch(e, n, v);
    unsigned cp = 0;
    long count = byte_count(v, &cp);
    if (count < 0)
        return bad(e, "character U+%04X is not a byte (%s are strings of code points 0-255)", cp,
                   n->kind == HS_AVRO_FIXED ? "fixed values" : "bytes");
    if (n->kind == HS_AVRO_FIXED) {
        if ((size_t)count != n->size)
            return bad(e, "expected %zu bytes for fixed %s, got %ld", n->size, n->name, count);
    } else {
        hs_err_t err = put_long(e, count);
        if (err) return err;
    }
    return put_bytes_of(e, v, (size_t)count);
}

static hs_err_t enc_string(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_string(v)) return mismatch(e, n, v);
    size_t len = json_string_length(v);
    hs_err_t err = put_long(e, (int64_t)len);
    return err ? err : put(e, json_string_value(v), len);
}

static long enum_index(const hs_avro_node_t *n, const char *sym) {
    for (size_t i = 0; i < n->nsymbols; i++)
        if (strcmp(n->symbols[i], sym) == 0) return (long)i;
    return -1;
}

static hs_err_t enc_enum(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_string(v)) return mismatch(e, n, v);
    long i = enum_index(n, json_string_value(v));
    if (i >= 0) return put_long(e, i);
    char list[256] = "";
    size_t used = 0;
    for (size_t k = 0; k < n->nsymbols && used < sizeof list; k++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", n->symbols[k]);
        if (w > 0) used += (size_t)w;
    }
    return bad(e, "'%.64s' is not a symbol of enum %s (%s)", json_string_value(v), n->name, list);
}

static const hs_avro_field_t *field_named(const hs_avro_node_t *n, const char *name) {
    for (size_t i = 0; i < n->nfields; i++)
        if (strcmp(n->fields[i].name, name) == 0) return &n->fields[i];
    return NULL;
}

/* A missing field takes its default, encoded at parse time (before that, while the defaults
 * themselves are being checked, from the JSON); a union's default belongs to its first branch. */
static hs_err_t enc_default(enc_t *e, const hs_avro_field_t *f) {
    if (f->def_avro) return put(e, f->def_avro, f->def_avro_len);
    if (f->type->kind != HS_AVRO_UNION) return encode(e, f->type, f->def);
    hs_err_t err = put_long(e, 0);
    return err ? err : encode(e, f->type->branches[0], f->def);
}

static hs_err_t enc_record(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_object(v)) return mismatch(e, n, v);
    const char *key;
    size_t klen;
    const json_t *val;
    json_object_keylen_foreach((json_t *)v, key, klen, val) {
        if (strlen(key) == klen && field_named(n, key)) continue;
        push_name(e, key, klen);
        return bad(e, "unknown field");
    }
    for (size_t i = 0; i < n->nfields; i++) {
        const hs_avro_field_t *f = &n->fields[i];
        size_t mark = push_name(e, f->name, f->name_len);
        val = json_object_get(v, f->name);
        hs_err_t err = val      ? encode(e, f->type, val)
                       : f->def ? enc_default(e, f)
                                : bad(e, "missing required field");
        if (err) return err;
        e->nseg = mark;
    }
    return HS_OK;
}

static hs_err_t enc_array(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_array(v)) return mismatch(e, n, v);
    size_t count = json_array_size(v);
    hs_err_t err = count ? put_long(e, (int64_t)count) : HS_OK;
    for (size_t i = 0; i < count && !err; i++) {
        size_t mark = push_index(e, i);
        err = encode(e, n->items, json_array_get(v, i));
        if (!err) e->nseg = mark;
    }
    return err ? err : put_long(e, 0);
}

static hs_err_t enc_map(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    if (!json_is_object(v)) return mismatch(e, n, v);
    size_t count = json_object_size(v);
    hs_err_t err = count ? put_long(e, (int64_t)count) : HS_OK;
    const char *key;
    size_t klen;
    const json_t *val;
    json_object_keylen_foreach((json_t *)v, key, klen, val) {
        if (err) break;
        size_t mark = push_name(e, key, klen);
        if (!(err = put_long(e, (int64_t)klen)) && !(err = put(e, key, klen)))
            err = encode(e, n->items, val);
        if (!err) e->nseg = mark;
    }
    return err ? err : put_long(e, 0);
}

/* Whether a plain JSON value can be meant for a union branch, judged cheaply from its JSON
 * type (and range, symbol or size), one test per kind. */
typedef int (*fits_fn)(const hs_avro_node_t *b, const json_t *v);

static int fits_null(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_null(v);
}
static int fits_boolean(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_boolean(v);
}
static int fits_int(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
           json_integer_value(v) <= INT32_MAX;
}
static int fits_long(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_integer(v);
}
static int fits_number(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_number(v);
}
static int fits_string(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_string(v);
}
static int fits_bytes(const hs_avro_node_t *b, const json_t *v) {
    unsigned cp;
    long n = json_is_string(v) ? byte_count(v, &cp) : -1;
    return b->kind == HS_AVRO_FIXED ? n == (long)b->size : n >= 0;
}
static int fits_enum(const hs_avro_node_t *b, const json_t *v) {
    return json_is_string(v) && enum_index(b, json_string_value(v)) >= 0;
}
static int fits_object(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_object(v);
}
static int fits_array(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    return json_is_array(v);
}
static int fits_nothing(const hs_avro_node_t *b, const json_t *v) {
    (void)b;
    (void)v;
    return 0;
}

static const fits_fn fits[] = {
    [HS_AVRO_NULL] = fits_null,   [HS_AVRO_BOOLEAN] = fits_boolean, [HS_AVRO_INT] = fits_int,
    [HS_AVRO_LONG] = fits_long,   [HS_AVRO_FLOAT] = fits_number,    [HS_AVRO_DOUBLE] = fits_number,
    [HS_AVRO_BYTES] = fits_bytes, [HS_AVRO_STRING] = fits_string,   [HS_AVRO_RECORD] = fits_object,
    [HS_AVRO_ENUM] = fits_enum,   [HS_AVRO_FIXED] = fits_bytes,     [HS_AVRO_ARRAY] = fits_array,
    [HS_AVRO_MAP] = fits_object,  [HS_AVRO_UNION] = fits_nothing,
};

/* Avro's JSON encoding wraps a union value as {"<branch name>": value}; we accept that form to
 * settle ambiguous cases. Named branches match by full or simple name. */
static long wrapped_branch(const hs_avro_node_t *n, const json_t *v, const json_t **inner) {
    if (!json_is_object(v) || json_object_size(v) != 1) return -1;
    const char *key = json_object_iter_key(json_object_iter((json_t *)v));
    for (size_t i = 0; i < n->nbranches; i++) {
        const char *name = n->branches[i]->name;
        const char *dot = strrchr(name, '.');
        if (strcmp(name, key) == 0 || (dot && strcmp(dot + 1, key) == 0)) {
            *inner = json_object_get(v, key);
            return (long)i;
        }
    }
    return -1;
}

static hs_err_t enc_branch(enc_t *e, const hs_avro_node_t *n, size_t i, const json_t *v) {
    hs_err_t err = put_long(e, (int64_t)i);
    return err ? err : encode(e, n->branches[i], v);
}

static hs_err_t enc_union(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    const json_t *inner;
    long w = wrapped_branch(n, v, &inner);
    if (w >= 0) return enc_branch(e, n, (size_t)w, inner);
    /* Try each branch the value fits, in order; report the first one's complaint when all
     * refuse (the most likely intent, e.g. the record of ["null", record]). */
    size_t start = *e->len, mark = e->nseg;
    char first[512] = "";
    hs_err_t first_err = HS_OK;
    for (size_t i = 0; i < n->nbranches; i++) {
        if (!fits[n->branches[i]->kind](n->branches[i], v)) continue;
        hs_err_t err = enc_branch(e, n, i, v);
        if (!err) return HS_OK;
        if (err != HS_ERR_INVALID) return err;
        if (!first_err) {
            first_err = err;
            snprintf(first, sizeof first, "%s", e->errstr ? e->errstr : "");
        }
        *e->len = start;
        e->nseg = mark;
    }
    if (first_err) return hs_fail(first_err, e->errstr, e->errstr_size, "%s", first);
    char names[256] = "", got[80];
    size_t used = 0;
    for (size_t i = 0; i < n->nbranches && used < sizeof names; i++) {
        int k = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                         n->branches[i]->name);
        if (k > 0) used += (size_t)k;
    }
    return bad(e, "expected one of [%s], got %s", names, describe(v, got, sizeof got));
}

static const encode_fn encoders[] = {
    [HS_AVRO_NULL] = enc_null,   [HS_AVRO_BOOLEAN] = enc_boolean, [HS_AVRO_INT] = enc_int,
    [HS_AVRO_LONG] = enc_int,    [HS_AVRO_FLOAT] = enc_float,     [HS_AVRO_DOUBLE] = enc_float,
    [HS_AVRO_BYTES] = enc_bytes, [HS_AVRO_STRING] = enc_string,   [HS_AVRO_RECORD] = enc_record,
    [HS_AVRO_ENUM] = enc_enum,   [HS_AVRO_FIXED] = enc_bytes,     [HS_AVRO_ARRAY] = enc_array,
    [HS_AVRO_MAP] = enc_map,     [HS_AVRO_UNION] = enc_union,
};

static hs_err_t encode(enc_t *e, const hs_avro_node_t *n, const json_t *v) {
    int container = n->kind == HS_AVRO_RECORD || n->kind == HS_AVRO_ARRAY || n->kind == HS_AVRO_MAP;
    if (container && ++e->depth > HS_AVRO_MAX_DEPTH)
        return bad(e, "nested deeper than %d levels", HS_AVRO_MAX_DEPTH);
    hs_err_t err = encoders[n->kind](e, n, v);
    if (container) e->depth--;
    return err;
}

hs_err_t hs_avro_encode_node(const hs_avro_node_t *node, const json_t *value, char **buf,
                             size_t *len, char *errstr, size_t errstr_size) {
    enc_t e = {.buf = buf, .len = len, .cap = *len, .errstr = errstr, .errstr_size = errstr_size};
    size_t start = *len;
    if (!value) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "no value to encode");
    hs_err_t err = encode(&e, node, value);
    if (err) *len = start;
    return err;
}

hs_err_t hs_avro_encode_json(const hs_avro_schema_t *s, const json_t *value, char **buf,
                             size_t *len, char *errstr, size_t errstr_size) {
    return hs_avro_encode_node(s->root, value, buf, len, errstr, errstr_size);
}
