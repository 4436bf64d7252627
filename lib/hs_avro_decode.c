/* Avro binary → plain JSON. Written for untrusted input: every read is checked against the end
 * of the buffer, every length is checked against what is left before anything is allocated,
 * nesting is bounded, and elements that take no bytes (null, empty records) are counted
 * against a budget so a few bytes cannot expand into millions of values. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "hs_avro_node.h"

/* Elements of zero encoded size a decode may produce, on top of one per input byte. */
#define ZERO_SIZE_BUDGET 4096

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    hs_avro_path_t path;
    int depth;
    size_t budget;
    char *errstr;
    size_t errstr_size;
} dec_t;

typedef hs_err_t (*decode_fn)(dec_t *d, const hs_avro_node_t *n, json_t **out);
static hs_err_t decode(dec_t *d, const hs_avro_node_t *n, json_t **out);

__attribute__((format(printf, 2, 3))) static hs_err_t bad(dec_t *d, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->path.len)
        return hs_fail(HS_ERR_INVALID, d->errstr, d->errstr_size, "%s: %s", d->path.text, msg);
    return hs_fail(HS_ERR_INVALID, d->errstr, d->errstr_size, "%s", msg);
}

static size_t left(const dec_t *d) {
    return (size_t)(d->end - d->p);
}

static hs_err_t need(dec_t *d, size_t n) {
    if (n <= left(d)) return HS_OK;
    return bad(d, "truncated input (need %zu bytes, %zu left)", n, left(d));
}

static hs_err_t oom(dec_t *d) {
    return hs_fail(HS_ERR_INTERNAL, d->errstr, d->errstr_size, "out of memory");
}

static hs_err_t get_long(dec_t *d, int64_t *v) {
    uint64_t z = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (need(d, 1)) return HS_ERR_INVALID;
        unsigned char b = *d->p++;
        if (shift == 63 && b > 1) return bad(d, "varint overflows a long");
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return HS_OK;
        }
    }
    return bad(d, "varint longer than 10 bytes");
}

/* Reads a length prefix (bytes, string, map key) and checks it against the remaining input. */
static hs_err_t get_length(dec_t *d, size_t *n) {
    int64_t v;
    if (get_long(d, &v)) return HS_ERR_INVALID;
    if (v < 0) return bad(d, "negative length %lld", (long long)v);
    if ((uint64_t)v > left(d))
        return bad(d, "length %lld exceeds the %zu bytes left", (long long)v, left(d));
    *n = (size_t)v;
    return HS_OK;
}

static hs_err_t set(dec_t *d, json_t *v, json_t **out) {
    if (!v) return oom(d);
    *out = v;
    return HS_OK;
}

static hs_err_t dec_null(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    (void)n;
    return set(d, json_null(), out);
}

static hs_err_t dec_boolean(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    (void)n;
    if (need(d, 1)) return HS_ERR_INVALID;
    unsigned char b = *d->p++;
    if (b > 1) return bad(d, "boolean byte is %u, not 0 or 1", b);
    return set(d, json_boolean(b), out);
}

static hs_err_t dec_int(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    int64_t v;
    if (get_long(d, &v)) return HS_ERR_INVALID;
    if (n->kind == HS_AVRO_INT && (v < INT32_MIN || v > INT32_MAX))
        return bad(d, "%lld out of int range", (long long)v);
    return set(d, json_integer((json_int_t)v), out);
}

static hs_err_t dec_float(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    size_t size = n->kind == HS_AVRO_DOUBLE ? 8 : 4;
    if (need(d, size)) return HS_ERR_INVALID;
    uint64_t bits = 0;
    for (size_t i = 0; i < size; i++)
        bits |= (uint64_t)d->p[i] << (8 * i);
    d->p += size;
    double v;
    if (size == 8) {
        memcpy(&v, &bits, sizeof v);
    } else {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        v = f;
    }
    json_t *j = json_real(v);
    if (!j) return bad(d, "%s value %g has no JSON form", n->name, v);
    *out = j;
    return HS_OK;
}

