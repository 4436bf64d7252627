#include "hs_sigutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hs_b64.h"

static const struct {
    const char *name;
    const char *ossl;
    size_t size;
} algs[] = {
    [HS_SIG_SHA1] = {"sha1", "SHA1", 20},
    [HS_SIG_SHA256] = {"sha256", "SHA256", 32},
    [HS_SIG_SHA512] = {"sha512", "SHA512", 64},
};

int hs_sig_alg_parse(const char *name, hs_sig_alg_t *alg) {
    for (size_t i = 0; name && i < sizeof algs / sizeof algs[0]; i++)
        if (strcmp(algs[i].name, name) == 0) {
            *alg = (hs_sig_alg_t)i;
            return 0;
        }
    return -1;
}

size_t hs_sig_alg_size(hs_sig_alg_t alg) {
    return algs[alg].size;
}

/* Fetching the HMAC implementation takes a lock in OpenSSL's method store; done once, the handle
 * is immutable and shared by every thread. */
static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static void hmac_fetch(void) {
    hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

size_t hs_sig_hmac(hs_sig_alg_t alg, const void *key, size_t key_len, const hs_sig_part_t *parts,
                   size_t nparts, unsigned char *out) {
    static const unsigned char empty_key[1];
    pthread_once(&hmac_once, hmac_fetch);
    if (!hmac_impl) return 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_impl);
    if (!ctx) return 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)algs[alg].ossl, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t n = 0;
    /* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
    int ok = EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params);
    for (size_t i = 0; ok && i < nparts; i++)
        if (parts[i].len) ok = EVP_MAC_update(ctx, parts[i].data, parts[i].len);
    if (ok) ok = EVP_MAC_final(ctx, out, &n, HS_SIG_MAX_DIGEST);
    EVP_MAC_CTX_free(ctx);
    return ok ? n : 0;
}

void hs_sig_sha256(const void *data, size_t len, unsigned char out[32]) {
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

size_t hs_sig_hex_encode(const unsigned char *in, size_t n, char *out, size_t out_size) {
    static const char digits[] = "0123456789abcdef";
    if (out_size < 2 * n + 1) return 0;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long hs_sig_hex_decode(const char *in, size_t n, unsigned char *out, size_t out_size) {
    if (n % 2 || n / 2 > out_size) return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(in[i]), lo = hexval(in[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

size_t hs_sig_b64_encode(const unsigned char *in, size_t n, char *out, size_t out_size) {
    return hs_b64_encode(in, n, out, out_size);
}

long hs_sig_b64_decode(const char *in, size_t n, unsigned char *out, size_t out_size) {
    return hs_b64_decode(in, n, out, out_size);
}

int hs_sig_equal(const void *a, size_t alen, const void *b, size_t blen) {
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

hs_err_t hs_sig_split(const char *header, char sep, char kv, hs_sig_item_t *items, size_t max,
                      size_t *n, char *errstr, size_t errstr_size) {
    *n = 0;
    size_t len = strnlen(header, HS_SIG_MAX_HEADER + 1);
    if (len > HS_SIG_MAX_HEADER)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, errstr_size, "longer than %d bytes",
                       HS_SIG_MAX_HEADER);
    const char *p = header, *end = header + len;
    while (p < end) {
        const char *e = memchr(p, sep, (size_t)(end - p));
        if (!e) e = end;
        if (e > p) {
            if (*n == max)
                return hs_fail(HS_ERR_TOO_LARGE, errstr, errstr_size, "more than %zu items", max);
            const char *k = memchr(p, kv, (size_t)(e - p));
            hs_sig_item_t *it = &items[(*n)++];
            it->key = p;
            it->key_len = k ? (size_t)(k - p) : 0;
            it->val = k ? k + 1 : p;
            it->val_len = (size_t)(e - it->val);
        }
        p = e + 1;
    }
    return HS_OK;
}

int hs_sig_item_is(const hs_sig_item_t *it, const char *key) {
    return it->key_len == strlen(key) && memcmp(it->key, key, it->key_len) == 0;
}

int hs_sig_parse_uint(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 15) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

/* Reads exactly n digits at *p; returns -1 when they are not all digits. */
static int64_t digits(const char **p, int n) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static int civil_to_unix(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s,
                         int64_t *out) {
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 60)
        return -1;
    *out = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

