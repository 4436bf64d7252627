/* Templates in workflow steps: "Hello {{ event.data.customer.first_name }}" is rendered against a
 * context that the caller resolves path by path (event, steps.<id>.*, flags.<key>, run.*,
 * env.<NAME>, secrets.<name>; other roots are syntax errors). A path that does not resolve is an
 * error naming it (never an empty string sent). A string that is exactly one "{{ path }}" renders
 * to the JSON value at path with its type (a number stays a number, an object an object);
 * anything else renders to a string (numbers, booleans and null as JSON text, objects as compact
 * JSON). Paths: dotted names and [index] for arrays
 * ("event.data.line_items[0].sku"); names may be quoted for keys with dots or spaces
 * ('flags["integration.klaviyo.enabled"]'). Filters after a pipe: `| default("x")` (used when the
 * path is missing or null), `| json` (compact JSON text), `| urlencode`, `| upper`, `| lower`.
 * No side effects, no loops, bounded: template text ≤ 64 KiB, rendered output ≤ 1 MiB. */
#ifndef WF_TEMPLATE_H
#define WF_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "hs_err.h"

/* Resolves a root path: the caller gets the whole path split into segments (segs[0] = "event",
 * "steps", "flags", "run", "env", "secrets"; nsegs ≥ 1, ≥ 2 for all but event and run; an
 * [index] is its decimal text) and returns a new reference to the value, or NULL when
 * it does not exist. For "flags" the caller may read segs[1] as the whole flag key. */
typedef json_t *(*wf_template_resolve_fn)(void *opaque, const char *const *segs, size_t nsegs);

/* Resolver over a plain JSON object (ctx borrowed): walks the segments through objects and
 * arrays. Pass as resolve with opaque = the object. */
json_t *wf_template_resolve_json(void *ctx, const char *const *segs, size_t nsegs);

/* Checks the template syntax of text (balanced {{ }}, valid paths and filters) without
 * resolving. HS_ERR_INVALID with errstr naming the offending expression. */
hs_err_t wf_template_check(const char *text, char *errstr, size_t n);

/* Renders text. Returns a new reference (a JSON string, or the value itself when text is a
 * single expression) or NULL with errstr "missing field event.data.x" / syntax error. */
json_t *wf_template_render(const char *text, wf_template_resolve_fn resolve, void *opaque,
                           char *errstr, size_t n);

/* Renders every string inside v (object values and array items, recursively; keys are not
 * templated). Returns a new reference or NULL with errstr naming the JSON path of the string
 * that failed ("body.email: missing field event.data.customer.email"). */
json_t *wf_template_render_json(const json_t *v, wf_template_resolve_fn resolve, void *opaque,
                                char *errstr, size_t n);

/* Renders text to a new malloc'ed C string (caller frees): like wf_template_render, then a
 * non-string value is written as compact JSON. NULL with errstr on failure. */
char *wf_template_render_str(const char *text, wf_template_resolve_fn resolve, void *opaque,
                             char *errstr, size_t n);

#endif
