/* Outbound URL guard: every refused address class (literal, IPv4 and IPv6, embedded forms),
 * public addresses, the allow list (CIDRs, addresses, names), schemes, userinfo, malformed
 * URLs, names resolving to loopback, names that do not resolve, and the connect-time check. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "hs_ssrf.h"

static hs_ssrf_t *guard(const char *allow) {
    char err[256] = "";
    hs_ssrf_t *g = hs_ssrf_new(allow, err, sizeof err);
    cr_assert_not_null(g, "%s: %s", allow ? allow : "(null)", err);
    return g;
}

static void refused(const hs_ssrf_t *g, const char *url, hs_err_t code, const char *why) {
    char err[256] = "";
    cr_assert_eq(hs_ssrf_check_url(g, url, err, sizeof err), code, "%s: %s", url, err);
    cr_assert(strstr(err, why), "%s: \"%s\" lacks \"%s\"", url, err, why);
}

static void accepted(const hs_ssrf_t *g, const char *url) {
    char err[256] = "";
    cr_assert_eq(hs_ssrf_check_url(g, url, err, sizeof err), HS_OK, "%s: %s", url, err);
}

static const struct {
    const char *addr, *what;
} classes[] = {
    {"127.0.0.1", "a loopback"},
    {"127.255.0.9", "a loopback"},
    {"10.1.2.3", "a private"},
    {"172.16.0.1", "a private"},
    {"172.31.255.254", "a private"},
    {"192.168.1.1", "a private"},
    {"169.254.169.254", "a cloud metadata"},
    {"169.254.1.1", "a link-local"},
    {"100.64.0.1", "a carrier-grade NAT"},
    {"100.127.255.255", "a carrier-grade NAT"},
    {"0.0.0.0", "an unspecified"},
    {"0.1.2.3", "an unspecified"},
    {"224.0.0.1", "a multicast"},
    {"239.255.255.250", "a multicast"},
    {"255.255.255.255", "a broadcast"},
    {"240.0.0.1", "a reserved"},
    {"::1", "a loopback"},
    {"::", "an unspecified"},
    {"fc00::1", "a private"},
    {"fd12:3456::1", "a private"},
    {"fd00:ec2::254", "a cloud metadata"},
    {"fe80::1", "a link-local"},
    {"febf::1", "a link-local"},
    {"ff02::1", "a multicast"},
    {"::ffff:127.0.0.1", "a loopback"},
    {"::ffff:10.0.0.1", "a private"},
    {"::ffff:169.254.169.254", "a cloud metadata"},
    {"::127.0.0.1", "a loopback"},
    {"64:ff9b::a00:1", "a private"},
    {"2002:7f00:1::", "a loopback"},
};

Test(ssrf, every_address_class_is_refused_as_a_literal) {
    hs_ssrf_t *g = guard(NULL);
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        char url[128], why[128];
        int v6 = strchr(classes[i].addr, ':') != NULL;
        snprintf(url, sizeof url, "http://%s%s%s:8080/hook", v6 ? "[" : "", classes[i].addr,
                 v6 ? "]" : "");
        snprintf(why, sizeof why, " is %s address", classes[i].what);
        refused(g, url, HS_ERR_INVALID, why);
    }
    refused(g, "http://127.0.0.1/", HS_ERR_INVALID, "127.0.0.1 is a loopback address");
    hs_ssrf_destroy(g);
}

Test(ssrf, every_address_class_is_refused_at_connect) {
    hs_ssrf_t *g = guard("");
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        struct sockaddr_storage ss = {0};
        if (strchr(classes[i].addr, ':')) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            cr_assert_eq(inet_pton(AF_INET6, classes[i].addr, &s6->sin6_addr), 1);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            cr_assert_eq(inet_pton(AF_INET, classes[i].addr, &s4->sin_addr), 1);
        }
        cr_assert_not(hs_ssrf_addr_allowed(g, (struct sockaddr *)&ss), "%s", classes[i].addr);
    }
    struct sockaddr_in pub = {.sin_family = AF_INET};
    inet_pton(AF_INET, "93.184.216.34", &pub.sin_addr);
    cr_assert(hs_ssrf_addr_allowed(g, (struct sockaddr *)&pub));
    struct sockaddr unix_sa = {.sa_family = AF_UNIX};
    cr_assert_not(hs_ssrf_addr_allowed(g, &unix_sa));
    cr_assert_not(hs_ssrf_addr_allowed(g, NULL));
    hs_ssrf_destroy(g);
}

Test(ssrf, addr_str) {
    char text[64];
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    hs_ssrf_addr_str((struct sockaddr *)&s6, text, sizeof text);
    cr_assert_str_eq(text, "::1");
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
    hs_ssrf_addr_str((struct sockaddr *)&s4, text, sizeof text);
    cr_assert_str_eq(text, "10.1.2.3");
    struct sockaddr unix_sa = {.sa_family = AF_UNIX};
    hs_ssrf_addr_str(&unix_sa, text, sizeof text);
    cr_assert_str_eq(text, "(family 1)");
}

Test(ssrf, public_addresses_pass) {
    hs_ssrf_t *g = guard(NULL);
    accepted(g, "http://93.184.216.34/hook");
    accepted(g, "https://8.8.8.8:8443/a?b=c#d");
    accepted(g, "https://[2606:4700:4700::1111]/hook");
    accepted(g, "http://172.32.0.1/");  /* just outside 172.16/12 */
    accepted(g, "http://100.128.0.1/"); /* just outside 100.64/10 */
    accepted(g, "http://[::ffff:8.8.8.8]/");
    hs_ssrf_destroy(g);
}