int hs_sig_parse_iso8601_ms(const char *s, int64_t *out) {
    const char *p = s;
    int64_t y = digits(&p, 4), mo, d, h, mi, sec, ms = 0, secs;
    if (y < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
        (d = digits(&p, 2)) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
        (sec = digits(&p, 2)) < 0)
        return -1;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3) ms = ms * 10 + (*p - '0');
        if (n == 0) return -1;
        for (; n < 3; n++)
            ms *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int64_t oh = digits(&p, 2), om;
        if (oh < 0 || oh > 23) return -1;
        if (*p == ':') p++;
        if ((om = digits(&p, 2)) < 0 || om > 59) return -1;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p || civil_to_unix(y, mo, d, h, mi, sec, &secs)) return -1;
    *out = (secs - offset) * 1000 + ms;
    return 0;
}

int hs_sig_parse_iso8601(const char *s, int64_t *out) {
    int64_t ms;
    if (hs_sig_parse_iso8601_ms(s, &ms)) return -1;
    *out = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    return 0;
}

static int name_index(const char *p, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strncmp(p, names[i], 3) == 0) return i;
    return -1;
}

int hs_sig_parse_http_date(const char *s, int64_t *out) {
    static const char *const wdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (strlen(s) != 29 || name_index(s, wdays, 7) < 0 || strncmp(s + 3, ", ", 2) != 0) return -1;
    const char *p = s + 5;
    int64_t d = digits(&p, 2), y, h, mi, sec;
    if (d < 0 || *p++ != ' ') return -1;
    int mo = name_index(p, months, 12);
    p += 3;
    if (mo < 0 || *p++ != ' ' || (y = digits(&p, 4)) < 0 || *p++ != ' ' ||
        (h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
        (sec = digits(&p, 2)) < 0 || strcmp(p, " GMT") != 0)
        return -1;
    return civil_to_unix(y, mo + 1, d, h, mi, sec, out);
}

int hs_sig_retry_after_ms(const char *v, int64_t now, int64_t *ms) {
    int64_t secs;
    if (!hs_sig_parse_uint(v, strlen(v), &secs)) {
        *ms = secs * 1000;
        return 0;
    }
    if (hs_sig_parse_http_date(v, &secs)) return -1;
    *ms = secs > now ? (secs - now) * 1000 : 0;
    return 0;
}

hs_err_t hs_sig_check_time(int64_t ts, int64_t now, int tolerance_s, hs_sig_window_t window,
                           char *errstr, size_t errstr_size) {
    if (tolerance_s < 0) return HS_OK;
    int64_t age = now - ts;
    if (age > tolerance_s)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "timestamp %lld is %lld s old (tolerance %d s)", (long long)ts,
                       (long long)age, tolerance_s);
    if (window == HS_SIG_WINDOW_SYMMETRIC && -age > tolerance_s)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "timestamp %lld is %lld s in the future (tolerance %d s)", (long long)ts,
                       (long long)-age, tolerance_s);
    return HS_OK;
}

int hs_sig_form_next(const char *body, size_t len, size_t *pos, hs_sig_form_pair_t *p) {
    while (*pos < len) {
        const char *start = body + *pos;
        const char *amp = memchr(start, '&', len - *pos);
        size_t n = amp ? (size_t)(amp - start) : len - *pos;
        *pos += n + (amp != NULL);
        if (n == 0) continue;
        const char *eq = memchr(start, '=', n);
        p->name = start;
        p->name_len = eq ? (size_t)(eq - start) : n;
        p->value = eq ? eq + 1 : start + n;
        p->value_len = eq ? n - p->name_len - 1 : 0;
        return 1;
    }
    return 0;
}

long hs_sig_form_decode(const char *in, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '+') {
            out[k++] = ' ';
        } else if (in[i] == '%') {
            int hi = i + 2 < n ? hexval(in[i + 1]) : -1, lo = i + 2 < n ? hexval(in[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            out[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[k++] = in[i];
        }
    }
    return (long)k;
}

int hs_sig_form_get(const char *body, size_t len, const char *name, char *out, size_t out_size) {
    size_t pos = 0, nlen = strlen(name);
    hs_sig_form_pair_t p;
    char key[256];
    while (hs_sig_form_next(body, len, &pos, &p)) {
        if (p.name_len > sizeof key) continue;
        long kn = hs_sig_form_decode(p.name, p.name_len, key);
        if (kn < 0) return -1;
        if ((size_t)kn != nlen || memcmp(key, name, nlen) != 0) continue;
        if (p.value_len >= out_size) return -1;
        long vn = hs_sig_form_decode(p.value, p.value_len, out);
        if (vn < 0) return -1;
        out[vn] = '\0';
        return 1;
    }
    return 0;
}
