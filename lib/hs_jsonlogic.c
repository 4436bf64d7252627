#include "hs_jsonlogic.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS_ON_STACK 16

struct hs_jsonlogic_ctx {
    const hs_jsonlogic_op_t *extra;
    size_t nextra;
    int depth;
    int failed;
    char *errstr;
    size_t errstr_size;
};

json_t *hs_jsonlogic_fail(hs_jsonlogic_ctx_t *ctx, const char *fmt, ...) {
    if (ctx->failed) return NULL;
    ctx->failed = 1;
    if (ctx->errstr && ctx->errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->errstr, ctx->errstr_size, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

int hs_jsonlogic_truthy(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_TRUE:
        return 1;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    }
    return 0;
}

double hs_jsonlogic_to_number(const json_t *v) {
    if (!v) return NAN;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return (double)json_integer_value(v);
    case JSON_REAL:
        return json_real_value(v);
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s) return 0;
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
            end++;
        /* strtod also reads "inf", "nan" and hex, which Number() does not: digits only. */
        if (*end || end == s || strpbrk(s, "iInNxX")) return NAN;
        return d;
    }
    case JSON_ARRAY:
        if (json_array_size(v) == 0) return 0;
        if (json_array_size(v) == 1) return hs_jsonlogic_to_number(json_array_get(v, 0));
        return NAN;
    case JSON_OBJECT:
        return NAN;
    }
    return NAN;
}

json_t *hs_jsonlogic_number(double d) {
    if (!isfinite(d)) return json_null();
    if (d == floor(d) && fabs(d) < 9007199254740992.0) return json_integer((json_int_t)d);
    return json_real(d);
}

/* Shortest %g form that reads back as d, like JavaScript prints numbers. */
static void format_number(double d, char *out, size_t n) {
    if (d == floor(d) && fabs(d) < 1e21) {
        snprintf(out, n, "%.0f", d);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d) return;
    }
}

static int append_raw(const char *s, char **buf, size_t *len, size_t *cap) {
    size_t sl = strlen(s);
    if (*len + sl + 1 > *cap) {
        size_t ncap = (*len + sl + 1) * 2;
        char *nb = realloc(*buf, ncap);
        if (!nb) return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, sl + 1);
    *len += sl;
    return 0;
}

/* Appends String(v) to a growing buffer; returns 0, or -1 when out of memory. */
static int append_string(const json_t *v, char **buf, size_t *len, size_t *cap) {
    char num[40];
    const char *s = num;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        format_number(hs_jsonlogic_to_number(v), num, sizeof num);
        break;
    case JSON_TRUE:
        s = "true";
        break;
    case JSON_FALSE:
        s = "false";
        break;
    case JSON_NULL:
        s = "null";
        break;
    case JSON_OBJECT:
        s = "[object Object]";
        break;
    case JSON_ARRAY:
        /* Array.prototype.join: elements by ",", null as "". */
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (i && append_raw(",", buf, len, cap) != 0) return -1;
            if (!json_is_null(e) && append_string(e, buf, len, cap) != 0) return -1;
        }
        return 0;
    }
    return append_raw(s, buf, len, cap);
}

