/* The built-in JsonLogic operators, one function per row of hs_jsonlogic_builtins. Semantics
 * follow json-logic-js (the reference), JavaScript coercions included. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_jsonlogic.h"

typedef hs_jsonlogic_ctx_t ctx_t;
typedef json_t *const *args_t;

#define INF_ARGS -1

/* --- data access ------------------------------------------------------------------------ */

static const json_t *step(const json_t *cur, const char *seg) {
    if (json_is_object(cur)) return json_object_get(cur, seg);
    if (!json_is_array(cur) || *seg < '0' || *seg > '9') return NULL;
    char *end;
    unsigned long long i = strtoull(seg, &end, 10);
    return *end ? NULL : json_array_get(cur, (size_t)i);
}

/* Borrowed value at path ("a.b.0", a number, "" or null for all of data), NULL when absent. */
static const json_t *lookup(const json_t *data, const json_t *path) {
    char num[32];
    const char *p;
    if (json_is_null(path)) return data;
    if (json_is_integer(path)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(path));
        p = num;
    } else if (json_is_string(path)) {
        p = json_string_value(path);
    } else {
        return NULL;
    }
    if (!*p) return data;
    char *copy = strdup(p), *save = NULL;
    const json_t *cur = data;
    for (char *seg = copy ? strtok_r(copy, ".", &save) : NULL; seg && cur;
         seg = strtok_r(NULL, ".", &save))
        cur = step(cur, seg);
    free(copy);
    return cur;
}

static json_t *ref(const json_t *v) {
    return json_incref((json_t *)v);
}

static json_t *op_var(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    (void)ctx;
    const json_t *v = lookup(data, n ? a[0] : json_null());
    if (v && !json_is_null(v)) return ref(v);
    return n > 1 ? ref(a[1]) : json_null();
}

/* New array of the keys (elements of `keys`) whose value is absent, null or "". */
static json_t *missing_in(const json_t *data, const json_t *keys) {
    json_t *out = json_array();
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k) {
        const json_t *v = lookup(data, k);
        if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
            json_array_append(out, (json_t *)k);
    }
    return out;
}

static json_t *op_missing(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    (void)ctx;
    /* {"missing": {"merge": [...]}} hands over one array of keys. */
    if (n >= 1 && json_is_array(a[0])) return missing_in(data, a[0]);
    json_t *keys = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(keys, a[i]);
    json_t *out = missing_in(data, keys);
    json_decref(keys);
    return out;
}

static json_t *op_missing_some(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    (void)n;
    if (!json_is_array(a[1]))
        return hs_jsonlogic_fail(ctx, "\"missing_some\" needs an array of keys");
    json_t *miss = missing_in(data, a[1]);
    double found = (double)(json_array_size(a[1]) - json_array_size(miss));
    if (found >= hs_jsonlogic_to_number(a[0])) json_array_clear(miss);
    return miss;
}

/* --- logic ------------------------------------------------------------------------------ */

static json_t *op_if(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        json_t *c = hs_jsonlogic_eval(ctx, a[i], data);
        if (!c) return NULL;
        int t = hs_jsonlogic_truthy(c);
        json_decref(c);
        if (t) return hs_jsonlogic_eval(ctx, a[i + 1], data);
    }
    return i < n ? hs_jsonlogic_eval(ctx, a[i], data) : json_null();
}

/* or returns the first truthy value, and the first falsy one; else the last. */
static json_t *first_with(ctx_t *ctx, args_t a, size_t n, const json_t *data, int truth) {
    json_t *v = NULL;
    for (size_t i = 0; i < n; i++) {
        json_decref(v);
        if (!(v = hs_jsonlogic_eval(ctx, a[i], data))) return NULL;
        if (hs_jsonlogic_truthy(v) == truth) return v;
    }
    return v;
}

static json_t *op_or(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    return first_with(ctx, a, n, data, 1);
}

static json_t *op_and(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    return first_with(ctx, a, n, data, 0);
}

static json_t *op_not(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    (void)ctx, (void)n, (void)data;
    return json_boolean(!hs_jsonlogic_truthy(a[0]));
}

