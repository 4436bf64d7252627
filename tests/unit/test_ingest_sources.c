/* Ingest source definitions: the sources: section and --source flags, and every error naming
 * FILE:LINE and the key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest_sources.h"

static hs_config_t *cfg;
static hs_ingest_sources_t *set;
static char path[64];
static char err[1024];

static void cleanup(void) {
    hs_ingest_sources_destroy(set);
    hs_config_destroy(cfg);
    if (path[0]) unlink(path);
    path[0] = 0;
}

/* Loads yaml as the config file and its sources; returns the result of the sources load. */
static hs_err_t load(const char *yaml) {
    snprintf(path, sizeof path, "/tmp/hs_src_XXXXXX.yaml");
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    cfg = hs_config_new();
    set = hs_ingest_sources_new();
    cr_assert_eq(hs_config_load_file(cfg, path, err, sizeof err), HS_OK, "%s", err);
    err[0] = 0;
    return hs_ingest_sources_load(set, cfg, err, sizeof err);
}

/* Asserts a load failure whose message has path:line and every fragment given. */
static void expect_error(const char *yaml, int line, const char *a, const char *b) {
    cr_assert_eq(load(yaml), HS_ERR_INVALID, "loaded: %s", yaml);
    char where[128];
    snprintf(where, sizeof where, "%s:%d: ", path, line);
    cr_assert(strstr(err, where), "want %s in: %s", where, err);
    cr_assert(strstr(err, a), "want '%s' in: %s", a, err);
    if (b) cr_assert(strstr(err, b), "want '%s' in: %s", b, err);
    cr_assert_null(strstr(err, "shpss_secret"), "secret leaked: %s", err);
}

TestSuite(ingest_sources, .fini = cleanup);

Test(ingest_sources, full_definition) {
    cr_assert_eq(load("sources:\n"
                      "  shop1:\n"
                      "    type: shopify\n"
                      "    secrets: [shpss_a, shpss_b]\n"
                      "    tenant: acme\n"
                      "    tier: pro\n"
                      "    tolerance_s: 120\n"
                      "    inventory_low_threshold: 3\n"
                      "  hooks:\n"
                      "    type: generic-hmac\n"
                      "    secret: s3cret\n"
                      "    generic: {header: X-Sig, prefix: \"sha256=\", algorithm: sha256}\n"),
                 HS_OK, "%s", err);
    cr_assert_eq(hs_ingest_sources_count(set), 2);
    const hs_ingest_source_t *s = hs_ingest_sources_find(set, "shop1");
    cr_assert_not_null(s);
    cr_assert_str_eq(s->src->type, "shopify");
    cr_assert_eq(s->cfg.nsecrets, 2);
    cr_assert_str_eq(s->cfg.secrets[1], "shpss_b");
    cr_assert_str_eq(s->cfg.tenant, "acme");
    cr_assert_eq(s->tier, HS_TIER_PRO);
    cr_assert_eq(s->cfg.tolerance_s, 120);
    cr_assert_eq(s->cfg.inventory_low_threshold, 3);
    const hs_ingest_source_t *g = hs_ingest_sources_at(set, 1);
    cr_assert_str_eq(g->cfg.generic.header, "X-Sig");
    cr_assert_str_eq(g->cfg.generic.prefix, "sha256=");
    cr_assert_str_eq(g->cfg.tenant, "hooks", "tenant defaults to the source name");
    cr_assert_eq(g->tier, HS_TIER_DEFAULT);
    cr_assert_null(hs_ingest_sources_at(set, 2));
    cr_assert_null(hs_ingest_sources_find(set, "nope"));
}

Test(ingest_sources, no_section_is_no_sources) {
    cr_assert_eq(load("log:\n  level: warn\n"), HS_OK);
    cr_assert_eq(hs_ingest_sources_count(set), 0);
}

Test(ingest_sources, unknown_provider_lists_the_known) {
    expect_error("sources:\n  shop1:\n    type: shopfy\n    secret: shpss_secret\n", 3,
                 "sources.shop1.type: unknown provider 'shopfy'", "known: shopify");
}

Test(ingest_sources, missing_type) {
    expect_error("sources:\n  shop1:\n    secret: shpss_secret\n", 2, "sources.shop1.type: missing",
                 NULL);
}

Test(ingest_sources, missing_secret) {
    expect_error("sources:\n  shop1:\n    type: shopify\n", 2, "sources.shop1: secret: missing",
                 NULL);
}

