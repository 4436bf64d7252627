/* The cache's Redis names: key layout, tenant and tag checks, and the invalidation message
 * parser (each malformed form refused). The scripts run in tests/integration/test_cachetag.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_cachetag.h"

Test(cachetag, keys_follow_the_contract) {
    char k[64];
    cr_assert_eq(hs_cachetag_key(k, sizeof k, "hs:cache:", HS_CACHETAG_ENTRY, "acme", "00ff"), 20);
    cr_assert_str_eq(k, "hs:cache:e:acme:00ff");
    hs_cachetag_key(k, sizeof k, "hs:cache:", HS_CACHETAG_TAGSET, "", "product:42");
    cr_assert_str_eq(k, "hs:cache:t::product:42");
    hs_cachetag_key(k, sizeof k, "p:", HS_CACHETAG_GEN, "t1", "customer:7");
    cr_assert_str_eq(k, "p:g:t1:customer:7");
    cr_assert_eq(hs_cachetag_key(k, 10, "hs:cache:", HS_CACHETAG_GEN, "t", "x"), -1, "too small");
}

Test(cachetag, tenant_and_tag_checks) {
    cr_assert(hs_cachetag_tenant_ok(""));
    cr_assert(hs_cachetag_tenant_ok("acme-EU_2.prod"));
    const char *bad[] = {"a:b", "a b", "a\tb", "ä", "a/b", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_not(hs_cachetag_tenant_ok(bad[i]), "%s", bad[i]);
    char long_tenant[HS_CACHETAG_TENANT_MAX + 2];
    memset(long_tenant, 'a', sizeof long_tenant - 1);
    long_tenant[sizeof long_tenant - 1] = 0;
    cr_assert_not(hs_cachetag_tenant_ok(long_tenant));
    long_tenant[HS_CACHETAG_TENANT_MAX] = 0;
    cr_assert(hs_cachetag_tenant_ok(long_tenant), "exactly the maximum");
    cr_assert(hs_cachetag_tag_ok("product:42"));
    cr_assert(hs_cachetag_tag_ok("name with spaces/ü"));
    cr_assert_not(hs_cachetag_tag_ok(""));
    cr_assert_not(hs_cachetag_tag_ok("a\tb"));
    cr_assert_not(hs_cachetag_tag_ok("a\nb"));
}

Test(cachetag, message_parses) {
    char tenant[HS_CACHETAG_TENANT_MAX + 1], tag[HS_CACHETAG_TAG_MAX + 1];
    long long gen = -1;
    const char m[] = "acme\tproduct:42\t17";
    cr_assert_eq(hs_cachetag_parse_message(m, strlen(m), tenant, tag, &gen), 0);
    cr_assert_str_eq(tenant, "acme");
    cr_assert_str_eq(tag, "product:42");
    cr_assert_eq(gen, 17);
    const char e[] = "\tcustomer:1\t1";
    cr_assert_eq(hs_cachetag_parse_message(e, strlen(e), tenant, tag, &gen), 0);
    cr_assert_str_eq(tenant, "");
}

Test(cachetag, malformed_messages_refused) {
    char tenant[HS_CACHETAG_TENANT_MAX + 1], tag[HS_CACHETAG_TAG_MAX + 1];
    long long gen;
    const char *bad[] = {"",
                         "acme",
                         "acme\tp:1",
                         "acme\tp:1\t",
                         "acme\tp:1\tx",
                         "acme\tp:1\t-1",
                         "acme\t\t1",
                         "a:b\tp:1\t1",
                         "acme\tp:1\t1\t2",
                         "acme\tp:1\t99999999999999999999999",
                         NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(hs_cachetag_parse_message(bad[i], strlen(bad[i]), tenant, tag, &gen), -1,
                     "'%s' accepted", bad[i]);
    const char nul[] = "ac\0e\tp:1\t1";
    cr_assert_eq(hs_cachetag_parse_message(nul, sizeof nul - 1, tenant, tag, &gen), -1);
}
