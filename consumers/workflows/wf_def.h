/* Workflow definitions: the YAML a user writes (workflows/NAME.yaml), parsed and validated into an
 * immutable tree the engine walks. Every error names the file, the line and the step. A
 * definition has a version (its `version:` key, else "sha-" + the first 12 hex digits of the
 * SHA-256 of its text), and its text is kept so a run can be resumed with the version it
 * started with after the file changed. Format: docs/workflows.md.
 * @locality: a wf_def_t is immutable after parsing; share it between threads freely. */
#ifndef WF_DEF_H
#define WF_DEF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"
#include "wf_cron.h"

typedef enum {
    WF_STEP_HTTP,           /* params: method, url, headers{}, body (any JSON), expect [codes] */
    WF_STEP_SLACK,          /* params: url, text, blocks (optional JSON), username, icon_emoji,
                               channel */
    WF_STEP_EMAIL,          /* params: to, cc (string or list), from, subject, text, html,
                               smtp_url */
    WF_STEP_EMIT,           /* params: event (the type), data (object), key (optional) */
    WF_STEP_DELAY,          /* params: duration ("10s") or until (RFC 3339 template) */
    WF_STEP_BRANCH,         /* condition (JsonLogic) → then / else step lists */
    WF_STEP_LOG,            /* params: message, level (info|warn|error), fields (object) */
    WF_STEP_WAIT_FOR_EVENT, /* params: event (the type), match (JsonLogic, templated),
                               timeout ("1h") */
} wf_step_kind_t;

/* Returns "http", "slack", ... (static). */
const char *wf_step_kind_str(wf_step_kind_t k);

typedef struct wf_step wf_step_t;

typedef struct {
    wf_step_t *items;
    size_t n;
} wf_steps_t;

/* Per-step retry policy (Temporal's names). Defaults: initial 1s, coefficient 2.0, max interval
 * 100 × initial, max_attempts 5 (1 = no retry), non_retryable empty. An http step also treats
 * every 4xx except 408 and 429 as non-retryable unless `retry.retry_4xx: true`. */
typedef struct {
    int64_t initial_ms;
    double coefficient;
    int64_t max_interval_ms;
    int max_attempts;
    int non_retryable[32]; /* HTTP status codes that fail the step at once */
    size_t n_non_retryable;
    int retry_4xx;
} wf_retry_t;

struct wf_step {
    char *id;             /* unique in the whole workflow, nested lists included; [A-Za-z0-9_-] */
    wf_step_kind_t kind;
    int line;             /* line of the step in its file */
    char *integration;    /* optional: names the kill-switch flag integration.<name>.enabled,
                             the breaker and the token bucket; NULL when absent */
    wf_retry_t retry;
    int64_t timeout_ms;   /* one attempt (http, slack, email); default 30s; WAIT_FOR_EVENT:
                             params.timeout */
    int64_t deadline_ms;  /* how long the step may wait for a disabled, rate-limited or
                             circuit-open integration before it fails; default 24h */
    json_t *params;       /* the kind's fields as written (strings may hold {{ templates }});
                             owned by the step */
    json_t *condition;    /* BRANCH: JsonLogic; owned */
    wf_steps_t then_steps, else_steps; /* BRANCH */
    wf_steps_t on_error;  /* run when the step fails for good; then the run fails */
};

typedef struct {
    char *name;           /* `name:` (unique across the directory) */
    char *version;        /* `version:` or "sha-<12 hex>" */
    char *file;           /* path it was read from ("<text>" when parsed from memory) */
    char *text;           /* the whole YAML text as read */
    char **events;        /* trigger.events: event types, "order.*" and "*" wildcards */
    size_t nevents;
    json_t *condition;    /* trigger.condition: JsonLogic on {"event": ...}; NULL = always */
    char *schedule;       /* trigger.schedule: cron text; NULL when event-triggered */
    wf_cron_t cron;       /* parsed schedule */
    char *key;            /* concurrency.key template, default "{{ event.subject }}" */
    int max_runs;         /* concurrency.max_runs: active runs of this workflow (0 = no limit) */
    int max_per_key;      /* concurrency.max_per_key: active runs per key (0 = no limit) */
    int64_t timeout_ms;   /* run timeout, default 7d */
    wf_steps_t steps;
} wf_def_t;

/* Parses one definition from text (len bytes). file names it in errors. Returns a new
 * definition (wf_def_free) or NULL with errstr "FILE:LINE: step ID: reason" (or "FILE:LINE:
 * reason" outside steps). Checks: YAML syntax, known keys (an unknown key is an error, with the
 * closest known key suggested), known step types, required params per kind, ids unique, JsonLogic
 * well formed (hs_jsonlogic_check), durations, cron syntax, templates well formed
 * (wf_template_check), exactly one of trigger.events / trigger.schedule. */
wf_def_t *wf_def_parse(const char *text, size_t len, const char *file, char *errstr, size_t n);

/* Frees d; NULL is a no-op. */
void wf_def_free(wf_def_t *d);

/* Returns the step with id in d (nested lists searched), NULL when none. Borrowed. */
const wf_step_t *wf_def_step(const wf_def_t *d, const char *id);

/* 1 when the event type matches one of d's trigger events (exact, "order.*" prefix, "*"). */
int wf_def_matches_type(const wf_def_t *d, const char *type);

/* The event types any wait_for_event step of d waits for, appended to *types (strings
 * borrowed from d), at most max in total; returns the new count. */
size_t wf_def_wait_types(const wf_def_t *d, const char **types, size_t count, size_t max);

/* ---- a directory of definitions ---------------------------------------------------------- */

typedef struct {
    wf_def_t **defs; /* sorted by name */
    size_t n;
    char **errors;   /* one "FILE:LINE: ..." per file that did not load */
    size_t nerrors;
} wf_defs_t;

/* Loads every *.yaml / *.yml directly in dir. A file that fails is reported in errors and
 * skipped; the others load (a bad file never stops the rest). Two files with the same name:
 * the second is an error. Returns a new set (wf_defs_free) or NULL with errstr when dir cannot
 * be read. */
wf_defs_t *wf_defs_load(const char *dir, char *errstr, size_t n);

void wf_defs_free(wf_defs_t *s);

/* The definition named name, NULL when none. Borrowed. */
const wf_def_t *wf_defs_find(const wf_defs_t *s, const char *name);

/* A fingerprint of dir's *.yaml files (names, sizes, mtimes) to detect a change cheaply for hot
 * reload: equal fingerprints mean nothing changed. */
uint64_t wf_defs_fingerprint(const char *dir);

#endif
