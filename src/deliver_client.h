/* What `hookstream endpoints` and `hookstream replay` share: a client of the deliver admin API
 * (deliver.url, bearer deliver.token) whose calls print the server's problem+json detail and
 * turn it into the command's exit code, and the TIME arguments both commands accept. */
#ifndef HS_DELIVER_CLIENT_H
#define HS_DELIVER_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_httpc.h"

/* Returns a new client for deliver.url sending deliver.token, or NULL after printing why
 * (prefixed "hookstream <cmd>: "). Free with hs_httpc_destroy. */
hs_httpc_t *deliver_client_new(const hs_config_t *cfg, const char *cmd);

/* Sends method path with body (borrowed, may be NULL). Returns 0 and *out (new reference or
 * NULL for an empty answer; out may be NULL to drop it) on a 2xx answer; else prints
 * "hookstream <cmd>: HTTP 422 Unprocessable: url: ..." (or the transport error) and returns 1. */
int deliver_client_call(hs_httpc_t *c, const char *cmd, const char *method, const char *path,
                        const json_t *body, json_t **out);

/* TIME → unix ms: RFC 3339 ("2024-05-01T12:00:00Z"), unix milliseconds, or a duration ago
 * ("90s", "2h", "1d"). Returns 0, or -1 when s is none of them. */
int deliver_client_time(const char *s, int64_t *ms);

/* Prints v to stdout as indented JSON followed by a newline. */
void deliver_client_print_json(const json_t *v);

#endif