/* bytes and fixed become strings of code points 0-255 (Avro's JSON convention). */
static hs_err_t bytes_to_json(dec_t *d, size_t n, json_t **out) {
    char *s = malloc(2 * n + 1);
    if (!s) return oom(d);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = d->p[i];
        if (b < 0x80) {
            s[k++] = (char)b;
        } else {
            s[k++] = (char)(0xc0 | b >> 6);
            s[k++] = (char)(0x80 | (b & 0x3f));
        }
    }
    d->p += n;
    json_t *j = json_stringn_nocheck(s, k);
    free(s);
    return set(d, j, out);
}

static hs_err_t dec_bytes(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    size_t len = n->size;
    if (n->kind == HS_AVRO_FIXED ? need(d, len) : get_length(d, &len)) return HS_ERR_INVALID;
    return bytes_to_json(d, len, out);
}

static hs_err_t get_string(dec_t *d, json_t **out) {
    size_t len = 0;
    if (get_length(d, &len)) return HS_ERR_INVALID;
    json_t *j = json_stringn((const char *)d->p, len);
    if (!j) return bad(d, "string is not valid UTF-8");
    d->p += len;
    *out = j;
    return HS_OK;
}

static hs_err_t dec_string(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    (void)n;
    return get_string(d, out);
}

static hs_err_t get_index(dec_t *d, size_t count, const char *what, size_t *i) {
    int64_t v;
    if (get_long(d, &v)) return HS_ERR_INVALID;
    if (v < 0 || (uint64_t)v >= count)
        return bad(d, "%s index %lld out of range 0..%zu", what, (long long)v, count - 1);
    *i = (size_t)v;
    return HS_OK;
}

static hs_err_t dec_enum(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    size_t i = 0;
    if (get_index(d, n->nsymbols, "enum", &i)) return HS_ERR_INVALID;
    return set(d, json_string(n->symbols[i]), out);
}

static hs_err_t dec_union(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    size_t i = 0;
    if (get_index(d, n->nbranches, "union branch", &i)) return HS_ERR_INVALID;
    return decode(d, n->branches[i], out);
}

static hs_err_t dec_record(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    json_t *obj = json_object();
    if (!obj) return oom(d);
    for (size_t i = 0; i < n->nfields; i++) {
        size_t mark = hs_avro_path_field(&d->path, n->fields[i].name);
        json_t *v;
        hs_err_t err = decode(d, n->fields[i].type, &v);
        if (!err && json_object_set_new_nocheck(obj, n->fields[i].name, v)) err = oom(d);
        if (err) {
            json_decref(obj);
            return err;
        }
        hs_avro_path_pop(&d->path, mark);
    }
    *out = obj;
    return HS_OK;
}

/* Whether every value of n takes at least one byte, so a count can be checked against input. */
static int takes_bytes(const hs_avro_node_t *n) {
    if (n->kind == HS_AVRO_NULL) return 0;
    if (n->kind == HS_AVRO_FIXED) return n->size > 0;
    if (n->kind != HS_AVRO_RECORD) return 1;
    for (size_t i = 0; i < n->nfields; i++)
        if (takes_bytes(n->fields[i].type)) return 1;
    return 0;
}

/* Reads one block header of an array or map: 0 ends, a negative count is followed by the
 * block's byte size (which we only check). The count is bounded before anything is built. */
