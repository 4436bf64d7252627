/* What the action files share and nobody else needs: the vtables of the table, the calling
 * thread's libcurl handle, failures as results, secret-free URLs for error texts, declarative
 * param checks, and the one HTTP transport that both http and slack go through. */
#ifndef HS_ACTION_IMPL_H
#define HS_ACTION_IMPL_H

#include <curl/curl.h>

#include "hs_action.h"

extern const hs_action_t hs_action_http;
extern const hs_action_t hs_action_slack;
extern const hs_action_t hs_action_email;

/* Largest response body an http/slack attempt reads; see docs/workflow-actions.md. */
#define HS_ACTION_MAX_RESPONSE (1u << 20)

/* An attempt's timeout when ctx->timeout_ms is not positive. */
#define HS_ACTION_DEFAULT_TIMEOUT_MS 30000L

/* ---- plumbing (hs_action.c) ---- */

/* The calling thread's easy handle with default options but its live connections kept (so
 * keep-alive works across attempts); NULL when out of memory. Freed when the thread exits.
 * Borrowed: one transfer at a time on this thread, then action_curl_release. */
CURL *action_curl(void);

/* Resets e after a transfer, so the idle handle points into no caller's memory. */
void action_curl_release(CURL *e);

/* A growing buffer, NUL-terminated once anything was added; zero it to start, free(p) after.
 * @locality: one thread. */
typedef struct {
    char *p;
    size_t len, cap;
    size_t max; /* most bytes kept, 0 = no bound */
    int oom;    /* an add failed for memory */
    int over;   /* an add would have passed max */
} action_buf_t;

/* Appends s[0..n) to b; -1 (oom or over set, nothing added) when it cannot. */
int action_buf_add(action_buf_t *b, const char *s, size_t n);

/* Appends "name: value" to *l ("name;" for an empty value, which curl sends empty); -1 when out
 * of memory or when value holds a control character but tab (header injection). */
int action_slist_add(struct curl_slist **l, const char *name, const char *value);

/* Fills res as a failure (formatted error, retryable) and returns err. */
hs_err_t action_fail(hs_action_result_t *res, hs_err_t err, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes url for error texts: scheme://host[:port] plus the path when keep_path, never the
 * user info, query or fragment (where secrets travel). "(bad URL)" when it does not parse. */
void action_url_redact(const char *url, int keep_path, char *out, size_t n);

/* Connect-time SSRF guard of one transfer (CURLOPT_OPENSOCKETDATA of action_guard_open). */
typedef struct {
    const hs_ssrf_t *ssrf;
    int refused;   /* an address was refused */
    char addr[64]; /* the last refused address */
} action_guard_t;

/* Arms the guard on e for url: nothing when ssrf is NULL or the host is allow-listed by name. */
void action_guard_set(CURL *e, action_guard_t *g, const hs_ssrf_t *ssrf, const char *url);

/* Fills res for a transfer that ended with rc (not CURLE_OK), naming what ("POST https://x")
 * and returns the error: timeouts and connection failures are retryable, a refused address,
 * a bad URL or protocol and failed TLS verification are not. */
hs_err_t action_curl_fail(hs_action_result_t *res, CURLcode rc, const action_guard_t *g,
                          const char *what, const char *curl_err);

/* ---- params (hs_action.c) ---- */

typedef enum {
    ACTION_P_STRING,         /* a string */
    ACTION_P_STRING_OR_LIST, /* a string or a non-empty list of strings */
    ACTION_P_STRING_MAP,     /* an object whose values are strings */
    ACTION_P_STATUS_LIST,    /* a non-empty list of integers 100..599 */
    ACTION_P_LIST,           /* a list */
    ACTION_P_ANY,            /* any JSON value */
} action_ptype_t;

typedef enum {
    ACTION_OPTIONAL,
    ACTION_REQUIRED,
    ACTION_ONE_OF, /* at least one of the params marked so is required */
} action_need_t;

typedef struct {
    const char *name;
    action_ptype_t type;
    action_need_t need;
} action_param_t;

/* Checks params against spec (n entries): an object, the required keys present (and one of
 * the ACTION_ONE_OF ones), no unknown key, each value of its type. Before rendering (rendered = 0)
 * a string holding "{{" is accepted for any type: it may render to one. HS_ERR_INVALID naming the
 * param. */
hs_err_t action_params_check(const json_t *params, const action_param_t *spec, size_t n,
                             int rendered, char *errstr, size_t errstr_size);

/* The same check on rendered params before an attempt: HS_ERR_INVALID with res filled
 * ("<action>: missing param 'url'"), not retryable. */
hs_err_t action_params_ready(const json_t *params, const action_param_t *spec, size_t n,
                             const char *action, hs_action_result_t *res);

/* The string value of params[name], NULL when absent or not a string. Borrowed. */
const char *action_param_str(const json_t *params, const char *name);

/* 1 when the JSON string v holds a CR, an LF, a NUL or another control character but tab
 * (header injection); 0 for a string without, and for anything not a string. */
int action_has_ctl(const json_t *v);

/* ---- the HTTP transport (action_http.c) ---- */

typedef struct {
    const char *method; /* "POST" */
    const char *url;
    int hide_path;            /* errors name only scheme://host:port (Slack: the path is a key) */
    const json_t *headers;    /* object of strings, may be NULL: a name here replaces ours */
    const char *content_type; /* sent when headers has none; NULL = none */
    const char *body;         /* NULL = no body */
    size_t len;
    const json_t *expect; /* list of accepted statuses; NULL = any 2xx */
} action_http_req_t;

/* One HTTP attempt: sends req with Idempotency-Key, User-Agent and traceparent from ctx, reads
 * at most HS_ACTION_MAX_RESPONSE bytes, no redirects. HS_OK with res->output {"status",
 * "headers", "response"} when the status is accepted; otherwise res is a failure: retryable
 * for connection errors, timeouts, 408, 429 and 5xx (with Retry-After), not for other
 * statuses, a refused address or an oversized accepted answer. */
hs_err_t action_http_send(const action_http_req_t *req, const hs_action_ctx_t *ctx,
                          hs_action_result_t *res);

#endif
