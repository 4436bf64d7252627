/* `hookstream workflows`: event-triggered and scheduled multi-step workflows with their state in
 * Postgres. A trigger consumer (consumer runtime) turns matching events into runs and ends event
 * waits; worker threads claim due runs and execute their steps (http, slack, email, emit, delay,
 * branch, log, wait_for_event) with per-step retries, per-integration kill switch, breaker and
 * token bucket; a scheduler fires cron triggers; the admin API lists, cancels and retries runs.
 * A run resumes where it stopped after a restart or a crash. docs/workflows.md. */
#ifndef WORKFLOWS_H
#define WORKFLOWS_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct wf_service wf_service_t;

/* Returns a new service (definitions loaded, store reachable, admin API listening, nothing
 * consumed or executed yet) or NULL with errstr. cfg borrowed for the service's life. */
wf_service_t *wf_service_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);
/* The bound admin/metrics port. */
int wf_service_port(const wf_service_t *s);
/* Runs triggers, workers and the scheduler until wf_service_stop; then shuts down (workers
 * finish their current step; nothing is lost: an interrupted run resumes from the store). */
hs_err_t wf_service_run(wf_service_t *s, char *errstr, size_t errstr_size);
/* Asks wf_service_run to return; safe from any thread and from a signal handler. */
void wf_service_stop(wf_service_t *s);
void wf_service_destroy(wf_service_t *s);

#endif
