/* Shared by wf_def.c (the document, the trigger, the directory) and wf_def_steps.c (steps) only:
 * the parser's state and the helpers that read YAML nodes into checked values, each failing with
 * "FILE:LINE: step ID: reason". */
#ifndef WF_DEF_INTERNAL_H
#define WF_DEF_INTERNAL_H

#include <jansson.h>
#include <libfyaml.h>

#include "wf_def.h"

/* @locality: one parse, one thread. */
typedef struct {
    const char *file;
    char *errstr;
    size_t n;
    json_t *ids;  /* step id -> line, for duplicates and steps.<id> references */
    json_t *refs; /* [[referenced id, line, step id or null, key], ...], checked last */
} wf_parse_t;

/* Records a failure "FILE:LINE: step STEP: reason" (no "step" part when step is NULL) and
 * returns HS_ERR_INVALID. */
hs_err_t wf_p_fail(wf_parse_t *p, int line, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The 1-based line of a scalar node, 0 for other nodes. */
int wf_p_line(struct fy_node *node);

/* The value of key in map, NULL when absent or empty; *line receives the key's line when
 * present. */
struct fy_node *wf_p_get(struct fy_node *map, const char *key, int *line);

/* Fails on the first key of map that is not in known (NULL-terminated), suggesting the closest
 * known key; what names the mapping in the message ("an http step", "retry"). */
hs_err_t wf_p_keys(wf_parse_t *p, struct fy_node *map, const char *const *known, const char *what,
                   const char *step);

/* The closest of the n candidates to word when it is close enough to be a likely typo, or
 * NULL. */
const char *wf_p_closest(const char *word, const char *const *cands, size_t n);

/* Scalar readers: v must be a scalar (a string, a number as written...). key names the field. */
hs_err_t wf_p_str(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                  const char **out);
hs_err_t wf_p_int(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                  long long lo, long long hi, long long *out);
/* A duration ("250ms", "10s", "7d") greater than zero. */
hs_err_t wf_p_duration(wf_parse_t *p, struct fy_node *v, int line, const char *step,
                       const char *key, int64_t *out);

/* v as JSON (hs_config_yaml_json): a new reference in *out. */
hs_err_t wf_p_json(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                   json_t **out);

/* v as JSON that must be well-formed JsonLogic: a new reference in *out. */
hs_err_t wf_p_logic(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                    json_t **out);

/* Checks the syntax of every template in the strings under v (the value of key) and records
 * its steps.<id> references for the end of the parse. */
hs_err_t wf_p_templates(wf_parse_t *p, struct fy_node *v, const char *step, const char *key);

/* Parses a list of steps (seq, at key on line) into *out; depth counts nested lists. */
hs_err_t wf_p_steps(wf_parse_t *p, struct fy_node *seq, int line, const char *key, const char *step,
                    int depth, wf_steps_t *out);

/* Frees the steps of s (not s itself). */
void wf_p_steps_free(wf_steps_t *s);

/* Checks that type names a catalog event type (patterns = 1: or a pattern such as "order.*"
 * that matches one), suggesting the closest type when not. */
hs_err_t wf_p_event_type(wf_parse_t *p, const char *type, int line, const char *step,
                         const char *key, int patterns);

#endif
