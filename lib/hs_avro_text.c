/* JSON text → Avro binary in one pass, without building a json_t tree: the bulk path of
 * `hookstream produce`. It takes only the common shape (members in schema order, plain ASCII
 * strings without escapes, no bytes/fixed) and declines everything else, every invalid input
 * included; the caller then runs json_loadb + hs_avro_encode_json, which yields the same bytes or
 * the exact error. So this file never has to explain anything, only to never accept more than
 * jansson and the tree encoder would. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro_node.h"

#define MAX_MAP_KEYS 64 /* keys kept to refuse duplicates; bigger maps are declined */

typedef struct {
    const char *p, *end;
    char **buf;
    size_t *len, *cap;
    int depth;
    hs_avro_pick_t *picks; /* top-level members the caller wants (depth 1 only) */
    size_t npicks;
    int oom;
} tx_t;

/* A scalar token: JSON kind and value. */
typedef enum { T_NULL, T_TRUE, T_FALSE, T_INT, T_REAL, T_STRING } tok_kind_t;
typedef struct {
    tok_kind_t kind;
    const char *s; /* T_STRING: the characters between the quotes */
    size_t n;
    int64_t i;
    double d;
} tok_t;

static int reserve(tx_t *t, size_t n) {
    if (*t->len + n <= *t->cap) return 0;
    size_t cap = *t->cap * 2 > 1024 ? *t->cap * 2 : 1024;
    while (cap < *t->len + n)
        cap *= 2;
    char *nb = realloc(*t->buf, cap);
    if (!nb) return t->oom = 1, -1;
    *t->buf = nb;
    *t->cap = cap;
    return 0;
}

static int put(tx_t *t, const void *data, size_t n) {
    if (reserve(t, n)) return -1;
    memcpy(*t->buf + *t->len, data, n);
    *t->len += n;
    return 0;
}

static size_t varint(int64_t v, unsigned char b[10]) {
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    do {
        b[n] = (unsigned char)(z & 0x7f);
        z >>= 7;
        if (z) b[n] |= 0x80;
        n++;
    } while (z);
    return n;
}

static int put_long(tx_t *t, int64_t v) {
    unsigned char b[10];
    return put(t, b, varint(v, b));
}