Test(ingest_sources, unknown_key) {
    expect_error("sources:\n  shop1:\n    type: shopify\n    secret: shpss_secret\n"
                 "    tennant: x\n",
                 5, "sources.shop1.tennant: unknown key", NULL);
}

Test(ingest_sources, bad_tier) {
    expect_error("sources:\n  shop1:\n    type: shopify\n    secret: shpss_secret\n"
                 "    tier: gold\n",
                 5, "sources.shop1.tier: expected free, pro or enterprise", NULL);
}

Test(ingest_sources, bad_secret_list) {
    expect_error("sources:\n  shop1:\n    type: shopify\n    secrets: []\n", 4,
                 "sources.shop1.secrets", "list of 1 to 8");
}

Test(ingest_sources, secret_and_secrets) {
    expect_error("sources:\n  shop1:\n    type: shopify\n    secret: shpss_secret\n"
                 "    secrets: [b]\n",
                 5, "not both", NULL);
}

Test(ingest_sources, bad_tolerance) {
    expect_error("sources:\n  shop1:\n    type: shopify\n    secret: shpss_secret\n"
                 "    tolerance_s: soon\n",
                 5, "sources.shop1.tolerance_s: expected an integer", NULL);
}

Test(ingest_sources, bad_name) {
    expect_error("sources:\n  \"shop/1\":\n    type: shopify\n    secret: shpss_secret\n", 2,
                 "source name 'shop/1'", NULL);
}

Test(ingest_sources, not_a_mapping) {
    expect_error("sources:\n  shop1: shopify\n", 2, "sources.shop1: expected a mapping", NULL);
}

Test(ingest_sources, generic_unknown_option_and_connector_check) {
    expect_error("sources:\n  g:\n    type: generic-hmac\n    secret: s\n"
                 "    generic: {header: X-Sig, colour: red}\n",
                 5, "sources.g.generic.colour: unknown key", NULL);
}

Test(ingest_sources, connector_rejects_its_config) {
    /* generic-hmac needs a signature header. */
    cr_assert_eq(load("sources:\n  g:\n    type: generic-hmac\n    secret: s\n"), HS_ERR_INVALID);
    cr_assert(strstr(err, "sources.g: "), "%s", err);
}

Test(ingest_sources, quick_start_specs) {
    set = hs_ingest_sources_new();
    cr_assert_eq(hs_ingest_sources_add_spec(set, "shop1=shopify:shpss_secret", err, sizeof err),
                 HS_OK, "%s", err);
    const hs_ingest_source_t *s = hs_ingest_sources_find(set, "shop1");
    cr_assert_str_eq(s->cfg.secrets[0], "shpss_secret");
    cr_assert_str_eq(s->cfg.tenant, "shop1");
    cr_assert_eq(s->tier, HS_TIER_DEFAULT);
    /* A secret with a colon is kept whole. */
    cr_assert_eq(hs_ingest_sources_add_spec(set, "gh=github:a:b", err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_str_eq(hs_ingest_sources_find(set, "gh")->cfg.secrets[0], "a:b");
    static const char *const bad[] = {"shop1",    "shop1=shopify",  "=shopify:x",
                                      "shop1=:x", "shop1=shopify:", "s/1=shopify:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(hs_ingest_sources_add_spec(set, bad[i], err, sizeof err), HS_ERR_INVALID, "%s",
                     bad[i]);
        cr_assert(strstr(err, "--source"), "%s", err);
    }
    cr_assert_eq(hs_ingest_sources_add_spec(set, "x=shopfy:shpss_secret", err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "unknown provider 'shopfy'"), "%s", err);
    cr_assert_null(strstr(err, "shpss_secret"), "%s", err);
    cr_assert_eq(hs_ingest_sources_add_spec(set, "shop1=stripe:whsec_x", err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "defined twice"), "%s", err);
    cr_assert_eq(hs_ingest_sources_count(set), 2);
}

Test(ingest_sources, tiers) {
    cr_assert_eq(hs_tier_parse("free"), HS_TIER_FREE);
    cr_assert_eq(hs_tier_parse("enterprise"), HS_TIER_ENTERPRISE);
    cr_assert_eq(hs_tier_parse("Free"), -1);
    cr_assert_eq(hs_tier_parse(NULL), -1);
}
