/* Cached answers (see cache_entry.h). The encoding, little-endian:
 *   "HSC1" u16 status, u16 nheaders, i64 stored_ms, i64 fresh_until_ms,
 *   per header: u16 name_len, name, NUL, u32 value_len, value, NUL;  u32 body_len, body.
 * The NULs let the decoded headers point into the encoded bytes; one allocation holds the
 * struct, the header array and the bytes. */
#include "cache_entry.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static const char MAGIC[4] = {'H', 'S', 'C', '1'};
#define FIXED (4 + 2 + 2 + 8 + 8)

typedef struct {
    char *p;
} writer_t;

static void put(writer_t *w, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++)
        *w->p++ = (char)(v >> (8 * i));
}

static void put_bytes(writer_t *w, const char *s, size_t n) {
    memcpy(w->p, s, n);
    w->p += n;
}

typedef struct {
    const unsigned char *p, *end;
    int bad;
} reader_t;

static uint64_t get(reader_t *r, int bytes) {
    if (r->end - r->p < bytes) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

/* Returns the string of n bytes at the cursor (which must be followed by a NUL and hold none)
 * and moves past its NUL; NULL when malformed. */
static const char *get_str(reader_t *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n + 1 || r->p[n] != 0 || memchr(r->p, 0, n)) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n + 1;
    return s;
}

static cache_entry_t *alloc(size_t nheaders, size_t encoded_len) {
    size_t size = sizeof(cache_entry_t) + nheaders * sizeof(cache_header_t) + encoded_len + 1;
    cache_entry_t *e = calloc(1, size);
    if (!e) return NULL;
    e->refs = 1;
    e->size = size;
    e->nheaders = nheaders;
    e->headers = (cache_header_t *)(e + 1);
    e->encoded = (char *)(e + 1) + nheaders * sizeof(cache_header_t);
    e->encoded_len = encoded_len;
    return e;
}

/* Points e's fields into its encoded bytes; returns 0, or -1 when they are malformed. */
static int parse(cache_entry_t *e) {
    reader_t r = {(const unsigned char *)e->encoded,
                  (const unsigned char *)e->encoded + e->encoded_len, 0};
    if (e->encoded_len < FIXED || memcmp(e->encoded, MAGIC, 4)) return -1;
    r.p += 4;
    e->status = (int)get(&r, 2);
    size_t n = (size_t)get(&r, 2);
    e->stored_ms = (int64_t)get(&r, 8);
    e->fresh_until_ms = (int64_t)get(&r, 8);
    if (n != e->nheaders || e->status < 100 || e->status > 599) return -1;
    cache_header_t *h = (cache_header_t *)e->headers;
    for (size_t i = 0; i < n && !r.bad; i++) {
        size_t nlen = (size_t)get(&r, 2);
        h[i].name = get_str(&r, nlen);
        size_t vlen = (size_t)get(&r, 4);
        h[i].value = get_str(&r, vlen);
        if (!r.bad && nlen == 0) r.bad = 1;
    }
    e->body_len = (size_t)get(&r, 4);
    if (r.bad || (size_t)(r.end - r.p) != e->body_len) return -1;
    e->body = (const char *)r.p;
    return 0;
}

cache_entry_t *cache_entry_new(int status, int64_t stored_ms, int64_t fresh_until_ms,
                               const cache_header_t *headers, size_t nheaders, const char *body,
                               size_t body_len) {
    if (nheaders > CACHE_ENTRY_MAX_HEADERS || body_len > UINT32_MAX) return NULL;
    size_t len = FIXED + 4 + body_len;
    for (size_t i = 0; i < nheaders; i++) {
        size_t nlen = strlen(headers[i].name), vlen = strlen(headers[i].value);
        if (nlen == 0 || nlen > UINT16_MAX || vlen > UINT32_MAX) return NULL;
        len += 2 + nlen + 1 + 4 + vlen + 1;
    }
    cache_entry_t *e = alloc(nheaders, len);
    if (!e) return NULL;
    writer_t w = {(char *)e->encoded};
    put_bytes(&w, MAGIC, 4);
    put(&w, (uint64_t)status, 2);
    put(&w, nheaders, 2);
    put(&w, (uint64_t)stored_ms, 8);
    put(&w, (uint64_t)fresh_until_ms, 8);
    for (size_t i = 0; i < nheaders; i++) {
        size_t nlen = strlen(headers[i].name), vlen = strlen(headers[i].value);
        put(&w, nlen, 2);
        put_bytes(&w, headers[i].name, nlen + 1);
        put(&w, vlen, 4);
        put_bytes(&w, headers[i].value, vlen + 1);
    }
    put(&w, body_len, 4);
    if (body_len) put_bytes(&w, body, body_len);
    if (parse(e)) { /* status out of range */
        free(e);
        return NULL;
    }
    return e;
}

cache_entry_t *cache_entry_decode(const char *data, size_t len) {
    if (len < FIXED) return NULL;
    size_t n = (size_t)(unsigned char)data[6] | (size_t)(unsigned char)data[7] << 8;
    if (n > CACHE_ENTRY_MAX_HEADERS) return NULL;
    cache_entry_t *e = alloc(n, len);
    if (!e) return NULL;
    memcpy((char *)e->encoded, data, len);
    if (parse(e)) {
        free(e);
        return NULL;
    }
    return e;
}

cache_entry_t *cache_entry_ref(cache_entry_t *e) {
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    return e;
}

void cache_entry_unref(cache_entry_t *e) {
    if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) free(e);
}

const char *cache_entry_header(const cache_entry_t *e, const char *name) {
    for (size_t i = 0; i < e->nheaders; i++)
        if (!strcasecmp(e->headers[i].name, name)) return e->headers[i].value;
    return NULL;
}

static void feed(XXH3_state_t *st, const char *s) {
    /* each part with its terminating NUL, so ("ab","c") and ("a","bc") differ */
    XXH3_128bits_update(st, s, strlen(s) + 1);
}

void cache_fingerprint(const char *method, const char *route, const char *target,
                       const char *const *vary_names, const char *const *vary_values, size_t nvary,
                       char hex[33]) {
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_128bits_reset(&st);
    feed(&st, method);
    feed(&st, route);
    feed(&st, target);
    for (size_t i = 0; i < nvary; i++) {
        char lower[128];
        size_t n = 0;
        for (const char *p = vary_names[i]; *p && n < sizeof lower - 1; p++)
            lower[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        lower[n] = 0;
        feed(&st, lower);
        XXH3_128bits_update(&st, vary_values[i] ? "\x01" : "\x00", 1); /* present? */
        if (vary_values[i]) feed(&st, vary_values[i]);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[c.digest[i] >> 4];
        hex[2 * i + 1] = digits[c.digest[i] & 15];
    }
    hex[32] = 0;
}
