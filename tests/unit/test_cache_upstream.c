/* cache-proxy's upstream client without a network: which base URLs it takes, which headers a
 * proxy never forwards. The calls themselves run in tests/e2e/cache_proxy.sh. */
#include <criterion/criterion.h>

#include "cache_upstream.h"

Test(cache_upstream, base_urls) {
    const char *ok[] = {"http://127.0.0.1:9000", "https://api.example.com/v2/", "http://h",
                        "http://[::1]:8080/base", NULL};
    for (int i = 0; ok[i]; i++) {
        cr_assert_eq(cache_upstream_url_ok(ok[i]), 0, "%s", ok[i]);
        char err[256];
        cache_upstream_t *u = cache_upstream_new(ok[i], 1000, 100, err, sizeof err);
        cr_assert_not_null(u, "%s: %s", ok[i], err);
        cache_upstream_destroy(u);
    }
    const char *bad[] = {"",
                         "127.0.0.1:9000",
                         "ftp://h",
                         "http://",
                         "http:///x",
                         "http://h/?q=1",
                         "http://h/a b",
                         "http://h/#x",
                         "http://h:",
                         "http://h:0",
                         "http://h:99999",
                         "http://h:8x",
                         "http://[::1",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        cr_assert_eq(cache_upstream_url_ok(bad[i]), -1, "%s accepted", bad[i]);
        char err[256];
        cr_assert_null(cache_upstream_new(bad[i], 1000, 100, err, sizeof err));
    }
    cache_upstream_destroy(NULL);
}

Test(cache_upstream, hop_by_hop_headers) {
    const char *hop[] = {"Connection", "keep-alive",        "Proxy-Authorization",
                         "TE",         "Transfer-Encoding", "Upgrade",
                         "Host",       "content-length",    NULL};
    for (int i = 0; hop[i]; i++)
        cr_assert(cache_upstream_hop_header(hop[i]), "%s", hop[i]);
    const char *end[] = {"Accept", "Authorization", "Cache-Control", "ETag", "X-Tenant", NULL};
    for (int i = 0; end[i]; i++)
        cr_assert_not(cache_upstream_hop_header(end[i]), "%s", end[i]);
}
