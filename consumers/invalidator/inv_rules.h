/* The invalidator's rules: which cache tags an event invalidates. A rule maps an event type
 * pattern (an exact type, "product.*" or "*", as hs_evtype) to tag templates such as
 * "product:{data.product_id}": literal text with {path} references into the event as
 * {"id","type","source","subject","time","tenant","data"}. Rules are validated at start against
 * the event catalog (every pattern matches a known type, every path names a scalar field of one
 * of them); rendering a tag for an event whose field is absent or null reports that field.
 * @locality: built once at start, read-only afterwards (safe to share between threads). */
#ifndef INV_RULES_H
#define INV_RULES_H

#include <jansson.h>
#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

#define INV_TAG_MAX 256  /* longest rendered tag, bytes including the NUL */
#define INV_MAX_TAGS 32  /* most distinct tags one event invalidates */
#define INV_PATH_MAX 128 /* longest {path} of a template */

typedef struct inv_rules inv_rules_t;

/* The tags of one event (caller-owned; reused across events). */
typedef struct {
    size_t n; /* distinct rendered tags, in rule order */
    char tags[INV_MAX_TAGS][INV_TAG_MAX];
    size_t nmissing;            /* templates that could not be rendered */
    char missing[INV_PATH_MAX]; /* the first one's field path, "data.product_id" */
    char why[64];               /* and why: "absent", "null", "not a scalar", ... */
} inv_tags_t;

/* Returns new rules from the `invalidations` config tree (a mapping of type pattern to a list
 * of templates, or to one template), or the defaults when tree is NULL; NULL with errstr naming
 * the pattern, the template and the reason when one is bad. cfg (may be NULL) only supplies the
 * file:line of tree entries for errors. Free with inv_rules_destroy. */
inv_rules_t *inv_rules_new(const json_t *tree, const hs_config_t *cfg, char *errstr,
                           size_t errstr_size);
void inv_rules_destroy(inv_rules_t *r);

/* The defaults as the YAML a user would write (for --help and docs); static. */
const char *inv_rules_defaults_yaml(void);

/* Returns 1 when some rule matches type, else 0. */
int inv_rules_match(const inv_rules_t *r, const char *type);
/* Returns 1 when a rule matching type reads the event's data (the value must be decoded). */
int inv_rules_need_data(const inv_rules_t *r, const char *type);

/* Renders the templates of every rule matching type against event (borrowed) into out
 * (overwritten): distinct tags in rule order; templates naming an absent, null or non-scalar
 * field, or rendering an empty, too long or control-character tag, or one past INV_MAX_TAGS
 * tags, are counted in out->nmissing and the first is described. Strings render as is, integers in
 * decimal, reals with an integral value as integers (JSON ids that passed through a double), others
 * %.17g, booleans as true/false. */
void inv_rules_render(const inv_rules_t *r, const char *type, const json_t *event, inv_tags_t *out);

/* Number of rules (type patterns). */
size_t inv_rules_count(const inv_rules_t *r);

#endif