static json_t *op_notnot(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    (void)ctx, (void)n, (void)data;
    return json_boolean(hs_jsonlogic_truthy(a[0]));
}

/* --- equality and order ----------------------------------------------------------------- */

static int is_container(const json_t *v) {
    return json_is_array(v) || json_is_object(v);
}

/* JavaScript ===: same type and value; arrays and objects only when the very same value. */
static int strict_eq(const json_t *x, const json_t *y) {
    if (json_is_number(x) && json_is_number(y))
        return hs_jsonlogic_to_number(x) == hs_jsonlogic_to_number(y);
    if (json_typeof(x) != json_typeof(y)) return 0;
    if (is_container(x)) return x == y;
    return json_equal((json_t *)x, (json_t *)y);
}

/* JavaScript ==: null only equals null, a container against a primitive compares its string,
 * mixed primitives compare as numbers. */
static int loose_eq(const json_t *x, const json_t *y) {
    if (json_is_null(x) || json_is_null(y)) return json_is_null(x) && json_is_null(y);
    if (is_container(x) && is_container(y)) return x == y;
    if (is_container(x) || is_container(y)) {
        char *s = hs_jsonlogic_to_string(is_container(x) ? x : y);
        json_t *prim = s ? json_string(s) : NULL;
        free(s);
        int eq = prim && loose_eq(prim, is_container(x) ? y : x);
        json_decref(prim);
        return eq;
    }
    if (json_is_string(x) && json_is_string(y)) return json_equal((json_t *)x, (json_t *)y);
    return hs_jsonlogic_to_number(x) == hs_jsonlogic_to_number(y);
}

static json_t *op_eq(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return json_boolean(loose_eq(a[0], a[1]));
}
static json_t *op_ne(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return json_boolean(!loose_eq(a[0], a[1]));
}
static json_t *op_seq(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return json_boolean(strict_eq(a[0], a[1]));
}
static json_t *op_sne(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return json_boolean(!strict_eq(a[0], a[1]));
}

/* Returns -1, 0, 1, or 2 when unordered (NaN): strings by bytes, anything else as numbers. */
static int compare(const json_t *x, const json_t *y) {
    if (json_is_string(x) && json_is_string(y)) {
        int c = strcmp(json_string_value(x), json_string_value(y));
        return (c > 0) - (c < 0);
    }
    double p = hs_jsonlogic_to_number(x), q = hs_jsonlogic_to_number(y);
    if (isnan(p) || isnan(q)) return 2;
    return (p > q) - (p < q);
}

static int less(const json_t *x, const json_t *y, int or_equal) {
    int c = compare(x, y);
    return c == -1 || (or_equal && c == 0);
}

/* < and <= with three arguments test "between": a < b < c. */
static json_t *op_lt(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    return json_boolean(less(a[0], a[1], 0) && (n < 3 || less(a[1], a[2], 0)));
}
static json_t *op_le(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    return json_boolean(less(a[0], a[1], 1) && (n < 3 || less(a[1], a[2], 1)));
}
static json_t *op_gt(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return json_boolean(less(a[1], a[0], 0));
}
static json_t *op_ge(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return json_boolean(less(a[1], a[0], 1));
}

/* --- arithmetic ------------------------------------------------------------------------- */

static double num(const json_t *v) {
    return hs_jsonlogic_to_number(v);
}

static json_t *extreme(args_t a, size_t n, int want_max) {
    if (n == 0) return json_null();
    double best = num(a[0]);
    for (size_t i = 1; i < n; i++) {
        double v = num(a[i]);
        if (isnan(v) || (want_max ? v > best : v < best)) best = v;
    }
    return hs_jsonlogic_number(best);
}

static json_t *op_max(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    return extreme(a, n, 1);
}
static json_t *op_min(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    return extreme(a, n, 0);
}

static json_t *op_add(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += num(a[i]);
    return hs_jsonlogic_number(s);
}
static json_t *op_mul(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    double p = num(a[0]);
    for (size_t i = 1; i < n; i++)
        p *= num(a[i]);
    return hs_jsonlogic_number(p);
}
static json_t *op_sub(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)d;
    return hs_jsonlogic_number(n == 1 ? -num(a[0]) : num(a[0]) - num(a[1]));
}
static json_t *op_div(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return hs_jsonlogic_number(num(a[0]) / num(a[1]));
}
static json_t *op_mod(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)c, (void)n, (void)d;
    return hs_jsonlogic_number(fmod(num(a[0]), num(a[1])));
}

