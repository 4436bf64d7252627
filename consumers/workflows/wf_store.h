/* Durable state of workflow runs in Postgres (schemas/sql/003_workflows.sql): the definition
 * versions runs started with, runs (with their timer: wake_at), step runs (attempts, outputs,
 * errors), event waits and the recent events they may match. Every change is one transaction, so
 * a crash at any moment leaves a state a restarted engine resumes from. A run is worked on by one
 * engine worker at a time: claiming it takes a lease (owner + expiry); every later change by the
 * worker checks the lease and fails with HS_ERR_CONFLICT once it is lost (expired and claimed by
 * another worker, or the run was cancelled), so the worker stops.
 *
 * Run states: pending (created, not started: waiting for a concurrency slot), running (claimed),
 * waiting (started, asleep until wake_at: delay, retry backoff, event wait timeout, integration
 * held), completed, failed, cancelled. Step run states: running, waiting, completed, failed.
 * @locality: a wf_store_t is one connection used by one thread at a time. */
#ifndef WF_STORE_H
#define WF_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

typedef struct wf_store wf_store_t;

/* Returns a new store connected to dsn (waits up to timeout_s) or NULL with errstr. Does not
 * migrate (hookstream migrate / hs_pg_migrate does). */
wf_store_t *wf_store_new(const char *dsn, int timeout_s, char *errstr, size_t n);
/* Closes s; NULL is a no-op. */
void wf_store_destroy(wf_store_t *s);
/* HS_OK when the database answers (readiness). Reconnects a broken connection first. */
hs_err_t wf_store_ping(wf_store_t *s, char *errstr, size_t n);

/* ---- definition versions ------------------------------------------------------------------ */

/* Records the text of workflow name at version (no-op when that version exists). */
hs_err_t wf_store_put_version(wf_store_t *s, const char *name, const char *version,
                              const char *text, char *errstr, size_t n);
/* The text of name@version as a new string (caller frees) or NULL with HS_ERR_NOT_FOUND in
 * *err. */
char *wf_store_get_version(wf_store_t *s, const char *name, const char *version, hs_err_t *err,
                           char *errstr, size_t n);

/* ---- runs --------------------------------------------------------------------------------- */

typedef struct {
    const char *workflow, *version;
    const char *trigger_id;   /* ce_id of the event, or "schedule:<unix ms>" for cron */
    const char *trigger_type; /* event type, or "schedule" */
    const char *key;          /* concurrency key ("" when none) */
    const json_t *event;      /* trigger event as JSON (borrowed): {"id","type","source",
                                 "subject","time","tenant","data"} */
    int depth;                /* emit depth of the trigger event (0 for provider events) */
    int max_runs, max_per_key;/* the definition's concurrency limits (0 = none) */
    int64_t deadline_ms;      /* unix ms after which the run fails as timed out */
} wf_run_new_t;

/* Creates a pending run, idempotently: a run for (workflow, trigger_id) that exists is kept and
 * *created = 0. id receives the run's UUID (new or existing). */
hs_err_t wf_store_run_create(wf_store_t *s, const wf_run_new_t *r, char id[37], int *created,
                             char *errstr, size_t n);

/* Creates the runs of a batch in one statement, idempotently like wf_store_run_create: runs is
 * an array of {"workflow","version","trigger_id","trigger_type","key","event","depth",
 * "max_runs","max_per_key","deadline_ms"} (event-triggered runs only). *created is a new array
 * of {"id","workflow","trigger_id"} for the runs that did not exist (caller json_decref). */
hs_err_t wf_store_runs_create(wf_store_t *s, const json_t *runs, json_t **created, char *errstr,
                              size_t n);

/* A claimed run. Strings and event owned by the array (wf_store_runs_free). */
typedef struct {
    char id[37];
    char *workflow, *version, *key;
    json_t *event;
    int depth;
    int64_t created_ms, deadline_ms;
    int started; /* 0 for a run claimed from pending (first time) */
} wf_run_t;

