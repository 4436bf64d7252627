/* The pieces every webhook signature scheme is made of: HMAC (OpenSSL), hex and strict base64,
 * constant-time comparison, the multi-signature headers providers send (Stripe's
 * "t=..,v1=..,v1=..", Standard Webhooks' "v1,sig v1,sig2"), timestamps (unix seconds or
 * milliseconds, ISO 8601, HTTP date) with a tolerance window, and form-encoded bodies (Twilio).
 * Every input is bounded (HS_SIG_MAX_HEADER, HS_SIG_MAX_ITEMS); nothing here allocates. */
#ifndef HS_SIGUTIL_H
#define HS_SIGUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

#define HS_SIG_MAX_DIGEST 64   /* bytes of a SHA-512 digest, the largest we use */
#define HS_SIG_MAX_HEADER 4096 /* longest signature header value accepted */
#define HS_SIG_MAX_ITEMS 16    /* most signatures (or key=value items) read from one header */

typedef enum { HS_SIG_SHA1, HS_SIG_SHA256, HS_SIG_SHA512 } hs_sig_alg_t;

/* One piece of the signed content; the HMAC runs over the pieces in order, with nothing
 * between them. */
typedef struct {
    const void *data;
    size_t len;
} hs_sig_part_t;

/* One item of a signature header, pointing into the header (not NUL-terminated). */
typedef struct {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
} hs_sig_item_t;

/* Which side of "now" a timestamp may fall on. */
typedef enum {
    HS_SIG_WINDOW_PAST,      /* reject only when older than the tolerance (Stripe's SDKs) */
    HS_SIG_WINDOW_SYMMETRIC, /* reject when older or newer than the tolerance (Standard
                              * Webhooks, Slack) */
} hs_sig_window_t;

/* Parses "sha1" | "sha256" | "sha512"; returns 0 and sets *alg, or -1. */
int hs_sig_alg_parse(const char *name, hs_sig_alg_t *alg);

/* Returns the digest size of alg in bytes (20, 32, 64). */
size_t hs_sig_alg_size(hs_sig_alg_t alg);

/* Writes HMAC-alg(key, parts[0] || parts[1] || ...) to out (HS_SIG_MAX_DIGEST bytes of room)
 * and returns its length; 0 when OpenSSL fails. */
size_t hs_sig_hmac(hs_sig_alg_t alg, const void *key, size_t key_len, const hs_sig_part_t *parts,
                   size_t nparts, unsigned char *out);

/* Writes SHA-256(data) to out (32 bytes). */
void hs_sig_sha256(const void *data, size_t len, unsigned char out[32]);

/* Writes the lower-case hex of in[0..n) and a NUL to out; returns 2n, or 0 when out_size is too
 * small. */
size_t hs_sig_hex_encode(const unsigned char *in, size_t n, char *out, size_t out_size);

/* Decodes hex text of length n (either case) into out; returns the byte count, or -1 when the
 * text is not hex, has odd length or does not fit out_size. */
long hs_sig_hex_decode(const char *in, size_t n, unsigned char *out, size_t out_size);

/* Writes standard padded base64 of in[0..n) and a NUL to out; returns its length, or 0 when out
 * is too small. */
size_t hs_sig_b64_encode(const unsigned char *in, size_t n, char *out, size_t out_size);

/* Decodes standard base64 of length n strictly: alphabet A-Z a-z 0-9 + /, length a multiple of
 * 4, '=' padding only at the end (at most 2), no whitespace. Returns the byte count, or -1 when
 * malformed or when the result does not fit out_size. */
long hs_sig_b64_decode(const char *in, size_t n, unsigned char *out, size_t out_size);

/* Returns 1 when a[0..alen) equals b[0..blen), in time that depends only on the lengths
 * (CRYPTO_memcmp); the lengths themselves are not secret. */
int hs_sig_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Splits header into items separated by `sep`; each item is "key<kv>value" split at the first
 * kv (an item without kv has key_len 0 and is all value). Empty items are skipped. Fails with
 * HS_ERR_TOO_LARGE when the header is longer than HS_SIG_MAX_HEADER or has more than max items.
 * Stripe: sep ',', kv '='. Standard Webhooks: sep ' ', kv ','. */
hs_err_t hs_sig_split(const char *header, char sep, char kv, hs_sig_item_t *items, size_t max,
                      size_t *n, char *errstr, size_t errstr_size);

/* Returns 1 when the item's key is exactly `key`. */
int hs_sig_item_is(const hs_sig_item_t *it, const char *key);

/* Parses a non-negative decimal integer of at most 15 digits, nothing else (no sign, no
 * spaces); returns 0 and sets *out, or -1. */
int hs_sig_parse_uint(const char *s, size_t n, int64_t *out);

/* Parses an RFC 3339 / ISO 8601 date-time ("2021-03-25T05:09:27Z", "...T05:09:27.123+02:00")
 * to unix seconds (fraction dropped); returns 0 or -1. */
int hs_sig_parse_iso8601(const char *s, int64_t *out);

/* Same, to unix milliseconds (fraction kept to the millisecond); returns 0 or -1. */
int hs_sig_parse_iso8601_ms(const char *s, int64_t *out);

/* Parses an HTTP IMF-fixdate ("Tue, 14 Apr 2026 03:50:12 GMT") to unix seconds; 0 or -1. */
int hs_sig_parse_http_date(const char *s, int64_t *out);

/* Parses a Retry-After value, delay seconds ("120") or an HTTP date, to milliseconds from now
 * (unix seconds; a date in the past gives 0); returns 0, or -1 when it is neither. */
int hs_sig_retry_after_ms(const char *v, int64_t now, int64_t *ms);

/* Checks ts against now: HS_OK inside the window (the boundary itself is inside: a timestamp
 * exactly tolerance_s old passes, one second more fails), else HS_ERR_AUTH with
 * "timestamp T is N s old (tolerance S s)" or "timestamp T is N s in the future (tolerance S s)".
 * tolerance_s < 0 disables the check. */
hs_err_t hs_sig_check_time(int64_t ts, int64_t now, int tolerance_s, hs_sig_window_t window,
                           char *errstr, size_t errstr_size);

/* One name=value pair of an application/x-www-form-urlencoded body (or URL query), raw: still
 * percent-encoded, pointing into the input. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} hs_sig_form_pair_t;

/* Iterates the pairs of a form body: *pos starts at 0; returns 1 and fills p for each pair, 0 at
 * the end. Empty pairs ("a=1&&b=2") are skipped; a pair without '=' has an empty value. */
int hs_sig_form_next(const char *body, size_t len, size_t *pos, hs_sig_form_pair_t *p);

/* Percent- and '+'-decodes in[0..n) into out (room for n bytes is always enough); returns the
 * decoded length, or -1 on a malformed %XX escape. The result may contain NUL bytes. */
long hs_sig_form_decode(const char *in, size_t n, char *out);

/* Finds parameter `name` in a form body or query string and decodes its first value into out
 * with a terminating NUL; returns 1 when found, 0 when absent, -1 when malformed or when the
 * value does not fit out_size. */
int hs_sig_form_get(const char *body, size_t len, const char *name, char *out, size_t out_size);

#endif
