/* Cached answers: encode/decode round trip, every malformed encoding refused, headers looked
 * up case-insensitively, and the fingerprint telling apart what must be told apart. */
#include <criterion/criterion.h>
#include <string.h>

#include "cache_entry.h"

static cache_entry_t *sample(void) {
    cache_header_t h[] = {{"Content-Type", "application/json"}, {"ETag", "\"v1\""}};
    cache_entry_t *e = cache_entry_new(200, 1700000000123, 1700000600123, h, 2, "{\"a\":1}", 7);
    cr_assert_not_null(e);
    return e;
}

Test(cache_entry, round_trip) {
    cache_entry_t *e = sample();
    cache_entry_t *d = cache_entry_decode(e->encoded, e->encoded_len);
    cr_assert_not_null(d);
    cr_assert_eq(d->status, 200);
    cr_assert_eq(d->stored_ms, 1700000000123);
    cr_assert_eq(d->fresh_until_ms, 1700000600123);
    cr_assert_eq(d->nheaders, 2);
    cr_assert_str_eq(cache_entry_header(d, "content-type"), "application/json");
    cr_assert_str_eq(cache_entry_header(d, "ETAG"), "\"v1\"");
    cr_assert_null(cache_entry_header(d, "Set-Cookie"));
    cr_assert_eq(d->body_len, 7);
    cr_assert_str_eq(d->body, "{\"a\":1}");
    cr_assert_geq(d->size, d->encoded_len + sizeof *d);
    cache_entry_unref(cache_entry_ref(d));
    cache_entry_unref(d);
    cache_entry_unref(e);
    cache_entry_unref(NULL);
}

Test(cache_entry, empty_and_binary_bodies) {
    cache_entry_t *e = cache_entry_new(204, 1, 2, NULL, 0, NULL, 0);
    cr_assert(e && e->body_len == 0 && e->body[0] == 0);
    cache_entry_unref(e);
    e = cache_entry_new(200, 1, 2, NULL, 0, "a\0b", 3);
    cache_entry_t *d = cache_entry_decode(e->encoded, e->encoded_len);
    cr_assert(d && d->body_len == 3 && !memcmp(d->body, "a\0b", 3));
    cache_entry_unref(d);
    cache_entry_unref(e);
}

Test(cache_entry, refused_on_creation) {
    cr_assert_null(cache_entry_new(99, 1, 2, NULL, 0, NULL, 0), "status below 100");
    cr_assert_null(cache_entry_new(600, 1, 2, NULL, 0, NULL, 0), "status above 599");
    cache_header_t empty[] = {{"", "x"}};
    cr_assert_null(cache_entry_new(200, 1, 2, empty, 1, NULL, 0), "empty header name");
    cache_header_t many[CACHE_ENTRY_MAX_HEADERS + 1];
    for (int i = 0; i <= CACHE_ENTRY_MAX_HEADERS; i++)
        many[i] = (cache_header_t){"X-A", "1"};
    cr_assert_null(cache_entry_new(200, 1, 2, many, CACHE_ENTRY_MAX_HEADERS + 1, NULL, 0));
}

/* Decodes e's encoding with byte at set to value (at < 0: unchanged) and extra bytes after it. */
static cache_entry_t *corrupted(const cache_entry_t *e, long at, char value, size_t extra) {
    char buf[512];
    cr_assert_lt(e->encoded_len + extra, sizeof buf);
    memcpy(buf, e->encoded, e->encoded_len);
    memset(buf + e->encoded_len, 'x', extra);
    if (at >= 0) buf[at] = value;
    return cache_entry_decode(buf, e->encoded_len + extra);
}

Test(cache_entry, malformed_encodings_refused) {
    cache_entry_t *e = sample();
    for (size_t cut = 0; cut < e->encoded_len; cut++) /* every truncation */
        cr_assert_null(cache_entry_decode(e->encoded, cut), "truncated at %zu", cut);
    cr_assert_null(corrupted(e, -1, 0, 1), "trailing byte");
    cr_assert_null(corrupted(e, 0, 'X', 0), "magic");
    cr_assert_null(corrupted(e, 5, (char)0xff, 0), "status above 599");
    cr_assert_null(corrupted(e, 6, 3, 0), "one header more than there are");
    cr_assert_null(corrupted(e, 6, (char)0xff, 0), "over the header bound");
    cr_assert_null(corrupted(e, 24 + 2 + 3, 0, 0), "a NUL inside \"Content-Type\"");
    cr_assert_null(corrupted(e, 24 + 2 + 12, 'x', 0), "the NUL after the header name");
    cache_entry_t *same = corrupted(e, -1, 0, 0);
    cr_assert_not_null(same, "the unchanged copy decodes");
    cache_entry_unref(same);
    cr_assert_null(cache_entry_decode("", 0));
    cache_entry_unref(e);
}

typedef struct {
    const char *method, *route, *target;
    const char *names[2], *values[2];
    size_t nvary;
} fp_args_t;

static void fp(const fp_args_t *a, char hex[33]) {
    cache_fingerprint(a->method, a->route, a->target, a->names, a->values, a->nvary, hex);
}

Test(cache_entry, fingerprints) {
    static const fp_args_t base = {
        "GET", "/p/{id}", "/p/1", {"Accept", "Accept-Language"}, {"application/json", "de"}, 2};
    static const struct {
        fp_args_t other;
        int same;
        const char *why;
    } cases[] = {
        {{"GET", "/p/{id}", "/p/1", {"ACCEPT", "accept-language"}, {"application/json", "de"}, 2},
         1,
         "header names are case-insensitive"},
        {{"GET", "/p/{id}", "/p/1", {"Accept", "Accept-Language"}, {"application/json", "en"}, 2},
         0,
         "a vary value"},
        {{"GET", "/p/{id}", "/p/1", {"Accept", "Accept-Language"}, {"application/json", NULL}, 2},
         0,
         "an absent vary header"},
        {{"GET",
          "/p/{id}",
          "/p/1?x=1",
          {"Accept", "Accept-Language"},
          {"application/json", "de"},
          2},
         0,
         "the query"},
        {{"HEAD", "/p/{id}", "/p/1", {"Accept", "Accept-Language"}, {"application/json", "de"}, 2},
         0,
         "the method"},
        {{"GET", "/p/{i", "d}/p/1", {"Accept", "Accept-Language"}, {"application/json", "de"}, 2},
         0,
         "parts do not run into each other"},
    };
    char a[33], b[33];
    fp(&base, a);
    cr_assert_eq(strlen(a), 32);
    cr_assert_eq(strspn(a, "0123456789abcdef"), 32);
    fp(&base, b);
    cr_assert_str_eq(a, b, "stable");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fp(&cases[i].other, b);
        cr_assert_eq(!strcmp(a, b), cases[i].same, "%s", cases[i].why);
    }
    fp_args_t absent = base, empty = base;
    absent.values[1] = NULL;
    empty.values[1] = "";
    fp(&absent, a);
    fp(&empty, b);
    cr_assert_str_neq(a, b, "absent is not empty");
}