static void skip_ws(tx_t *t) {
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

/* Skips whitespace and returns the next character (0 at the end). */
static char peek(tx_t *t) {
    skip_ws(t);
    return t->p < t->end ? *t->p : 0;
}

static int expect(tx_t *t, char c) {
    if (peek(t) != c) return -1;
    t->p++;
    return 0;
}

/* Members and items: opens with `open`; returns 1 while another one follows (after a comma, or
 * the first one), 0 at `close` (consumed), -1 on anything else (so no trailing commas). */
static int more(tx_t *t, char close, size_t *seen) {
    char c = peek(t);
    if (*seen == 0 && c == close) return t->p++, 0;
    if (*seen == 0) return ++*seen, 1;
    if (c == close) return t->p++, 0;
    if (c != ',') return -1;
    t->p++;
    return ++*seen, 1;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any byte of w is below 0x20 or above 0x7f, or a quote or a backslash: the classic
 * "has a byte less than n" and "has a zero byte" bit tricks, exact for any word. */
static int word_special(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"'), slash = w ^ (ONES * '\\');
    uint64_t control = (w - ONES * 0x20) & ~w;
    uint64_t is_quote = (quote - ONES) & ~quote, is_slash = (slash - ONES) & ~slash;
    return ((w | control | is_quote | is_slash) & HIGHS) != 0;
}

/* A string of printable ASCII without escapes: its bytes are its value. */
static int lex_string(tx_t *t, const char **s, size_t *n) {
    if (expect(t, '"')) return -1;
    const char *at = t->p, *q = t->p, *end = t->end;
    for (uint64_t w; end - q >= 8; q += 8) { /* eight plain bytes at a time */
        memcpy(&w, q, sizeof w);
        if (word_special(w)) break;
    }
    /* printable ASCII (0x20-0x7f) but the quote and the backslash */
    while (q < end && (unsigned char)(*q - 0x20) < 0x60 && *q != '"' && *q != '\\')
        q++;
    if (q == end || *q != '"') return -1;
    *s = at;
    *n = (size_t)(q - at);
    t->p = q + 1;
    return 0;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* JSON's number grammar; integers must fit int64 (jansson refuses bigger ones). */
static int lex_number(tx_t *t, tok_t *k) {
    const char *at = t->p, *q = t->p;
    int neg = q < t->end && *q == '-';
    q += neg;
    if (q == t->end || !is_digit(*q)) return -1;
    if (*q == '0' && q + 1 < t->end && is_digit(q[1])) return -1;
    uint64_t mag = 0;
    for (; q < t->end && is_digit(*q); q++) {
        if (mag > (UINT64_MAX - 9) / 10) return -1;
        mag = mag * 10 + (uint64_t)(*q - '0');
    }
    int real = 0;
    if (q < t->end && *q == '.') {
        real = 1;
        if (++q == t->end || !is_digit(*q)) return -1;
        while (q < t->end && is_digit(*q))
            q++;
    }
    if (q < t->end && (*q == 'e' || *q == 'E')) {
        real = 1;
        q++;
        if (q < t->end && (*q == '+' || *q == '-')) q++;
        if (q == t->end || !is_digit(*q)) return -1;
        while (q < t->end && is_digit(*q))
            q++;
    }
    t->p = q;
    if (!real) {
        if (mag > (uint64_t)INT64_MAX + (uint64_t)neg) return -1;
        k->kind = T_INT;
        k->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        return 0;
    }
    char num[64];
    if ((size_t)(q - at) >= sizeof num) return -1;
    memcpy(num, at, (size_t)(q - at));
    num[q - at] = '\0';
    k->kind = T_REAL;
    k->d = strtod(num, NULL);
    return isfinite(k->d) ? 0 : -1;
}

static int lex_word(tx_t *t, const char *w, size_t n) {
    if ((size_t)(t->end - t->p) < n || memcmp(t->p, w, n) != 0) return -1;
    t->p += n;
    /* "nullx" is one bad token for jansson, not null followed by garbage */
    if (t->p < t->end && ((*t->p >= 'a' && *t->p <= 'z') || (*t->p >= 'A' && *t->p <= 'Z') ||
                          is_digit(*t->p) || *t->p == '_'))
        return -1;
    return 0;
}

static int lex_scalar(tx_t *t, tok_t *k) {
    char c = peek(t);
    if (c == '"') return k->kind = T_STRING, lex_string(t, &k->s, &k->n);
    if (c == 'n') return k->kind = T_NULL, lex_word(t, "null", 4);
    if (c == 't') return k->kind = T_TRUE, lex_word(t, "true", 4);
    if (c == 'f') return k->kind = T_FALSE, lex_word(t, "false", 5);
    if (c == '-' || is_digit(c)) return lex_number(t, k);
    return -1;
}

static int symbol_index(const hs_avro_node_t *n, const char *s, size_t len) {
    for (size_t i = 0; i < n->nsymbols; i++)
        if (strlen(n->symbols[i]) == len && memcmp(n->symbols[i], s, len) == 0) return (int)i;
    return -1;
}

/* The scalar tokens each kind takes (bit 1 << tok_kind_t); containers and unions take none
 * here, bytes and fixed none either (the tree encoder converts their code points). */
static const unsigned accepts[] = {
    [HS_AVRO_NULL] = 1u << T_NULL,
    [HS_AVRO_BOOLEAN] = 1u << T_TRUE | 1u << T_FALSE,
    [HS_AVRO_INT] = 1u << T_INT,
    [HS_AVRO_LONG] = 1u << T_INT,
    [HS_AVRO_FLOAT] = 1u << T_INT | 1u << T_REAL,
    [HS_AVRO_DOUBLE] = 1u << T_INT | 1u << T_REAL,
    [HS_AVRO_STRING] = 1u << T_STRING,
    [HS_AVRO_ENUM] = 1u << T_STRING,
    [HS_AVRO_UNION] = 0,
};

/* Whether the tree encoder's union would consider branch b for token k (its `fits` table),
 * and whether a field of kind b takes k here. */
static int fits(const hs_avro_node_t *b, const tok_t *k) {
    if (!(accepts[b->kind] >> k->kind & 1)) return 0;
    if (b->kind == HS_AVRO_INT) return k->i >= INT32_MIN && k->i <= INT32_MAX;
    if (b->kind == HS_AVRO_ENUM) return symbol_index(b, k->s, k->n) >= 0;
    return 1;
}

/* A branch the tree encoder's union would try for k but this path cannot encode: the whole
 * union is declined rather than a later branch taken. */
static int unmatched_bytes(const hs_avro_node_t *b, const tok_t *k) {
    return k->kind == T_STRING &&
           (b->kind == HS_AVRO_BYTES || (b->kind == HS_AVRO_FIXED && k->n == b->size));
}

typedef int (*write_fn)(tx_t *t, const hs_avro_node_t *n, const tok_t *k);

static int w_null(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    (void)t, (void)n, (void)k;
    return 0;
}

static int w_boolean(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    unsigned char b = k->kind == T_TRUE;
    (void)n;
    return put(t, &b, 1);
}

static int w_long(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    (void)n;
    return put_long(t, k->i);
}

/* IEEE 754, little-endian; a float must be within its range (else the tree encoder refuses). */
static int w_real(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    double d = k->kind == T_INT ? (double)k->i : k->d;
    unsigned char b[8];
    uint64_t bits;
    size_t size = n->kind == HS_AVRO_FLOAT ? 4 : 8;
    if (size == 4) {
        if (d > FLT_MAX || d < -FLT_MAX) return -1;
        float f = (float)d;
        uint32_t fb;
        memcpy(&fb, &f, sizeof fb);
        bits = fb;
    } else {
        memcpy(&bits, &d, sizeof bits);
    }
    for (size_t i = 0; i < size; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    return put(t, b, size);
}

static int w_string(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    (void)n;
    return put_long(t, (int64_t)k->n) || put(t, k->s, k->n) ? -1 : 0;
}

static int w_enum(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    return put_long(t, symbol_index(n, k->s, k->n));
}

static const write_fn writers[] = {
    [HS_AVRO_NULL] = w_null,     [HS_AVRO_BOOLEAN] = w_boolean, [HS_AVRO_INT] = w_long,
    [HS_AVRO_LONG] = w_long,     [HS_AVRO_FLOAT] = w_real,      [HS_AVRO_DOUBLE] = w_real,
    [HS_AVRO_STRING] = w_string, [HS_AVRO_ENUM] = w_enum,       [HS_AVRO_UNION] = NULL,
};

/* Encodes a scalar as n; -1 when it does not match exactly as the tree encoder wants it. */
static int enc_scalar(tx_t *t, const hs_avro_node_t *n, const tok_t *k) {
    return fits(n, k) ? writers[n->kind](t, n, k) : -1;
}

static int enc_value(tx_t *t, const hs_avro_node_t *n);

static int pick(tx_t *t, const char *key, size_t klen, const char *at) {
    for (size_t i = 0; i < t->npicks; i++) {
        hs_avro_pick_t *p = &t->picks[i];
        if (strlen(p->name) == klen && memcmp(p->name, key, klen) == 0) {
            p->text = at;
            p->len = (size_t)(t->p - at);
        }
    }
    return 0;
}

static int put_default(tx_t *t, const hs_avro_field_t *f) {
    return f->def_avro ? put(t, f->def_avro, f->def_avro_len) : -1;
}

/* Members must come in schema order (each key names a later field than the one before, which
 * also rules out duplicates); skipped fields take their defaults. */
static int enc_record(tx_t *t, const hs_avro_node_t *n) {
    if (expect(t, '{')) return -1;
    size_t next = 0, seen = 0;
    int m;
    while ((m = more(t, '}', &seen)) == 1) {
        const char *key;
        size_t klen, f = next;
        if (lex_string(t, &key, &klen) || expect(t, ':')) return -1;
        while (f < n->nfields &&
               (n->fields[f].name_len != klen || memcmp(n->fields[f].name, key, klen) != 0))
            f++;
        if (f == n->nfields) return -1;
        for (; next < f; next++)
            if (put_default(t, &n->fields[next])) return -1;
        skip_ws(t);
        const char *at = t->p;
        if (enc_value(t, n->fields[f].type)) return -1;
        if (t->depth == 1 && t->npicks) pick(t, key, klen, at);
        next = f + 1;
    }
    if (m < 0) return -1;
    for (; next < n->nfields; next++)
        if (put_default(t, &n->fields[next])) return -1;
    return 0;
}

/* Writes the block count in front of the items encoded from start on, then the end marker (the
 * count is known only after the items). */
static int close_block(tx_t *t, size_t start, size_t count) {
    if (count) {
        unsigned char b[10];
        size_t vn = varint((int64_t)count, b);
        if (reserve(t, vn)) return -1;
        memmove(*t->buf + start + vn, *t->buf + start, *t->len - start);
        memcpy(*t->buf + start, b, vn);
        *t->len += vn;
    }
    return put_long(t, 0);
}

static int enc_array(tx_t *t, const hs_avro_node_t *n) {
    if (expect(t, '[')) return -1;
    size_t start = *t->len, count = 0;
    int m;
    while ((m = more(t, ']', &count)) == 1)
        if (enc_value(t, n->items)) return -1;
    return m < 0 ? -1 : close_block(t, start, count);
}

static int enc_map(tx_t *t, const hs_avro_node_t *n) {
    if (expect(t, '{')) return -1;
    size_t start = *t->len, count = 0, klens[MAX_MAP_KEYS];
    const char *keys[MAX_MAP_KEYS];
    int m;
    while ((m = more(t, '}', &count)) == 1) {
        size_t k = count - 1;
        if (k == MAX_MAP_KEYS) return -1;
        if (lex_string(t, &keys[k], &klens[k]) || expect(t, ':')) return -1;
        for (size_t i = 0; i < k; i++) /* jansson refuses duplicate keys */
            if (klens[i] == klens[k] && memcmp(keys[i], keys[k], klens[i]) == 0) return -1;
        if (put_long(t, (int64_t)klens[k]) || put(t, keys[k], klens[k]) || enc_value(t, n->items))
            return -1;
    }
    return m < 0 ? -1 : close_block(t, start, count);
}

/* An object whose first key names a branch may be the wrapped form {"branch": value}: left to
 * the tree encoder, which sees the whole object. */
static int maybe_wrapped(tx_t *t, const hs_avro_node_t *n) {
    const char *save = t->p, *key;
    size_t klen;
    t->p++;
    int named = !lex_string(t, &key, &klen);
    t->p = save;
    for (size_t i = 0; named && i < n->nbranches; i++) {
        const char *name = n->branches[i]->name, *dot = strrchr(name, '.');
        const char *simple = dot ? dot + 1 : name;
        if ((strlen(name) == klen && !memcmp(name, key, klen)) ||
            (dot && strlen(simple) == klen && !memcmp(simple, key, klen)))
            return 1;
    }
    return 0;
}

/* The tree encoder takes the first branch that fits and encodes; taking the first that fits
 * and declining if it fails picks the same branch whenever this path succeeds. */
static int enc_union(tx_t *t, const hs_avro_node_t *n) {
    char c = peek(t);
    if (c == '{' || c == '[') {
        if (c == '{' && maybe_wrapped(t, n)) return -1;
        for (size_t i = 0; i < n->nbranches; i++) {
            hs_avro_kind_t k = n->branches[i]->kind;
            if (c == '{' ? k == HS_AVRO_RECORD || k == HS_AVRO_MAP : k == HS_AVRO_ARRAY)
                return put_long(t, (int64_t)i) || enc_value(t, n->branches[i]) ? -1 : 0;
        }
        return -1;
    }
    tok_t k;
    if (lex_scalar(t, &k)) return -1;
    for (size_t i = 0; i < n->nbranches; i++) {
        if (unmatched_bytes(n->branches[i], &k)) return -1;
        if (fits(n->branches[i], &k))
            return put_long(t, (int64_t)i) || enc_scalar(t, n->branches[i], &k) ? -1 : 0;
    }
    return -1;
}

static int enc_value(tx_t *t, const hs_avro_node_t *n) {
    if (n->kind == HS_AVRO_UNION) return enc_union(t, n);
    if (n->kind != HS_AVRO_RECORD && n->kind != HS_AVRO_ARRAY && n->kind != HS_AVRO_MAP) {
        tok_t k;
        return lex_scalar(t, &k) || enc_scalar(t, n, &k) ? -1 : 0;
    }
    if (++t->depth > HS_AVRO_MAX_DEPTH) return -1;
    int rc = n->kind == HS_AVRO_RECORD  ? enc_record(t, n)
             : n->kind == HS_AVRO_ARRAY ? enc_array(t, n)
                                        : enc_map(t, n);
    t->depth--;
    return rc;
}

hs_err_t hs_avro_encode_text(const hs_avro_schema_t *s, const char *text, size_t text_len,
                             char **buf, size_t *len, size_t *cap, hs_avro_pick_t *picks,
                             size_t npicks, char *errstr, size_t errstr_size) {
    tx_t t = {.p = text,
              .end = text + text_len,
              .buf = buf,
              .len = len,
              .cap = cap,
              .picks = picks,
              .npicks = npicks};
    size_t start = *len;
    for (size_t i = 0; i < npicks; i++)
        picks[i].text = NULL;
    /* jansson (without JSON_DECODE_ANY) takes only an object or array at the top */
    if (s->root->kind == HS_AVRO_RECORD && !enc_value(&t, s->root)) {
        skip_ws(&t);
        if (t.p == t.end) return HS_OK;
    }
    *len = start;
    for (size_t i = 0; i < npicks; i++)
        picks[i].text = NULL;
    if (t.oom) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    return HS_ERR_UNSUPPORTED;
}
