#include "hs_ssrf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ENTRIES 256
#define MAX_HOST 253

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    unsigned char net[16];
    int prefix;
    const char *what; /* deny table: the class named in errors */
} cidr_t;

/* Most specific first: the first matching row names the class. */
static const struct {
    const char *cidr, *what;
} deny_table[] = {
    {"169.254.169.254/32", "cloud metadata"},
    {"0.0.0.0/8", "unspecified"},
    {"127.0.0.0/8", "loopback"},
    {"10.0.0.0/8", "private"},
    {"172.16.0.0/12", "private"},
    {"192.168.0.0/16", "private"},
    {"169.254.0.0/16", "link-local"},
    {"100.64.0.0/10", "carrier-grade NAT"},
    {"192.0.0.0/24", "reserved"},
    {"198.18.0.0/15", "reserved"},
    {"224.0.0.0/4", "multicast"},
    {"255.255.255.255/32", "broadcast"},
    {"240.0.0.0/4", "reserved"},
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"fd00:ec2::254/128", "cloud metadata"},
    {"fc00::/7", "private"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local"},
    {"ff00::/8", "multicast"},
};

#define NDENY (sizeof deny_table / sizeof deny_table[0])

struct hs_ssrf {
    cidr_t deny[NDENY]; /* deny_table, parsed */
    cidr_t *allow;
    size_t nallow;
    char **hosts;
    size_t nhosts;
};

/* IPv6 prefixes that carry an IPv4 address: the embedded one is judged instead. */
static const struct {
    unsigned char prefix[12];
    int bits, offset; /* prefix length, byte offset of the IPv4 address */
} embeds[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 12}, /* v4-mapped ::ffff:0:0/96 */
    {{0}, 96, 12},                                        /* v4-compatible ::/96 */
    {{0, 0x64, 0xff, 0x9b}, 96, 12},                      /* NAT64 64:ff9b::/96 */
    {{0x20, 0x02}, 16, 2},                                /* 6to4 2002::/16 */
};

static int prefix_match(const unsigned char *a, const unsigned char *net, int bits) {
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0) return 0;
    if (!rest) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static int cidr_parse(const char *s, cidr_t *c) {
    char buf[64];
    size_t len = strlen(s);
    if (len >= sizeof buf) return -1;
    memcpy(buf, s, len + 1);
    char *slash = strchr(buf, '/');
    if (slash) *slash = '\0';
    if (inet_pton(AF_INET, buf, c->net) == 1) {
        c->family = AF_INET;
        c->prefix = 32;
    } else if (inet_pton(AF_INET6, buf, c->net) == 1) {
        c->family = AF_INET6;
        c->prefix = 128;
    } else {
        return -1;
    }
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > c->prefix) return -1;
        c->prefix = (int)p;
    }
    return 0;
}

static int cidr_match(const cidr_t *c, int family, const unsigned char *a) {
    return c->family == family && prefix_match(a, c->net, c->prefix);
}

static int allowed_addr(const hs_ssrf_t *g, int family, const unsigned char *a) {
    for (size_t i = 0; i < g->nallow; i++)
        if (cidr_match(&g->allow[i], family, a)) return 1;
    return 0;
}

/* Returns NULL when the address is public or allow-listed, else the class that refuses it. */
static const char *refusal(const hs_ssrf_t *g, int family, const unsigned char *a) {
    if (allowed_addr(g, family, a)) return NULL;
    if (family == AF_INET6) {
        for (size_t i = 0; i < sizeof embeds / sizeof embeds[0]; i++) {
            /* :: and ::1 are themselves in ::/96; they are judged as IPv6 below. */
            if (prefix_match(a, embeds[i].prefix, embeds[i].bits) &&
                !(i == 1 && !memcmp(a + 12, "\0\0\0", 3) && a[15] <= 1))
                return refusal(g, AF_INET, a + embeds[i].offset);
        }
    }
    for (size_t i = 0; i < NDENY; i++)
        if (cidr_match(&g->deny[i], family, a)) return deny_table[i].what;
    return NULL;
}

static int host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int add_entry(hs_ssrf_t *g, const char *e, char *errstr, size_t n) {
    if (g->nallow + g->nhosts >= MAX_ENTRIES) {
        hs_fail(HS_ERR_INVALID, errstr, n, "ssrf allow list: more than %d entries", MAX_ENTRIES);
        return -1;
    }
    cidr_t c = {0};
    if (cidr_parse(e, &c) == 0) {
        g->allow[g->nallow++] = c;
        return 0;
    }
    size_t len = strlen(e);
    int ok = len > 0 && len <= MAX_HOST && !strchr(e, '/') && e[0] != '.' && e[0] != '-';
    for (size_t i = 0; ok && i < len; i++)
        ok = host_char(e[i]);
    if (!ok) {
        hs_fail(HS_ERR_INVALID, errstr, n,
                "ssrf allow list: \"%.80s\" is neither a CIDR, an address nor a host name", e);
        return -1;
    }
    if (!(g->hosts[g->nhosts] = strdup(e))) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return -1;
    }
    g->nhosts++;
    return 0;
}

