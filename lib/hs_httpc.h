/* Tiny HTTP client for JSON APIs over libcurl's easy interface: GET/POST/PUT/DELETE against a
 * base URL with a timeout, returning the status and the body (parsed as JSON on request).
 * Errors name the method and URL: "GET http://127.0.0.1:8081/subjects: Connection refused".
 * @locality: one handle is used by one thread at a time (callers lock); it keeps its connection
 * open between requests. */
#ifndef HS_HTTPC_H
#define HS_HTTPC_H

#include <jansson.h>
#include <stddef.h>

#include "hs_err.h"

/* Largest response body accepted; bigger ones fail with HS_ERR_TOO_LARGE. */
#define HS_HTTPC_MAX_BODY (16u << 20)

typedef struct hs_httpc hs_httpc_t;

typedef struct {
    long status; /* HTTP status code */
    char *body;  /* NUL-terminated body (never NULL after success); owned: hs_httpc_resp_clear */
    size_t len;
} hs_httpc_resp_t;

/* Returns a new client for base_url ("http://host:port", a trailing '/' is dropped) or NULL
 * with errstr when base_url is not http(s). media_type is sent as Content-Type and Accept of
 * JSON requests (NULL: "application/json"). Strings are copied. Free with hs_httpc_destroy. */
hs_httpc_t *hs_httpc_new(const char *base_url, long timeout_ms, const char *media_type,
                         char *errstr, size_t errstr_size);

/* Frees c and closes its connection; NULL is a no-op. */
void hs_httpc_destroy(hs_httpc_t *c);

/* Sends "Authorization: Bearer <token>" on every later request (NULL or "" stops sending it).
 * token is copied. HS_ERR_INTERNAL when out of memory. */
hs_err_t hs_httpc_set_bearer(hs_httpc_t *c, const char *token);

/* Returns the base URL (borrowed, valid until hs_httpc_destroy). */
const char *hs_httpc_base_url(const hs_httpc_t *c);

/* Sends method to base_url + path with body (len bytes; NULL for none) of content_type.
 * HS_OK when a response arrived, whatever its status; HS_ERR_TIMEOUT past the timeout;
 * HS_ERR_UNAVAILABLE when the server cannot be reached; HS_ERR_TOO_LARGE over
 * HS_HTTPC_MAX_BODY. On HS_OK the caller owns resp->body (hs_httpc_resp_clear). */
hs_err_t hs_httpc_request(hs_httpc_t *c, const char *method, const char *path,
                          const char *content_type, const char *body, size_t len,
                          hs_httpc_resp_t *resp, char *errstr, size_t errstr_size);

/* Frees resp->body and zeroes resp; NULL is a no-op. */
void hs_httpc_resp_clear(hs_httpc_resp_t *resp);

/* Sends body (may be NULL; borrowed) as JSON and parses the response: *status receives the
 * code, *out a new reference to the parsed body (caller json_decref) or NULL when the body is
 * empty. A body that is not JSON fails with HS_ERR_UNAVAILABLE naming the URL and status. */
hs_err_t hs_httpc_json(hs_httpc_t *c, const char *method, const char *path, const json_t *body,
                       long *status, json_t **out, char *errstr, size_t errstr_size);

/* Returns s percent-encoded for one URL path segment or query value (RFC 3986 unreserved
 * characters kept); new string, caller frees; NULL when out of memory. */
char *hs_httpc_escape(const char *s);

#endif
