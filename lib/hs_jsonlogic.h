/* JsonLogic (jsonlogic.com) over jansson, for delivery filters and flag targeting: a rule is
 * JSON, {"operator": [args...]}, applied to a data document. Operators are rows of a table
 * ({name, arity, lazy, fn}); a caller with more operators (flagd: fractional, sem_ver, ...)
 * passes its own rows to the _ex functions, which are looked up before the built-in ones.
 * Values follow JavaScript's coercions as the reference implementation does. Recursion is
 * bounded (HS_JSONLOGIC_MAX_DEPTH). No global state: every function is thread-safe. */
#ifndef HS_JSONLOGIC_H
#define HS_JSONLOGIC_H

#include <jansson.h>
#include <stddef.h>

#include "hs_err.h"

#define HS_JSONLOGIC_MAX_DEPTH 64

/* State of one application; opaque, passed to operator functions. */
typedef struct hs_jsonlogic_ctx hs_jsonlogic_ctx_t;

/* An operator. Eager operators get their arguments evaluated (args[i] borrowed values); lazy
 * ones get them as unevaluated logic and evaluate what they need with hs_jsonlogic_eval.
 * Returns a new reference, or NULL after hs_jsonlogic_fail. data is borrowed. */
typedef json_t *(*hs_jsonlogic_fn)(hs_jsonlogic_ctx_t *ctx, json_t *const *args, size_t nargs,
                                   const json_t *data);

typedef struct {
    const char *name;
    int min_args, max_args; /* max_args -1: any number */
    int lazy;               /* 1: args are logic, not values */
    hs_jsonlogic_fn fn;
} hs_jsonlogic_op_t;

/* The built-in operators (hs_jsonlogic_ops.c): var, missing, missing_some, if, ?:, ==, ===,
 * !=, !==, !, !!, or, and, <, <=, >, >=, max, min, +, -, *, /, %, in, cat, substr, merge, map,
 * filter, reduce, all, some, none. */
extern const hs_jsonlogic_op_t hs_jsonlogic_builtins[];
extern const size_t hs_jsonlogic_nbuiltins;

/* Returns the new result of applying logic to data (caller json_decref) or NULL with errstr
 * (unknown operator, wrong arity, depth > 64). */
json_t *hs_jsonlogic_apply(const json_t *logic, const json_t *data, char *errstr, size_t n);

/* Same, with extra operators (ops[0..nops), may be NULL/0) that override built-in ones. */
json_t *hs_jsonlogic_apply_ex(const hs_jsonlogic_op_t *ops, size_t nops, const json_t *logic,
                              const json_t *data, char *errstr, size_t n);

/* JsonLogic truthiness (0, "", [], null, false are false; objects are true). */
int hs_jsonlogic_truthy(const json_t *v);

/* Checks logic is well formed (known operators, arities, depth) without data. */
hs_err_t hs_jsonlogic_check(const json_t *logic, char *errstr, size_t n);

/* Same, knowing the extra operators. */
hs_err_t hs_jsonlogic_check_ex(const hs_jsonlogic_op_t *ops, size_t nops, const json_t *logic,
                               char *errstr, size_t n);

/* For operator functions: ------------------------------------------------------------------ */

/* Evaluates logic against data within ctx (depth counted); new reference or NULL on failure. */
json_t *hs_jsonlogic_eval(hs_jsonlogic_ctx_t *ctx, const json_t *logic, const json_t *data);

/* Records a failure (first one wins) and returns NULL, so operators `return hs_jsonlogic_fail`. */
json_t *hs_jsonlogic_fail(hs_jsonlogic_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* JavaScript Number(v): strings parsed whole ("" is 0), true 1, null 0, [x] as x; NaN when not
 * a number. */
double hs_jsonlogic_to_number(const json_t *v);

/* JavaScript String(v) as a new malloc'ed string (caller frees), NULL when out of memory. */
char *hs_jsonlogic_to_string(const json_t *v);

/* A new JSON number for d: an integer when d is integral (|d| < 2^53), else a real; null when
 * d is not finite (JSON has no NaN or Infinity). */
json_t *hs_jsonlogic_number(double d);

#endif