static hs_err_t get_block(dec_t *d, const hs_avro_node_t *n, size_t *count) {
    int64_t c;
    if (get_long(d, &c)) return HS_ERR_INVALID;
    if (c < 0) {
        int64_t size;
        if (c == INT64_MIN) return bad(d, "block count out of range");
        c = -c;
        if (get_long(d, &size)) return HS_ERR_INVALID;
        if (size < 0 || (uint64_t)size > left(d))
            return bad(d, "block size %lld exceeds the %zu bytes left", (long long)size, left(d));
    }
    int sized = n->kind == HS_AVRO_MAP || takes_bytes(n->items);
    if (sized && (uint64_t)c > left(d))
        return bad(d, "block of %lld items exceeds the %zu bytes left", (long long)c, left(d));
    if (!sized) {
        if ((uint64_t)c > d->budget)
            return bad(d, "block of %lld empty items exceeds the input's budget", (long long)c);
        d->budget -= (size_t)c;
    }
    *count = (size_t)c;
    return HS_OK;
}

static hs_err_t dec_item(dec_t *d, const hs_avro_node_t *n, json_t *into, size_t index) {
    json_t *key = NULL, *v;
    size_t mark = hs_avro_path_index(&d->path, index);
    hs_err_t err = n->kind == HS_AVRO_MAP ? get_string(d, &key) : HS_OK;
    if (!err) err = decode(d, n->items, &v);
    if (!err) {
        int rc = key ? json_object_setn_new_nocheck(into, json_string_value(key),
                                                    json_string_length(key), v)
                     : json_array_append_new(into, v);
        if (rc) err = oom(d);
    }
    json_decref(key);
    if (!err) hs_avro_path_pop(&d->path, mark);
    return err;
}

static hs_err_t dec_blocks(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    json_t *into = n->kind == HS_AVRO_MAP ? json_object() : json_array();
    if (!into) return oom(d);
    size_t index = 0, count = 0;
    hs_err_t err;
    while (!(err = get_block(d, n, &count)) && count > 0) {
        for (size_t i = 0; i < count && !err; i++)
            err = dec_item(d, n, into, index++);
        if (err) break;
    }
    if (err) {
        json_decref(into);
        return err;
    }
    *out = into;
    return HS_OK;
}

static const decode_fn decoders[] = {
    [HS_AVRO_NULL] = dec_null,   [HS_AVRO_BOOLEAN] = dec_boolean, [HS_AVRO_INT] = dec_int,
    [HS_AVRO_LONG] = dec_int,    [HS_AVRO_FLOAT] = dec_float,     [HS_AVRO_DOUBLE] = dec_float,
    [HS_AVRO_BYTES] = dec_bytes, [HS_AVRO_STRING] = dec_string,   [HS_AVRO_RECORD] = dec_record,
    [HS_AVRO_ENUM] = dec_enum,   [HS_AVRO_FIXED] = dec_bytes,     [HS_AVRO_ARRAY] = dec_blocks,
    [HS_AVRO_MAP] = dec_blocks,  [HS_AVRO_UNION] = dec_union,
};

static hs_err_t decode(dec_t *d, const hs_avro_node_t *n, json_t **out) {
    int container = n->kind == HS_AVRO_RECORD || n->kind == HS_AVRO_ARRAY || n->kind == HS_AVRO_MAP;
    if (container && ++d->depth > HS_AVRO_MAX_DEPTH)
        return bad(d, "nested deeper than %d levels", HS_AVRO_MAX_DEPTH);
    hs_err_t err = decoders[n->kind](d, n, out);
    if (container) d->depth--;
    return err;
}

hs_err_t hs_avro_decode_json(const hs_avro_schema_t *s, const void *data, size_t len, json_t **out,
                             char *errstr, size_t errstr_size) {
    *out = NULL;
    if (!data && len) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "no input");
    static const unsigned char empty[1];
    const unsigned char *p = data ? data : empty;
    dec_t d = {.p = p,
               .end = p + len,
               .budget = ZERO_SIZE_BUDGET + len,
               .errstr = errstr,
               .errstr_size = errstr_size};
    json_t *v;
    hs_err_t err = decode(&d, s->root, &v);
    if (err) return err;
    if (d.p != d.end) {
        json_decref(v);
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "%zu trailing bytes after the value",
                       left(&d));
    }
    *out = v;
    return HS_OK;
}
