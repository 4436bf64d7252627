/* What the commands that talk to a service's admin API share (`endpoints` and `replay` to
 * deliver, `workflows` to the workflows service): a client of <service>.url sending the bearer
 * <service>.token, whose calls print the server's problem+json detail and turn it into the
 * command's exit code, and the TIME arguments the commands accept. */
#ifndef HS_ADMIN_CLIENT_H
#define HS_ADMIN_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_httpc.h"

/* Returns a new client for <service>.url sending <service>.token ("deliver", "workflows"), or
 * NULL after printing why (prefixed "hookstream <cmd>: "). Free with hs_httpc_destroy. */
hs_httpc_t *admin_client_new(const hs_config_t *cfg, const char *cmd, const char *service);

/* Sends method path with body (borrowed, may be NULL). Returns 0 and *out (new reference or
 * NULL for an empty answer; out may be NULL to drop it) on a 2xx answer; else prints
 * "hookstream <cmd>: GET /v1/...: HTTP 422 Unprocessable Content: limit: ..." (or the transport
 * error) and returns 1. */
int admin_client_call(hs_httpc_t *c, const char *cmd, const char *method, const char *path,
                      const json_t *body, json_t **out);

/* TIME → unix ms: RFC 3339 ("2024-05-01T12:00:00Z"), unix milliseconds, or a duration ago
 * ("90s", "2h", "1d"). Returns 0, or -1 when s is none of them. */
int admin_client_time(const char *s, int64_t *ms);

/* Appends "?key=value" (first) or "&key=value" to the query string in q (n bytes), value
 * percent-encoded; truncated when q is full. */
void admin_client_query_add(char *q, size_t n, const char *key, const char *value);

/* Prints v to stdout as indented JSON followed by a newline. */
void admin_client_print_json(const json_t *v);

#endif