/* --- strings and arrays ----------------------------------------------------------------- */

static json_t *op_in(ctx_t *ctx, args_t a, size_t n, const json_t *d) {
    (void)n, (void)d;
    if (json_is_array(a[1])) {
        for (size_t i = 0; i < json_array_size(a[1]); i++)
            if (strict_eq(a[0], json_array_get(a[1], i))) return json_true();
        return json_false();
    }
    if (!json_is_string(a[1])) return json_false();
    char *needle = hs_jsonlogic_to_string(a[0]);
    if (!needle) return hs_jsonlogic_fail(ctx, "out of memory");
    int found = strstr(json_string_value(a[1]), needle) != NULL;
    free(needle);
    return json_boolean(found);
}

static json_t *op_cat(ctx_t *ctx, args_t a, size_t n, const json_t *d) {
    (void)d;
    size_t len = 0;
    char *out = calloc(1, 1);
    for (size_t i = 0; out && i < n; i++) {
        char *s = hs_jsonlogic_to_string(a[i]);
        char *grown = s ? realloc(out, len + strlen(s) + 1) : NULL;
        if (grown) {
            memcpy(grown + len, s, strlen(s) + 1);
            len += strlen(s);
        } else {
            free(out);
        }
        out = grown;
        free(s);
    }
    json_t *v = out ? json_stringn(out, len) : NULL;
    free(out);
    return v ? v : hs_jsonlogic_fail(ctx, "out of memory or invalid UTF-8 in cat");
}

/* Byte offset of code point `cp` in s (UTF-8), or the length when past the end. */
static size_t cp_offset(const char *s, size_t cp) {
    size_t i = 0;
    while (s[i] && cp) {
        i++;
        while ((s[i] & 0xC0) == 0x80)
            i++;
        cp--;
    }
    return i;
}

static size_t cp_count(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += (*s & 0xC0) != 0x80;
    return n;
}

/* JavaScript substr(start, length) over code points; a negative length leaves that many off
 * the end, as json-logic-js does. */
static json_t *op_substr(ctx_t *ctx, args_t a, size_t n, const json_t *d) {
    (void)d;
    char *s = hs_jsonlogic_to_string(a[0]);
    if (!s) return hs_jsonlogic_fail(ctx, "out of memory");
    double total = (double)cp_count(s), start = trunc(num(a[1]));
    if (isnan(start)) start = 0;
    if (start < 0) start = fmax(total + start, 0);
    if (start > total) start = total;
    double len = total - start;
    if (n > 2) {
        double l = trunc(num(a[2]));
        if (isnan(l)) l = 0;
        len = l < 0 ? fmax(total - start + l, 0) : fmin(l, total - start);
    }
    size_t from = cp_offset(s, (size_t)start);
    size_t to = from + cp_offset(s + from, (size_t)len);
    json_t *v = json_stringn(s + from, to - from);
    free(s);
    return v;
}

static json_t *op_merge(ctx_t *ctx, args_t a, size_t n, const json_t *d) {
    (void)ctx, (void)d;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (json_is_array(a[i]))
            json_array_extend(out, a[i]);
        else
            json_array_append(out, a[i]);
    }
    return out;
}

/* --- iteration: args are [array logic, logic applied to each element (as data)] ----------- */

/* Evaluates the array argument; NULL on failure, an empty array when it is not an array. */
static json_t *source(ctx_t *ctx, const json_t *logic, const json_t *data) {
    json_t *v = hs_jsonlogic_eval(ctx, logic, data);
    if (!v || json_is_array(v)) return v;
    json_decref(v);
    return json_array();
}

typedef enum { MAP, FILTER, ALL, SOME, NONE } iter_t;