Test(ssrf, names_resolving_to_loopback_are_refused) {
    hs_ssrf_t *g = guard(NULL);
    refused(g, "http://localhost:9000/hook", HS_ERR_INVALID, "localhost: ");
    refused(g, "http://LOCALHOST/hook", HS_ERR_INVALID, "loopback address");
    hs_ssrf_destroy(g);
}

Test(ssrf, numeric_host_tricks_are_normalised) {
    hs_ssrf_t *g = guard(NULL);
    refused(g, "http://2130706433/", HS_ERR_INVALID, "loopback");
    refused(g, "http://0x7f.1/", HS_ERR_INVALID, "loopback");
    refused(g, "http://0177.0.0.1/", HS_ERR_INVALID, "loopback");
    refused(g, "http://0/", HS_ERR_INVALID, "unspecified");
    hs_ssrf_destroy(g);
}

Test(ssrf, unresolvable_name_is_unavailable) {
    hs_ssrf_t *g = guard(NULL);
    refused(g, "https://no-such-host.invalid/hook", HS_ERR_UNAVAILABLE, "does not resolve");
    hs_ssrf_destroy(g);
}

Test(ssrf, schemes_userinfo_and_malformed) {
    hs_ssrf_t *g = guard(NULL);
    refused(g, "ftp://93.184.216.34/x", HS_ERR_INVALID, "scheme ftp is not allowed");
    refused(g, "file:///etc/passwd", HS_ERR_INVALID, "scheme file is not allowed");
    refused(g, "gopher://93.184.216.34/", HS_ERR_INVALID, "scheme gopher");
    refused(g, "javascript:alert(1)", HS_ERR_INVALID, "");
    refused(g, "http://user:pw@93.184.216.34/", HS_ERR_INVALID, "user information");
    refused(g, "http://user@93.184.216.34/", HS_ERR_INVALID, "user information");
    refused(g, "/relative/path", HS_ERR_INVALID, "not an absolute URL");
    refused(g, "93.184.216.34/hook", HS_ERR_INVALID, "not an absolute URL");
    refused(g, "", HS_ERR_INVALID, "not an absolute URL");
    refused(g, "http://", HS_ERR_INVALID, "");
    refused(g, "http://[::1/", HS_ERR_INVALID, "not an absolute URL");
    refused(g, "http://exa mple.com/", HS_ERR_INVALID, "");
    refused(g, NULL, HS_ERR_INVALID, "not an absolute URL");
    hs_ssrf_destroy(g);
}

Test(ssrf, allow_list_cidrs_addresses_and_names) {
    hs_ssrf_t *g = guard(" 127.0.0.1/32, ::1 ,10.0.0.0/8,Internal.Example,,");
    accepted(g, "http://127.0.0.1:8080/hook");
    accepted(g, "http://[::1]:8080/hook");
    accepted(g, "http://[::ffff:127.0.0.1]/hook");
    accepted(g, "http://10.200.3.4/hook");
    accepted(g, "http://INTERNAL.example/hook"); /* listed by name: not even resolved */
    refused(g, "http://127.0.0.2/", HS_ERR_INVALID, "loopback");
    refused(g, "http://192.168.0.1/", HS_ERR_INVALID, "private");
    refused(g, "ftp://127.0.0.1/", HS_ERR_INVALID, "scheme");
    cr_assert(hs_ssrf_host_allowlisted(g, "http://internal.example:81/x"));
    cr_assert_not(hs_ssrf_host_allowlisted(g, "http://127.0.0.1/x"));
    cr_assert_not(hs_ssrf_host_allowlisted(g, "nope"));
    struct sockaddr_in lo = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
    cr_assert(hs_ssrf_addr_allowed(g, (struct sockaddr *)&lo));
    hs_ssrf_destroy(g);
    hs_ssrf_destroy(NULL);
}

Test(ssrf, localhost_allowed_through_its_addresses) {
    hs_ssrf_t *g = guard("127.0.0.0/8,::1");
    accepted(g, "http://localhost:9/hook");
    hs_ssrf_destroy(g);
}

Test(ssrf, bad_allow_entries) {
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::1/129",      "a b",
                         "host/8",      "-bad",      "exa$mple",   "10.0.0.0/8/1", "1.2.3.4/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        cr_assert_null(hs_ssrf_new(bad[i], err, sizeof err), "%s", bad[i]);
        cr_assert(strstr(err, "allow list"), "%s: %s", bad[i], err);
    }
}