char *hs_jsonlogic_to_string(const json_t *v) {
    size_t len = 0, cap = 16;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[0] = '\0';
    if (append_string(v, &buf, &len, &cap) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static const hs_jsonlogic_op_t *find_op(const hs_jsonlogic_ctx_t *ctx, const char *name) {
    for (size_t i = 0; i < ctx->nextra; i++)
        if (strcmp(ctx->extra[i].name, name) == 0) return &ctx->extra[i];
    for (size_t i = 0; i < hs_jsonlogic_nbuiltins; i++)
        if (strcmp(hs_jsonlogic_builtins[i].name, name) == 0) return &hs_jsonlogic_builtins[i];
    return NULL;
}

/* An object with exactly one key is an operation; anything else is a literal. Finds the
 * operator, checks its arity and fills *args (array elements, or the one non-array value). */
static const hs_jsonlogic_op_t *operation(hs_jsonlogic_ctx_t *ctx, const json_t *logic,
                                          json_t **raw, size_t *nargs) {
    const char *name = json_object_iter_key(json_object_iter((json_t *)logic));
    *raw = json_object_get(logic, name);
    *nargs = json_is_array(*raw) ? json_array_size(*raw) : 1;
    const hs_jsonlogic_op_t *op = find_op(ctx, name);
    if (!op) {
        hs_jsonlogic_fail(ctx, "unknown operator \"%.64s\"", name);
        return NULL;
    }
    if ((int)*nargs < op->min_args || (op->max_args >= 0 && (int)*nargs > op->max_args)) {
        if (op->max_args < 0)
            hs_jsonlogic_fail(ctx, "\"%s\" takes at least %d arguments, got %zu", name,
                              op->min_args, *nargs);
        else
            hs_jsonlogic_fail(ctx, "\"%s\" takes %d..%d arguments, got %zu", name, op->min_args,
                              op->max_args, *nargs);
        return NULL;
    }
    return op;
}

static int is_operation(const json_t *logic) {
    return json_is_object(logic) && json_object_size(logic) == 1;
}

static json_t *eval_array(hs_jsonlogic_ctx_t *ctx, const json_t *logic, const json_t *data) {
    json_t *out = json_array();
    for (size_t i = 0; out && i < json_array_size(logic); i++) {
        json_t *v = hs_jsonlogic_eval(ctx, json_array_get(logic, i), data);
        if (!v || json_array_append_new(out, v) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *call(hs_jsonlogic_ctx_t *ctx, const hs_jsonlogic_op_t *op, json_t *raw, size_t nargs,
                    const json_t *data) {
    json_t *stack[ARGS_ON_STACK];
    json_t **args = nargs <= ARGS_ON_STACK ? stack : malloc(nargs * sizeof *args);
    if (!args) return hs_jsonlogic_fail(ctx, "out of memory");
    size_t done = 0;
    for (; done < nargs; done++) {
        json_t *a = json_is_array(raw) ? json_array_get(raw, done) : raw;
        args[done] = op->lazy ? a : hs_jsonlogic_eval(ctx, a, data);
        if (!args[done]) break;
    }
    json_t *out = done == nargs ? op->fn(ctx, args, nargs, data) : NULL;
    for (size_t i = 0; !op->lazy && i < done; i++)
        json_decref(args[i]);
    if (args != stack) free(args);
    if (!out) hs_jsonlogic_fail(ctx, "\"%s\" failed", op->name);
    return out;
}

json_t *hs_jsonlogic_eval(hs_jsonlogic_ctx_t *ctx, const json_t *logic, const json_t *data) {
    if (ctx->failed) return NULL;
    if (!logic) return json_null();
    if (!json_is_array(logic) && !is_operation(logic)) return json_incref((json_t *)logic);
    if (ctx->depth >= HS_JSONLOGIC_MAX_DEPTH)
        return hs_jsonlogic_fail(ctx, "logic nested deeper than %d", HS_JSONLOGIC_MAX_DEPTH);
    ctx->depth++;
    json_t *out;
    if (json_is_array(logic)) {
        out = eval_array(ctx, logic, data);
    } else {
        json_t *raw;
        size_t nargs;
        const hs_jsonlogic_op_t *op = operation(ctx, logic, &raw, &nargs);
        out = op ? call(ctx, op, raw, nargs, data) : NULL;
    }
    ctx->depth--;
    return out;
}

json_t *hs_jsonlogic_apply_ex(const hs_jsonlogic_op_t *ops, size_t nops, const json_t *logic,
                              const json_t *data, char *errstr, size_t n) {
    hs_jsonlogic_ctx_t ctx = {
        .extra = ops, .nextra = ops ? nops : 0, .errstr = errstr, .errstr_size = n};
    /* json_null() is jansson's static singleton: nothing to free. */
    json_t *out = hs_jsonlogic_eval(&ctx, logic, data ? data : json_null());
    if (!out && !ctx.failed) hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    return out;
}

json_t *hs_jsonlogic_apply(const json_t *logic, const json_t *data, char *errstr, size_t n) {
    return hs_jsonlogic_apply_ex(NULL, 0, logic, data, errstr, n);
}

static hs_err_t check(hs_jsonlogic_ctx_t *ctx, const json_t *logic) {
    if (!json_is_array(logic) && !is_operation(logic)) return HS_OK;
    if (ctx->depth >= HS_JSONLOGIC_MAX_DEPTH) {
        hs_jsonlogic_fail(ctx, "logic nested deeper than %d", HS_JSONLOGIC_MAX_DEPTH);
        return HS_ERR_INVALID;
    }
    json_t *raw = (json_t *)logic;
    size_t nargs = json_array_size(logic);
    if (!json_is_array(logic) && !operation(ctx, logic, &raw, &nargs)) return HS_ERR_INVALID;
    ctx->depth++;
    hs_err_t err = HS_OK;
    for (size_t i = 0; !err && i < nargs; i++)
        err = check(ctx, json_is_array(raw) ? json_array_get(raw, i) : raw);
    ctx->depth--;
    return err;
}

hs_err_t hs_jsonlogic_check_ex(const hs_jsonlogic_op_t *ops, size_t nops, const json_t *logic,
                               char *errstr, size_t n) {
    hs_jsonlogic_ctx_t ctx = {
        .extra = ops, .nextra = ops ? nops : 0, .errstr = errstr, .errstr_size = n};
    if (!logic) return hs_fail(HS_ERR_INVALID, errstr, n, "no logic");
    return check(&ctx, logic);
}

hs_err_t hs_jsonlogic_check(const json_t *logic, char *errstr, size_t n) {
    return hs_jsonlogic_check_ex(NULL, 0, logic, errstr, n);
}
