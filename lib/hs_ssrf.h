/* Outbound URL guard against server-side request forgery: webhook targets must be absolute
 * http(s) URLs without credentials whose every address is public: not loopback, private,
 * link-local (cloud metadata), CGNAT, multicast, broadcast, reserved or unspecified, including
 * those embedded in IPv6 (v4-mapped, v4-compatible, NAT64, 6to4), unless allow-listed. Checked
 * when an endpoint is saved and again at connect time, so DNS rebinding is caught too.
 * @locality: immutable after hs_ssrf_new; safe to share between threads. */
#ifndef HS_SSRF_H
#define HS_SSRF_H

#include <stddef.h>
#include <sys/socket.h>

#include "hs_err.h"

typedef struct hs_ssrf hs_ssrf_t;

/* Returns a new guard (free with hs_ssrf_destroy). allow: comma-separated CIDRs, addresses or
 * host names allowed although private ("127.0.0.1/32, ::1, 10.0.0.0/8, internal.example"), may
 * be NULL or "". NULL + errstr naming the bad entry. */
hs_ssrf_t *hs_ssrf_new(const char *allow, char *errstr, size_t n);

/* Frees g; NULL is a no-op. */
void hs_ssrf_destroy(hs_ssrf_t *g);

/* Checks a URL for use as a webhook target: absolute http/https only (curl_url parser), a host,
 * no userinfo; resolves the host (getaddrinfo) and refuses when ANY address is not public,
 * unless the address or the host name is allow-listed. HS_ERR_INVALID with the reason
 * ("scheme ftp is not allowed", "127.0.0.1 is a loopback address"); HS_ERR_UNAVAILABLE when
 * the name does not resolve. */
hs_err_t hs_ssrf_check_url(const hs_ssrf_t *g, const char *url, char *errstr, size_t n);

/* 1 when connecting to this address is allowed (for libcurl's CURLOPT_OPENSOCKETFUNCTION so a
 * DNS answer that changes after the check is caught at connect time); 0 for other families. */
int hs_ssrf_addr_allowed(const hs_ssrf_t *g, const struct sockaddr *sa);

/* Writes the numeric text of sa's address ("10.0.0.1", "::1") to out, or "(family N)" for
 * other families; for error texts about refused addresses. */
void hs_ssrf_addr_str(const struct sockaddr *sa, char *out, size_t n);

/* 1 when the URL's host is allow-listed by name: its transfers skip hs_ssrf_addr_allowed
 * (the operator vouched for the name, whatever it resolves to). 0 otherwise or unparsable. */
int hs_ssrf_host_allowlisted(const hs_ssrf_t *g, const char *url);

#endif