static int parse_allow(hs_ssrf_t *g, const char *allow, char *errstr, size_t n) {
    char entry[MAX_HOST + 2];
    const char *p = allow;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        p += len + (p[len] == ',');
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len == 0) continue; /* "a,,b" and a trailing comma are harmless */
        if (len >= sizeof entry) {
            hs_fail(HS_ERR_INVALID, errstr, n, "ssrf allow list: entry \"%.40s...\" too long", s);
            return -1;
        }
        for (size_t i = 0; i < len; i++) /* host names compare case-insensitively */
            entry[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        entry[len] = '\0';
        if (add_entry(g, entry, errstr, n) != 0) return -1;
    }
    return 0;
}

hs_ssrf_t *hs_ssrf_new(const char *allow, char *errstr, size_t n) {
    hs_ssrf_t *g = calloc(1, sizeof *g);
    if (g) {
        g->allow = calloc(MAX_ENTRIES, sizeof *g->allow);
        g->hosts = calloc(MAX_ENTRIES, sizeof *g->hosts);
    }
    if (!g || !g->allow || !g->hosts) {
        hs_ssrf_destroy(g);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < NDENY; i++)
        cidr_parse(deny_table[i].cidr, &g->deny[i]);
    if (parse_allow(g, allow, errstr, n) != 0) {
        hs_ssrf_destroy(g);
        return NULL;
    }
    return g;
}

void hs_ssrf_destroy(hs_ssrf_t *g) {
    if (!g) return;
    for (size_t i = 0; g->hosts && i < g->nhosts; i++)
        free(g->hosts[i]);
    free(g->hosts);
    free(g->allow);
    free(g);
}

int hs_ssrf_addr_allowed(const hs_ssrf_t *g, const struct sockaddr *sa) {
    if (!sa) return 0;
    if (sa->sa_family == AF_INET)
        return !refusal(g, AF_INET,
                        (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return !refusal(g, AF_INET6,
                        (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

void hs_ssrf_addr_str(const struct sockaddr *sa, char *out, size_t n) {
    const void *ip = sa->sa_family == AF_INET6
                         ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                         : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
        !inet_ntop(sa->sa_family, ip, out, (socklen_t)n))
        snprintf(out, n, "(family %d)", sa->sa_family);
}

/* The parts of a URL the guard needs; host without IPv6 brackets, lower case. */
typedef struct {
    char scheme[16];
    char host[MAX_HOST + 1];
} url_parts_t;

static hs_err_t url_parse(const char *url, url_parts_t *u, char *errstr, size_t n) {
    CURLU *h = curl_url();
    if (!h) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    hs_err_t err = HS_OK;
    if (!url || curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        err = hs_fail(HS_ERR_INVALID, errstr, n, "not an absolute URL");
    } else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        err = hs_fail(HS_ERR_INVALID, errstr, n, "scheme %.20s is not allowed (http, https)",
                      scheme ? scheme : "(none)");
    } else if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
               curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        err = hs_fail(HS_ERR_INVALID, errstr, n, "URL must not carry user information");
    } else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        err = hs_fail(HS_ERR_INVALID, errstr, n, "URL has no host");
    } else {
        size_t len = strlen(host);
        const char *hp = host;
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']') hp++, len -= 2;
        if (len > MAX_HOST) {
            err = hs_fail(HS_ERR_INVALID, errstr, n, "host name longer than %d", MAX_HOST);
        } else {
            for (size_t i = 0; i < len; i++)
                u->host[i] = (char)(hp[i] >= 'A' && hp[i] <= 'Z' ? hp[i] - 'A' + 'a' : hp[i]);
            u->host[len] = '\0';
            snprintf(u->scheme, sizeof u->scheme, "%s", scheme);
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(h);
    return err;
}

static int host_listed(const hs_ssrf_t *g, const char *host) {
    for (size_t i = 0; i < g->nhosts; i++)
        if (strcmp(g->hosts[i], host) == 0) return 1;
    return 0;
}

int hs_ssrf_host_allowlisted(const hs_ssrf_t *g, const char *url) {
    url_parts_t u;
    return url_parse(url, &u, NULL, 0) == HS_OK && host_listed(g, u.host);
}

/* Judges one resolved address; HS_ERR_INVALID naming it and its class when refused. */
static hs_err_t judge(const hs_ssrf_t *g, const char *host, const struct sockaddr *sa, char *errstr,
                      size_t n) {
    if (hs_ssrf_addr_allowed(g, sa)) return HS_OK;
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    char text[INET6_ADDRSTRLEN];
    hs_ssrf_addr_str(sa, text, sizeof text);
    const char *what = "non-public";
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        const char *r = refusal(g, sa->sa_family, a);
        if (r) what = r;
    }
    int literal = strcmp(text, host) == 0;
    return hs_fail(HS_ERR_INVALID, errstr, n, "%s%s%s is a%s %s address", literal ? "" : host,
                   literal ? "" : ": ", text, strchr("aeiou", what[0]) ? "n" : "", what);
}

hs_err_t hs_ssrf_check_url(const hs_ssrf_t *g, const char *url, char *errstr, size_t n) {
    url_parts_t u;
    hs_err_t err = url_parse(url, &u, errstr, n);
    if (err) return err;
    if (host_listed(g, u.host)) return HS_OK;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(u.host, NULL, &hints, &res);
    if (rc != 0)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "host %s does not resolve: %s", u.host,
                       gai_strerror(rc));
    for (struct addrinfo *ai = res; ai && !err; ai = ai->ai_next)
        err = judge(g, u.host, ai->ai_addr, errstr, n);
    freeaddrinfo(res);
    return err;
}
