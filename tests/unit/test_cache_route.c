/* cache-proxy routes: matching (literal and {param} segments, percent-decoding, first match
 * wins), tag rendering, defaults, and the invalid configurations of tests/data/cache_routes
 * (one folder each: input.yaml, and the expected error message in expected). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_route.h"

#define DIR_ HS_TEST_DATA "/cache_routes"

static char err[1024];

static cache_routes_t *from_json(const char *text) {
    json_error_t jerr;
    json_t *tree = json_loads(text, 0, &jerr);
    cr_assert_not_null(tree, "%s", jerr.text);
    cache_routes_t *rs = cache_routes_new(tree, 600000, 60000, NULL, err, sizeof err);
    json_decref(tree);
    return rs;
}

Test(cache_route, match_decode_and_render_tags) {
    cache_routes_t *rs =
        from_json("[{\"path\":\"/products/{id}\",\"tags\":[\"product:{id}\",\"products\"],"
                  "\"ttl\":\"10m\",\"l1_ttl\":\"2m\",\"vary\":[\"Accept\"],\"write_through\":true,"
                  "\"stale_if_error\":\"1h\"},"
                  "{\"path\":\"/shops/{shop}/customers/{id}\",\"tags\":[\"customer:{shop}/{id}\"]},"
                  "{\"path\":\"/\"}]");
    cr_assert_not_null(rs, "%s", err);
    cr_assert_eq(cache_routes_count(rs), 3);
    cache_match_t m;
    const cache_route_t *r = cache_routes_match(rs, "/products/a%20b", &m);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->path, "/products/{id}");
    cr_assert_eq(r->ttl_ms, 600000);
    cr_assert_eq(r->l1_ttl_ms, 120000);
    cr_assert_eq(r->stale_if_error_ms, 3600000);
    cr_assert(r->write_through);
    cr_assert(cache_route_varies(r, "accept"));
    cr_assert_not(cache_route_varies(r, "Accept-Language"));
    char tags[HS_CACHETAG_MAX_TAGS][HS_CACHETAG_TAG_MAX + 1];
    cr_assert_eq(cache_route_tags(&m, tags, err, sizeof err), 2, "%s", err);
    cr_assert_str_eq(tags[0], "product:a b");
    cr_assert_str_eq(tags[1], "products");

    r = cache_routes_match(rs, "/shops/s1/customers/7", &m);
    cr_assert(r && !strcmp(r->path, "/shops/{shop}/customers/{id}"));
    cr_assert_eq(r->ttl_ms, 600000, "default ttl");
    cr_assert_eq(r->l1_ttl_ms, 60000, "default l1_ttl");
    cr_assert_eq(cache_route_tags(&m, tags, err, sizeof err), 1);
    cr_assert_str_eq(tags[0], "customer:s1/7");
    cr_assert_not_null(cache_routes_match(rs, "/", &m));

    const char *misses[] = {"/products",     "/products/",    "/products/1/x",
                            "/products/%zz", "/products/%00", "/shops//customers/7",
                            "products/1",    "/Products/1",   NULL};
    for (int i = 0; misses[i]; i++)
        cr_assert_null(cache_routes_match(rs, misses[i], &m), "%s matched", misses[i]);
    cache_routes_destroy(rs);
}

Test(cache_route, rendered_tag_with_control_characters_is_refused) {
    cache_routes_t *rs = from_json("[{\"path\":\"/p/{id}\",\"tags\":[\"p:{id}\"]}]");
    cr_assert_not_null(rs, "%s", err);
    cache_match_t m;
    cr_assert_not_null(cache_routes_match(rs, "/p/a%0Ab", &m));
    char tags[HS_CACHETAG_MAX_TAGS][HS_CACHETAG_TAG_MAX + 1];
    cr_assert_eq(cache_route_tags(&m, tags, err, sizeof err), -1);
    cr_assert(strstr(err, "tag p:{id} of route /p/{id}"), "%s", err);
    char path[400] = "/p/";
    memset(path + 3, 'x', 300);
    cr_assert_not_null(cache_routes_match(rs, path, &m));
    cr_assert_eq(cache_route_tags(&m, tags, err, sizeof err), -1, "longer than a tag may be");
    cache_routes_destroy(rs);
}

Test(cache_route, no_tree_is_no_routes) {
    cache_routes_t *rs = cache_routes_new(NULL, 1, 1, NULL, err, sizeof err);
    cr_assert_not_null(rs);
    cache_match_t m;
    cr_assert_null(cache_routes_match(rs, "/x", &m));
    cache_routes_destroy(rs);
    cache_routes_destroy(NULL);
}

static void bad_case(const char *name) {
    char dir[512], expected[1024] = "";
    snprintf(dir, sizeof dir, "%s/%s", DIR_, name);
    cr_assert_eq(chdir(dir), 0, "%s", dir);
    FILE *f = fopen("expected", "r");
    cr_assert_not_null(f, "%s/expected", dir);
    cr_assert_not_null(fgets(expected, sizeof expected, f));
    fclose(f);
    expected[strcspn(expected, "\n")] = 0;
    hs_config_t *cfg = hs_config_new();
    cr_assert_eq(hs_config_load_file(cfg, "input.yaml", err, sizeof err), HS_OK, "%s: %s", name,
                 err);
    err[0] = 0;
    cache_routes_t *rs =
        cache_routes_new(hs_config_tree(cfg, "cache_routes"), 1000, 1000, cfg, err, sizeof err);
    cr_expect_null(rs, "%s: accepted", name);
    cr_expect(strstr(err, expected), "%s:\n  got  %s\n  want %s", name, err, expected);
    cache_routes_destroy(rs);
    hs_config_destroy(cfg);
}

Test(cache_route, invalid_configurations) {
    DIR *d = opendir(DIR_);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        bad_case(e->d_name);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 20, "the cases are there");
}