/* Claims up to max runs for owner with a lease of lease_ms: waiting runs whose wake_at passed,
 * running runs whose lease expired, on the first claim made on s also the running runs held by
 * this same owner (each worker has its own owner name and its own store, so those are left over
 * from a crashed earlier life of the worker and are taken back at once), and pending runs that fit their limits (active = running or
 * waiting runs; per key, only the oldest pending run of a key may start, so runs of one key
 * start in creation order). Claiming is serialized (advisory lock) so two engines never both
 * start a run that breaks a limit. *out is a new array (wf_store_runs_free), *count its size. */
hs_err_t wf_store_claim(wf_store_t *s, const char *owner, int64_t lease_ms, size_t max,
                        wf_run_t **out, size_t *count, char *errstr, size_t n);
void wf_store_runs_free(wf_run_t *runs, size_t count);
/* Extends the lease (long steps). HS_ERR_CONFLICT when lost. */
hs_err_t wf_store_lease_extend(wf_store_t *s, const char *id, const char *owner, int64_t lease_ms,
                               char *errstr, size_t n);
/* Puts the run to sleep until wake_ms (status waiting, lease released); until now when an event
 * it waits for arrived while it ran (wf_store_event_arrived), so that wake is not lost. */
hs_err_t wf_store_run_sleep(wf_store_t *s, const char *id, const char *owner, int64_t wake_ms,
                            char *errstr, size_t n);
/* Ends the run: status "completed" or "failed" (error may be NULL). Deletes its waits. */
hs_err_t wf_store_run_finish(wf_store_t *s, const char *id, const char *owner, const char *status,
                             const char *error, char *errstr, size_t n);
/* Cancels a run that has not ended (a running run's worker notices at its next store call).
 * HS_ERR_NOT_FOUND when no such run, HS_ERR_CONFLICT when it already ended. */
hs_err_t wf_store_run_cancel(wf_store_t *s, const char *id, char *errstr, size_t n);
/* Makes a failed, cancelled or timed-out run pending again: its failed and unfinished step runs
 * are deleted (they run again), completed ones are kept (never run twice); its deadline is its
 * whole timeout from now. HS_ERR_CONFLICT when the run has not ended or completed. */
hs_err_t wf_store_run_retry(wf_store_t *s, const char *id, char *errstr, size_t n);

/* ---- step runs ---------------------------------------------------------------------------- */

typedef struct {
    char *step_id, *status, *error;
    int attempt;      /* attempts begun so far */
    json_t *output;   /* completed: the step's result; NULL otherwise */
    int64_t wake_ms;  /* waiting: when to look again */
    int64_t started_ms, finished_ms;
} wf_step_run_t;

/* Every step run of the run (array owned by the caller: wf_store_steps_free). */
hs_err_t wf_store_steps(wf_store_t *s, const char *run_id, wf_step_run_t **out, size_t *count,
                        char *errstr, size_t n);
void wf_store_steps_free(wf_step_run_t *steps, size_t count);
/* Records the start of an attempt of step (status running, attempt + 1 → *attempt).
 * HS_ERR_CONFLICT when owner no longer holds the run. */
hs_err_t wf_store_step_begin(wf_store_t *s, const char *run_id, const char *owner,
                             const char *step_id, int *attempt, char *errstr, size_t n);
/* Completes step with output (borrowed, may be NULL = {}). Same lease check. */
hs_err_t wf_store_step_complete(wf_store_t *s, const char *run_id, const char *owner,
                                const char *step_id, const json_t *output, char *errstr,
                                size_t n);
/* Step waits until wake_ms (retry backoff, delay, held integration); error = why (the last
 * attempt's error, may be NULL). Does not count an attempt. Same lease check. */
hs_err_t wf_store_step_wait(wf_store_t *s, const char *run_id, const char *owner,
                            const char *step_id, int64_t wake_ms, const char *error, char *errstr,
                            size_t n);
/* Step failed for good with error. Same lease check. */
hs_err_t wf_store_step_fail(wf_store_t *s, const char *run_id, const char *owner,
                            const char *step_id, const char *error, char *errstr, size_t n);

/* ---- event waits -------------------------------------------------------------------------- */

