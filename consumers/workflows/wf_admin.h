/* The workflows admin API on the service's HTTP server, with the bearer tokens (admin and
 * read-only roles) and audit trail of the deliver admin API: GET /v1/workflows (definitions in
 * force and load errors), GET /v1/workflows/{name} (one definition: version, trigger, steps),
 * GET /v1/runs?workflow=&status=&key=&limit=&before= (newest first), GET /v1/runs/{id} (with its
 * steps), POST /v1/runs/{id}/cancel, POST /v1/runs/{id}/retry (admin role, audited). Errors are
 * problem+json. docs/workflows.md, "Admin API". */
#ifndef WF_ADMIN_H
#define WF_ADMIN_H

#include <stddef.h>

#include "hs_err.h"
#include "hs_http.h"

struct wf_service;
typedef struct wf_admin wf_admin_t;

/* Returns a new admin API for the service (its own store connection; tokens from
 * workflows.admin_tokens / read_tokens, else deliver.admin_tokens / read_tokens) or NULL with
 * errstr. s borrowed for the admin's life. */
wf_admin_t *wf_admin_new(struct wf_service *s, char *errstr, size_t n);
/* Adds the /v1/... routes to srv (before hs_http_server_start); destroy srv first. */
void wf_admin_routes(wf_admin_t *a, hs_http_server_t *srv);
/* HS_OK when the admin's database answers (readiness). */
hs_err_t wf_admin_ping(wf_admin_t *a, char *errstr, size_t n);
/* Frees a; NULL is a no-op. */
void wf_admin_destroy(wf_admin_t *a);

#endif