static json_t *iterate(ctx_t *ctx, args_t a, const json_t *data, iter_t kind) {
    json_t *arr = source(ctx, a[0], data);
    if (!arr) return NULL;
    json_t *out = kind <= FILTER ? json_array() : NULL;
    int any = 0, every = json_array_size(arr) > 0; /* all([]) is false, as in json-logic-js */
    size_t i;
    json_t *el;
    json_array_foreach(arr, i, el) {
        json_t *r = hs_jsonlogic_eval(ctx, a[1], el);
        if (!r) {
            json_decref(out);
            json_decref(arr);
            return NULL;
        }
        int t = hs_jsonlogic_truthy(r);
        any |= t;
        every &= t;
        if (kind == MAP) json_array_append(out, r);
        if (kind == FILTER && t) json_array_append(out, el);
        json_decref(r);
    }
    json_decref(arr);
    if (out) return out;
    return json_boolean(kind == ALL ? every : kind == SOME ? any : !any);
}

static json_t *op_map(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)n;
    return iterate(c, a, d, MAP);
}
static json_t *op_filter(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)n;
    return iterate(c, a, d, FILTER);
}
static json_t *op_all(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)n;
    return iterate(c, a, d, ALL);
}
static json_t *op_some(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)n;
    return iterate(c, a, d, SOME);
}
static json_t *op_none(ctx_t *c, args_t a, size_t n, const json_t *d) {
    (void)n;
    return iterate(c, a, d, NONE);
}

/* reduce: [array, logic over {"current", "accumulator"}, initial]. */
static json_t *op_reduce(ctx_t *ctx, args_t a, size_t n, const json_t *data) {
    json_t *acc = n > 2 ? hs_jsonlogic_eval(ctx, a[2], data) : json_null();
    json_t *arr = acc ? source(ctx, a[0], data) : NULL;
    size_t i;
    json_t *el;
    if (!arr) {
        json_decref(acc);
        return NULL;
    }
    json_array_foreach(arr, i, el) {
        json_t *scope = json_pack("{s:O, s:o}", "current", el, "accumulator", acc);
        acc = scope ? hs_jsonlogic_eval(ctx, a[1], scope) : NULL;
        json_decref(scope);
        if (!acc) break;
    }
    json_decref(arr);
    return acc;
}

const hs_jsonlogic_op_t hs_jsonlogic_builtins[] = {
    {"var", 0, 2, 0, op_var},
    {"missing", 0, INF_ARGS, 0, op_missing},
    {"missing_some", 2, 2, 0, op_missing_some},
    {"if", 0, INF_ARGS, 1, op_if},
    {"?:", 0, INF_ARGS, 1, op_if},
    {"==", 2, 2, 0, op_eq},
    {"===", 2, 2, 0, op_seq},
    {"!=", 2, 2, 0, op_ne},
    {"!==", 2, 2, 0, op_sne},
    {"!", 1, 1, 0, op_not},
    {"!!", 1, 1, 0, op_notnot},
    {"or", 1, INF_ARGS, 1, op_or},
    {"and", 1, INF_ARGS, 1, op_and},
    {"<", 2, 3, 0, op_lt},
    {"<=", 2, 3, 0, op_le},
    {">", 2, 2, 0, op_gt},
    {">=", 2, 2, 0, op_ge},
    {"max", 0, INF_ARGS, 0, op_max},
    {"min", 0, INF_ARGS, 0, op_min},
    {"+", 0, INF_ARGS, 0, op_add},
    {"-", 1, 2, 0, op_sub},
    {"*", 1, INF_ARGS, 0, op_mul},
    {"/", 2, 2, 0, op_div},
    {"%", 2, 2, 0, op_mod},
    {"in", 2, 2, 0, op_in},
    {"cat", 0, INF_ARGS, 0, op_cat},
    {"substr", 2, 3, 0, op_substr},
    {"merge", 0, INF_ARGS, 0, op_merge},
    {"map", 2, 2, 1, op_map},
    {"filter", 2, 2, 1, op_filter},
    {"reduce", 2, 3, 1, op_reduce},
    {"all", 2, 2, 1, op_all},
    {"some", 2, 2, 1, op_some},
    {"none", 2, 2, 1, op_none},
};

const size_t hs_jsonlogic_nbuiltins =
    sizeof hs_jsonlogic_builtins / sizeof hs_jsonlogic_builtins[0];