/* Decides whether event (borrowed) satisfies match (borrowed JsonLogic, already templated).
 * Not called for a wait without a match (NULL or JSON null): any event of its type matches. */
typedef int (*wf_match_fn)(void *opaque, const json_t *match, const json_t *event);

/* Starts waiting for an event of type matching match, for step of run, until timeout_ms (unix
 * ms). Under a lock per event type shared with wf_store_event_arrived, so no event is missed:
 * first the recent events of that type received at or after since_ms are tried (oldest first);
 * the first that matches completes the step at once (output = the event) and *matched = 1.
 * Else a wait is recorded, *matched = 0, and the caller puts the run to sleep until timeout. */
hs_err_t wf_store_wait_begin(wf_store_t *s, const char *run_id, const char *owner,
                             const char *step_id, const char *type, const json_t *match,
                             int64_t since_ms, int64_t timeout_ms, wf_match_fn fn, void *opaque,
                             int *matched, char *errstr, size_t n);
/* An event arrived (the trigger consumer calls this for every event of a type some definition
 * waits for). Under the same lock: keeps the event for later waits (keep_ms), then completes
 * every wait of that type it matches (step output = event, wait deleted, run woken: wake_at =
 * now). Idempotent per (ce_id): a redelivered event changes nothing. *woken = runs woken. */
hs_err_t wf_store_event_arrived(wf_store_t *s, const char *type, const char *ce_id,
                                const json_t *event, int64_t keep_ms, wf_match_fn fn,
                                void *opaque, int *woken, char *errstr, size_t n);
/* Deletes kept events past their keep time. *deleted = rows removed. */
hs_err_t wf_store_events_prune(wf_store_t *s, int *deleted, char *errstr, size_t n);

/* Deletes up to limit runs that ended (completed, failed, cancelled) before before_ms, with their
 * step runs: the history kept is bounded. *deleted = runs removed (fewer than limit: no more). */
hs_err_t wf_store_runs_prune(wf_store_t *s, int64_t before_ms, int limit, int *deleted,
                             char *errstr, size_t n);

/* ---- schedules ---------------------------------------------------------------------------- */

/* The latest scheduled fire time recorded for workflow (from its runs with trigger
 * "schedule:<ms>"), or -1 when it never fired. */
hs_err_t wf_store_last_fire(wf_store_t *s, const char *workflow, int64_t *ms, char *errstr,
                            size_t n);

/* ---- queries (admin API and CLI) ---------------------------------------------------------- */

typedef struct {
    const char *workflow; /* NULL = any */
    const char *status;   /* NULL = any */
    const char *key;      /* NULL = any */
    int limit;            /* 1..1000 */
    int64_t before_ms;    /* created before, 0 = now (paging) */
} wf_run_filter_t;

/* Runs matching f, newest first, as a new JSON array of {"id","workflow","version","status",
 * "key","trigger_id","trigger_type","depth","created_at","started_at","finished_at","wake_at",
 * "error"} (times RFC 3339, null when unset). */
hs_err_t wf_store_runs_list(wf_store_t *s, const wf_run_filter_t *f, json_t **out, char *errstr,
                            size_t n);
/* One run as a new JSON object: the fields above plus "event" and "steps": [{"step_id",
 * "status","attempt","output","error","started_at","finished_at","wake_at"}] in start order.
 * HS_ERR_NOT_FOUND when no such run (or id is not a UUID). */
hs_err_t wf_store_run_get(wf_store_t *s, const char *id, json_t **out, char *errstr, size_t n);
/* For gauges: {"runs": {"<workflow>": {"<status>": count}}, "timers_due": n, "waits": n}, the
 * runs counted for the statuses of runs that did not end (pending, running, waiting) only: the
 * query stays cheap however long the history is. */
hs_err_t wf_store_stats(wf_store_t *s, json_t **out, char *errstr, size_t n);
/* Appends an audit row (the deliver admin's table `audit`). detail borrowed, may be NULL. */
hs_err_t wf_store_audit(wf_store_t *s, const char *actor, const char *role, const char *action,
                        const char *target, const json_t *detail, char *errstr, size_t n);

#endif
