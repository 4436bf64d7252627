/* Reading a few fields out of an Avro binary body without decoding the rest: a plan compiled
 * once per writer schema walks the body, validates its structure to the last byte (lengths,
 * union and enum indexes, no trailing bytes; what hs_avro_decode_json would refuse as truncated
 * or garbage) and keeps only the picked fields. analytics reads amounts, currencies, customer
 * ids and stock levels this way at a fraction of the cost of decoding events to JSON.
 * A plan is immutable after compile; running it keeps state on the stack only. */
#ifndef AN_AVRO_H
#define AN_AVRO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

#define AN_AVRO_MAX_PICKS 12

typedef struct an_avro_plan an_avro_plan_t;

typedef enum { AN_VAL_ABSENT = 0, AN_VAL_NULL, AN_VAL_STR, AN_VAL_INT, AN_VAL_OTHER } an_val_kind_t;

/* One picked field after a run. str points into the body (not NUL-terminated). int, long and
 * boolean values are in i; float, double and bytes-like values are AN_VAL_OTHER. */
typedef struct {
    an_val_kind_t kind;
    const char *str;
    size_t len;
    int64_t i;
} an_avro_val_t;

/* Compiles schema (the writer's schema JSON, borrowed for the call) into a new plan picking
 * the fields named by paths (npicks <= AN_AVRO_MAX_PICKS; dotted for nested records, e.g.
 * "customer.id"; a NULL entry or a path the schema lacks stays AN_VAL_ABSENT). NULL with errstr for
 * a schema it cannot read. Caller frees with an_avro_plan_destroy. */
an_avro_plan_t *an_avro_plan_new(const json_t *schema, const char *const *paths, size_t npicks,
                                 char *errstr, size_t errstr_size);
void an_avro_plan_destroy(an_avro_plan_t *p);
/* Walks len bytes of body with p, filling vals[0..npicks). HS_ERR_INVALID with the reason when
 * the body does not match the schema. */
hs_err_t an_avro_run(const an_avro_plan_t *p, const void *body, size_t len, an_avro_val_t *vals,
                     char *errstr, size_t errstr_size);

#endif
