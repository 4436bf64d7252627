/* Executing one claimed run (wf_exec.c walks the steps, wf_exec_steps.c performs one step).
 * A run is replayed from its first step on every claim: completed steps are skipped with their
 * saved output (a branch takes the side it recorded), so nothing that completed runs twice and
 * the run continues where it stopped. Not for other services. */
#ifndef WF_EXEC_H
#define WF_EXEC_H

#include "wf_internal.h"

typedef enum {
    WF_X_DONE,   /* the step (list) completed */
    WF_X_SLEEP,  /* the run waits until wake_ms */
    WF_X_FAILED, /* the step failed for good: error */
    WF_X_LOST,   /* the run is no longer ours (lease lost, cancelled) or the store failed */
} wf_xres_t;

/* One run being executed. @locality: one worker thread. */
typedef struct {
    wf_service_t *s;
    wf_store_t *store;
    const wf_run_t *run;
    int64_t lease_until_ms; /* when the lease taken at the claim (or last extended) runs out */
    const char *owner;  /* this worker's lease owner name */
    const wf_def_t *def;
    wf_step_run_t *srs; /* step runs as loaded at the claim */
    size_t nsrs;
    json_t *outputs;    /* {step id: output} of completed steps */
    json_t *run_info;   /* {"id","workflow","version","key"} */
    int64_t wake_ms;    /* WF_X_SLEEP */
    char error[1024];   /* WF_X_FAILED */
} wf_xrun_t;

/* The step run of id, NULL when the step never started. */
const wf_step_run_t *wf_exec_step_run(const wf_xrun_t *x, const char *id);
/* Performs one leaf step (not a branch) given its step run (NULL: first time). */
wf_xres_t wf_exec_step(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr);
/* Template resolver over the run (event, steps, flags, run, env, secrets); opaque = x. */
json_t *wf_exec_resolve(void *opaque, const char *const *segs, size_t nsegs);
/* Records a store failure: logs it, returns WF_X_LOST (the run is picked up again later). */
wf_xres_t wf_exec_store_failed(wf_xrun_t *x, const char *what, hs_err_t e, const char *err);

#endif
