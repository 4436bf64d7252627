/* libFuzzer target for cache-proxy's parsers: the L2 entry decoder (Redis values are read
 * back as they are), the invalidation message, and the routes (the input as a cache_routes
 * JSON tree, then as a path to match and render tags for). A decoded entry must encode to the
 * same bytes; nothing may crash or leak. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_entry.h"
#include "cache_route.h"
#include "hs_cachetag.h"

static const char ROUTES[] = "[{\"path\":\"/p/{id}\",\"tags\":[\"p:{id}\",\"all\"]},"
                             "{\"path\":\"/s/{shop}/c/{id}\",\"tags\":[\"c:{shop}:{id}\"]},"
                             "{\"path\":\"/\"}]";

static void entry(const char *data, size_t size) {
    cache_entry_t *e = cache_entry_decode(data, size);
    if (!e) return;
    cache_entry_t *again = cache_entry_new(e->status, e->stored_ms, e->fresh_until_ms, e->headers,
                                           e->nheaders, e->body, e->body_len);
    if (!again || again->encoded_len != size || memcmp(again->encoded, data, size)) abort();
    cache_entry_unref(again);
    cache_entry_unref(e);
}

static void routes(const char *text, size_t size) {
    char err[512];
    json_t *tree = json_loadb(text, size, JSON_DECODE_ANY, NULL);
    cache_routes_destroy(cache_routes_new(tree, 1000, 1000, NULL, err, sizeof err));
    json_decref(tree);
    json_t *fixed = json_loads(ROUTES, 0, NULL);
    cache_routes_t *rs = cache_routes_new(fixed, 1000, 1000, NULL, err, sizeof err);
    json_decref(fixed);
    cache_match_t *m = malloc(sizeof *m);
    static char tags[HS_CACHETAG_MAX_TAGS][HS_CACHETAG_TAG_MAX + 1];
    if (rs && m && cache_routes_match(rs, text, m)) cache_route_tags(m, tags, err, sizeof err);
    free(m);
    cache_routes_destroy(rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    entry(text, size);
    char tenant[HS_CACHETAG_TENANT_MAX + 1], tag[HS_CACHETAG_TAG_MAX + 1];
    long long gen;
    if (hs_cachetag_parse_message(text, size, tenant, tag, &gen) == 0 &&
        (!hs_cachetag_tenant_ok(tenant) || !hs_cachetag_tag_ok(tag) || gen < 0))
        abort();
    routes(text, size);
    free(text);
    return 0;
}
