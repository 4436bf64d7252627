/* The compiled rollout (hs_flags_internal.h): {"fractional": [BUCKET?, [variant, weight]...]}
 * whose distributions are literals, evaluated without JsonLogic: look the bucketing string up
 * in the context, hash it, pick the distribution. Whatever this path cannot decide exactly as
 * op_fractional would (a non-string bucketing value, a long key) it hands back to the generic
 * path, so both give the same answers; tests/unit/test_flags.c compares them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_flags_internal.h"
#include "hs_murmur3.h"

#define KEY_ON_STACK 512

static int is_op(const json_t *v, const char *name) {
    return json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, name);
}

/* The path of {"var": "p"} or {"var": ["p"]} (no default, not $flagd, no empty segment: var
 * skips those), else NULL. */
static const char *var_path(const json_t *v) {
    if (!is_op(v, "var")) return NULL;
    const json_t *a = json_object_get(v, "var");
    if (json_is_array(a)) a = json_array_size(a) == 1 ? json_array_get(a, 0) : NULL;
    const char *p = json_string_value(a);
    if (!p || !*p || strlen(p) != json_string_length(a) || !strncmp(p, "$flagd", 6)) return NULL;
    return *p == '.' || strstr(p, "..") || p[strlen(p) - 1] == '.' ? NULL : p;
}

/* Sets fast->kind and fast->text from the first argument; returns the index of the first
 * distribution, or -1 when the first argument has no compiled form. */
static int bucket_by(hs_flags_fast_t *fast, const json_t *first) {
    const json_t *cat = json_object_get(first, "cat");
    if (json_is_array(first)) {
        fast->kind = HS_FAST_TARGETING_KEY;
        return 0;
    }
    if (json_is_string(first)) {
        fast->kind = HS_FAST_LITERAL;
        fast->text = json_string_value(first);
        return strlen(fast->text) == json_string_length(first) ? 1 : -1;
    }
    if ((fast->text = var_path(first))) {
        fast->kind = HS_FAST_VAR;
        return 1;
    }
    const json_t *key = json_array_get(cat, 0);
    if (is_op(first, "cat") && json_array_size(cat) == 2 && is_op(key, "var") &&
        json_is_string(json_object_get(key, "var")) &&
        !strcmp(json_string_value(json_object_get(key, "var")), "$flagd.flagKey") &&
        (fast->text = var_path(json_array_get(cat, 1)))) {
        fast->kind = HS_FAST_CAT_KEY_VAR;
        return 1;
    }
    return -1;
}

/* The literal variant name of distribution d, or NULL when d is not [name, weight?] with a
 * string or boolean name and a whole literal weight from 0. */
static const char *distribution(const json_t *d, uint32_t *weight) {
    const json_t *v = json_array_get(d, 0), *w = json_array_get(d, 1);
    if (!json_is_array(d) || json_array_size(d) > 2 || (!json_is_string(v) && !json_is_boolean(v)))
        return NULL;
    if (w &&
        (!json_is_number(w) || json_number_value(w) < 0 ||
         json_number_value(w) != floor(json_number_value(w)) || json_number_value(w) > INT32_MAX))
        return NULL;
    *weight = w ? (uint32_t)json_number_value(w) : 1;
    if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
    return strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v) : NULL;
}

int hs_flags_fast_compile(hs_flag_t *f) {
    hs_flags_fast_t fast = {HS_FAST_NONE};
    const json_t *args = json_object_get(f->targeting, "fractional");
    if (!is_op(f->targeting, "fractional") || !json_is_array(args) || !json_array_size(args))
        return 0;
    int first = bucket_by(&fast, json_array_get(args, 0));
    if (first < 0 || (size_t)first >= json_array_size(args)) return 0;
    fast.n = json_array_size(args) - (size_t)first;
    fast.ends = calloc(fast.n, sizeof *fast.ends);
    fast.variant = calloc(fast.n, sizeof *fast.variant);
    if (!fast.ends || !fast.variant) {
        hs_flags_fast_free(&fast);
        return -1;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < fast.n; i++) {
        uint32_t w = 0;
        const char *name = distribution(json_array_get(args, (size_t)first + i), &w);
        if (!name || (total += w) > INT32_MAX) {
            hs_flags_fast_free(&fast);
            return 0;
        }
        fast.ends[i] = (uint32_t)total;
        fast.variant[i] = -1;
        for (size_t v = 0; v < f->nvariants; v++)
            if (!strcmp(f->names[v], name)) fast.variant[i] = (int)v;
    }
    f->fast = fast;
    return 0;
}

void hs_flags_fast_free(hs_flags_fast_t *fast) {
    free(fast->ends);
    free(fast->variant);
    memset(fast, 0, sizeof *fast);
}

/* The value at a dotted path of ctx: NULL when absent, (json_t *)-1 when the path goes through
 * an array (the generic path's var handles indexes). */
static const json_t *lookup(const json_t *ctx, const char *path) {
    const json_t *cur = ctx;
    for (const char *seg = path; cur;) {
        size_t len = strcspn(seg, ".");
        if (!json_is_object(cur)) return json_is_array(cur) ? (const json_t *)-1 : NULL;
        cur = json_object_getn(cur, seg, len);
        if (!seg[len]) break;
        seg += len + 1;
    }
    return cur;
}

int hs_flags_fast_eval(const hs_flag_t *f, const json_t *ctx, int *variant) {
    const hs_flags_fast_t *fast = &f->fast;
    char stack[KEY_ON_STACK];
    const char *prefix = "", *s;
    const json_t *v = NULL;
    if (fast->kind == HS_FAST_LITERAL) {
        s = fast->text;
    } else {
        if (fast->kind != HS_FAST_TARGETING_KEY) v = lookup(ctx, fast->text);
        if (v == (const json_t *)-1) return HS_TARGET_FALLBACK;
        if (fast->kind == HS_FAST_CAT_KEY_VAR && !json_is_string(v)) return HS_TARGET_FALLBACK;
        if (v && !json_is_null(v) && !json_is_string(v)) return HS_TARGET_FALLBACK;
        if (fast->kind == HS_FAST_CAT_KEY_VAR || !json_is_string(v)) prefix = f->key;
        if (!json_is_string(v)) {
            /* no bucketing value: flagKey + targetingKey, as op_fractional */
            v = json_object_get(ctx, "targetingKey");
            if (!json_is_string(v) || !json_string_length(v)) return HS_TARGET_NULL;
        }
        s = json_string_value(v);
    }
    size_t pl = strlen(prefix), sl = v ? json_string_length(v) : strlen(s);
    if (pl + sl > sizeof stack) return HS_TARGET_FALLBACK;
    memcpy(stack, prefix, pl);
    memcpy(stack + pl, s, sl);
    uint32_t total = fast->ends[fast->n - 1];
    if (!total) return HS_TARGET_NULL;
    uint32_t bucket = hs_flags_bucket(hs_murmur3_32(stack, pl + sl, 0), total);
    size_t i = 0;
    while (bucket >= fast->ends[i])
        i++;
    *variant = fast->variant[i];
    return *variant >= 0 ? HS_TARGET_MATCH : HS_TARGET_NOT_VARIANT;
}
