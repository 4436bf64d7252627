/* Outbound actions of workflow steps: one small vtable per side effect (http, slack, email),
 * each in connectors/actions/action_<name>.c, found by name in one table. An action gets its
 * params already rendered (no templates left) and performs one attempt: it never retries
 * itself, it says whether another attempt may succeed. Every attempt of one step carries the
 * same idempotency key, so a receiver can drop a repeat (HTTP header Idempotency-Key, email
 * Message-ID). Blocking; called from engine worker threads. */
#ifndef HS_ACTION_H
#define HS_ACTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"
#include "hs_ssrf.h"

typedef struct {
    const char *idempotency_key; /* "<run id>:<step id>", same on every attempt */
    int64_t timeout_ms;          /* whole attempt */
    const hs_ssrf_t *ssrf;       /* guard for the target host; NULL = none */
    const char *traceparent;     /* W3C traceparent to send on, NULL = none */
    const char *smtp_url;        /* default SMTP server for email ("smtp://127.0.0.1:2525") */
    const char *smtp_from;       /* default sender for email */
} hs_action_ctx_t;

typedef struct {
    int status;             /* HTTP status or SMTP reply code; 0 when nothing answered */
    json_t *output;         /* new reference, the step's saved result (NULL on failure):
                               http/slack {"status": 201, "headers": {lower-case name: value},
                               "response": body as JSON, or as a string when not JSON};
                               email {"message_id": "<...>", "to": [...]} */
    int retryable;          /* failure only: 1 when a later attempt may succeed */
    int64_t retry_after_ms; /* failure only: the server's Retry-After, 0 when none */
    char error[512];        /* failure only: "POST http://...: 503 Service Unavailable: <start
                               of body>" / "SMTP smtp://...: 550 ..." — never a secret */
} hs_action_result_t;

typedef struct {
    const char *name;
    /* Checks params at definition load (required fields, types; strings may still hold
     * templates, so values are not checked). HS_ERR_INVALID naming the field. */
    hs_err_t (*validate)(const json_t *params, char *errstr, size_t n);
    /* One attempt with rendered params. HS_OK on success (res->output set); otherwise an error
     * code with res->error/retryable/retry_after_ms filled. */
    hs_err_t (*run)(const json_t *params, const hs_action_ctx_t *ctx, hs_action_result_t *res);
} hs_action_t;

/* The action named name ("http", "slack", "email"), NULL when none. Static. */
const hs_action_t *hs_action_find(const char *name);

/* Frees res->output and zeroes res. */
void hs_action_result_clear(hs_action_result_t *res);

#endif
