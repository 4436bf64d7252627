/* flagd's JsonLogic operators as rows for hs_jsonlogic: fractional, sem_ver, starts_with,
 * ends_with, with flagd's semantics (core/pkg/evaluator/fractional.go, semver.go,
 * string_comparison.go): bad input at evaluation time gives null, not an error, so the
 * surrounding rule goes on. Also the static checks of their literal arguments. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_flags_internal.h"
#include "hs_murmur3.h"

#define BUCKET_ON_STACK 512
#define VERSION_MAX 256

typedef hs_jsonlogic_ctx_t ctx_t;

uint32_t hs_flags_bucket(uint32_t hash, uint32_t total) {
    return (uint32_t)(((uint64_t)hash * total) >> 32);
}

/* ---- fractional ------------------------------------------------------------------------------ */

/* The weight of distribution d ([variant, weight?]) as flagd reads it: 1 when absent or null,
 * negative clamped to 0; -1 when d is not a distribution or its weight is not a whole number
 * up to INT32_MAX. */
static int64_t weight_of(const json_t *d) {
    if (!json_is_array(d) || json_array_size(d) == 0) return -1;
    const json_t *v = json_array_get(d, 0);
    if (json_is_array(v) || json_is_object(v)) return -1;
    const json_t *w = json_array_get(d, 1);
    if (!w || json_is_null(w)) return 1;
    if (!json_is_number(w)) return -1;
    double x = json_number_value(w);
    if (x != floor(x) || x > INT32_MAX) return -1;
    return x < 0 ? 0 : (int64_t)x;
}

/* Bucketing value and distributions, as parseFractionalEvaluationData. */
static json_t *op_fractional(ctx_t *ctx, json_t *const *a, size_t n, const json_t *data) {
    (void)ctx;
    char stack[BUCKET_ON_STACK], *heap = NULL;
    const char *by;
    size_t len, first = 1;
    if (json_is_string(a[0])) {
        by = json_string_value(a[0]);
        len = json_string_length(a[0]);
    } else {
        if (!json_is_null(a[0])) first = 0;
        const json_t *tk = json_object_get(data, "targetingKey");
        const json_t *key = json_object_get(json_object_get(data, "$flagd"), "flagKey");
        if (!json_is_string(tk) || json_string_length(tk) == 0) return json_null();
        size_t kl = json_string_length(key), tl = json_string_length(tk);
        char *buf = kl + tl <= sizeof stack ? stack : (heap = malloc(kl + tl));
        if (!buf) return json_null();
        memcpy(buf, json_string_value(key) ? json_string_value(key) : "", kl);
        memcpy(buf + kl, json_string_value(tk), tl);
        by = buf;
        len = kl + tl;
    }
    int64_t total = 0;
    for (size_t i = first; i < n && total >= 0; i++) {
        int64_t w = weight_of(a[i]);
        total = w < 0 || total + w > INT32_MAX ? -1 : total + w;
    }
    json_t *out = json_null();
    if (total > 0) {
        uint32_t bucket = hs_flags_bucket(hs_murmur3_32(by, len, 0), (uint32_t)total);
        uint64_t end = 0;
        for (size_t i = first; i < n; i++)
            if (bucket < (end += (uint64_t)weight_of(a[i]))) {
                out = json_incref(json_array_get(a[i], 0));
                break;
            }
    }
    free(heap);
    return out;
}

/* ---- sem_ver: golang.org/x/mod/semver, which flagd uses ------------------------------------- */

typedef struct {
    const char *major, *minor, *patch, *pre; /* pre: "-..." or "" */
    size_t nmajor, nminor, npatch, npre;
} semver_t;

/* Digits without a leading zero at *s; advances *s, returns the count or 0. */
static size_t parse_num(const char **s) {
    size_t i = 0;
    while ((*s)[i] >= '0' && (*s)[i] <= '9')
        i++;
    if (i > 1 && **s == '0') return 0;
    *s += i;
    return i;
}

static int ident_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Dot-separated non-empty identifiers up to stop; numeric ones without leading zeros when
 * numeric_rule. Returns the length or 0. */
static size_t parse_idents(const char *s, char stop, int numeric_rule) {
    size_t i = 1, start = 1;
    for (;; i++) {
        if (s[i] == '.' || s[i] == stop || s[i] == 0) {
            if (i == start) return 0;
            int digits = 1;
            for (size_t j = start; j < i; j++)
                digits &= s[j] >= '0' && s[j] <= '9';
            if (numeric_rule && digits && i - start > 1 && s[start] == '0') return 0;
            if (s[i] != '.') return i;
            start = i + 1;
        } else if (!ident_char(s[i])) {
            return 0;
        }
    }
}

/* semver.parse: "vMAJOR[.MINOR[.PATCH[-PRE][+BUILD]]]"; 1 when valid. */
static int semver_parse(const char *v, semver_t *p) {
    static const char zero[] = "0";
    memset(p, 0, sizeof *p);
    p->pre = "";
    if (*v++ != 'v') return 0;
    p->major = v;
    if (!(p->nmajor = parse_num(&v))) return 0;
    p->minor = p->patch = zero;
    p->nminor = p->npatch = 1;
    if (!*v) return 1;
    if (*v++ != '.') return 0;
    p->minor = v;
    if (!(p->nminor = parse_num(&v))) return 0;
    if (!*v) return 1;
    if (*v++ != '.') return 0;
    p->patch = v;
    if (!(p->npatch = parse_num(&v))) return 0;
    if (*v == '-') {
        p->pre = v;
        if (!(p->npre = parse_idents(v, '+', 1))) return 0;
        v += p->npre;
    }
    if (*v == '+') {
        size_t nb = parse_idents(v, 0, 0);
        if (!nb) return 0;
        v += nb;
    }
    return *v == 0;
}

static int cmp_num(const char *x, size_t nx, const char *y, size_t ny) {
    if (nx != ny) return nx < ny ? -1 : 1;
    int c = memcmp(x, y, nx);
    return (c > 0) - (c < 0);
}

/* Length of the identifier at s (up to '.' or the end of the n bytes). */
static size_t ident_len(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && s[i] != '.')
        i++;
    return i;
}

static int all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* semver.comparePrerelease: none > any; identifiers left to right, numeric ones numerically
 * and below alphanumeric ones; a longer list wins a tie. */
static int cmp_pre(const char *x, size_t nx, const char *y, size_t ny) {
    if (nx == ny && !memcmp(x, y, nx)) return 0;
    if (!nx) return 1;
    if (!ny) return -1;
    while (nx && ny) {
        x++, nx--, y++, ny--; /* the '-' or '.' before each identifier */
        size_t dx = ident_len(x, nx), dy = ident_len(y, ny);
        if (dx != dy || memcmp(x, y, dx)) {
            int ix = all_digits(x, dx), iy = all_digits(y, dy);
            if (ix != iy) return ix ? -1 : 1;
            if (ix && dx != dy) return dx < dy ? -1 : 1;
            int c = memcmp(x, y, dx < dy ? dx : dy);
            return c ? (c > 0) - (c < 0) : (dx < dy ? -1 : 1);
        }
        x += dx, nx -= dx, y += dy, ny -= dy;
    }
    return nx ? 1 : -1;
}

/* Go's fmt %v of a float64 (strconv 'g', shortest): exponent form below 1e-4 and from 1e6.
 * That is what flagd's ensureString makes of a number before parsing it as a version. */
static void go_float(double d, char *out, size_t n) {
    char e[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d) break;
    }
    snprintf(e, sizeof e, "%.*e", prec - 1, d);
    int exp = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
    if (exp < -4 || exp >= 6)
        snprintf(out, n, "%s", e);
    else
        snprintf(out, n, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
}

/* normalizeVersion: v's text with a leading "V" made "v" and a missing "v" added; 1 when it is
 * a valid version (parsed into p, pointing into out). */
static int version_of(const json_t *v, char *out, size_t n, semver_t *p) {
    char num[40];
    const char *s = num;
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_number(v))
        go_float(json_number_value(v), num, sizeof num);
    else
        return 0; /* Go prints true, <nil>, map[...]: never a version */
    if (*s == 'V')
        s++;
    else if (*s == 'v')
        s++;
    if ((size_t)snprintf(out, n, "v%s", s) >= n || strlen(out) != strlen(s) + 1) return 0;
    return semver_parse(out, p);
}

static const char *const semver_ops[] = {"=", "!=", "<", "<=", ">", ">=", "^", "~"};

static int semver_op(const char *op) {
    for (size_t i = 0; i < sizeof semver_ops / sizeof *semver_ops; i++)
        if (!strcmp(op, semver_ops[i])) return (int)i;
    return -1;
}

static json_t *op_sem_ver(ctx_t *ctx, json_t *const *a, size_t n, const json_t *data) {
    (void)ctx, (void)n, (void)data;
    char bx[VERSION_MAX], by[VERSION_MAX];
    semver_t x, y;
    int op = json_is_string(a[1]) ? semver_op(json_string_value(a[1])) : -1;
    if (op < 0 || !version_of(a[0], bx, sizeof bx, &x) || !version_of(a[2], by, sizeof by, &y))
        return json_null();
    int major = cmp_num(x.major, x.nmajor, y.major, y.nmajor);
    int minor = cmp_num(x.minor, x.nminor, y.minor, y.nminor);
    int c = major ? major : minor ? minor : cmp_num(x.patch, x.npatch, y.patch, y.npatch);
    if (!c) c = cmp_pre(x.pre, x.npre, y.pre, y.npre);
    static const int lt = 1, eq = 2, gt = 4;
    static const int accept[] = {eq, lt | gt, lt, lt | eq, gt, gt | eq};
    int r = c < 0 ? lt : c > 0 ? gt : eq;
    if (op == 6) return json_boolean(major == 0);
    if (op == 7) return json_boolean(major == 0 && minor == 0);
    return json_boolean(accept[op] & r);
}

/* ---- starts_with, ends_with ---------------------------------------------------------------- */

static json_t *op_starts_with(ctx_t *ctx, json_t *const *a, size_t n, const json_t *data) {
    (void)ctx, (void)n, (void)data;
    if (!json_is_string(a[0]) || !json_is_string(a[1])) return json_null();
    size_t ls = json_string_length(a[0]), lp = json_string_length(a[1]);
    return json_boolean(lp <= ls && !memcmp(json_string_value(a[0]), json_string_value(a[1]), lp));
}

static json_t *op_ends_with(ctx_t *ctx, json_t *const *a, size_t n, const json_t *data) {
    (void)ctx, (void)n, (void)data;
    if (!json_is_string(a[0]) || !json_is_string(a[1])) return json_null();
    size_t ls = json_string_length(a[0]), lp = json_string_length(a[1]);
    return json_boolean(lp <= ls &&
                        !memcmp(json_string_value(a[0]) + ls - lp, json_string_value(a[1]), lp));
}

const hs_jsonlogic_op_t hs_flags_ops[] = {
    {"fractional", 1, -1, 0, op_fractional},
    {"sem_ver", 3, 3, 0, op_sem_ver},
    {"starts_with", 2, 2, 0, op_starts_with},
    {"ends_with", 2, 2, 0, op_ends_with},
};

const size_t hs_flags_nops = sizeof hs_flags_ops / sizeof hs_flags_ops[0];

/* ---- static checks ----------------------------------------------------------------------------
 */

static int is_operation(const json_t *v) {
    return json_is_object(v) && json_object_size(v) == 1;
}

/* A literal: what evaluates to itself (no operation, no array, which is evaluated per item). */
static int is_literal(const json_t *v) {
    return !is_operation(v) && !json_is_array(v);
}

static hs_err_t check_fractional(const json_t *args, char *errstr, size_t n) {
    int64_t total = 0;
    size_t i;
    json_t *d;
    json_array_foreach(args, i, d) {
        const json_t *w = json_array_get(d, 1);
        if (!json_is_array(d) || !w || !is_literal(w) || json_is_null(w)) continue;
        if (!json_is_number(w))
            return hs_fail(HS_ERR_INVALID, errstr, n, "fractional: a weight must be a number");
        /* a negative weight is clamped to 0 (flagd: "can be the result of rollout maths") */
        double x = json_number_value(w);
        if (x != floor(x) || x > INT32_MAX)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "fractional: weight %g is not a whole "
                           "number up to 2147483647",
                           x);
        if ((total += x < 0 ? 0 : (int64_t)x) > INT32_MAX)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "fractional: the weights add up to more "
                           "than 2147483647");
    }
    return HS_OK;
}

static hs_err_t check_sem_ver(const json_t *args, char *errstr, size_t n) {
    const json_t *op = json_array_get(args, 1);
    if (is_literal(op) && (!json_is_string(op) || semver_op(json_string_value(op)) < 0))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "sem_ver: the operator must be one of = != < "
                       "<= > >= ^ ~");
    for (size_t i = 0; i < 3; i += 2) {
        const json_t *v = json_array_get(args, i);
        char buf[VERSION_MAX];
        semver_t p;
        if (is_literal(v) && !version_of(v, buf, sizeof buf, &p))
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "sem_ver: argument %zu is not a semantic "
                           "version",
                           i + 1);
    }
    return HS_OK;
}

static hs_err_t check_var(const json_t *args, char *errstr, size_t n) {
    const json_t *path = json_is_array(args) ? json_array_get(args, 0) : args;
    const char *p = json_string_value(path);
    if (p && !strncmp(p, "$flagd.", 7) && strcmp(p + 7, "flagKey") && strcmp(p + 7, "timestamp"))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "var: '%.100s': $flagd has only flagKey and "
                       "timestamp",
                       p);
    return HS_OK;
}

static hs_err_t check_op(const char *op, const json_t *args, char *errstr, size_t n) {
    if (!strcmp(op, "var")) return check_var(args, errstr, n);
    if (!strcmp(op, "fractional")) return check_fractional(args, errstr, n);
    if (!strcmp(op, "sem_ver")) return check_sem_ver(args, errstr, n);
    if (strcmp(op, "starts_with") && strcmp(op, "ends_with")) return HS_OK;
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_array_get(args, i);
        if (is_literal(v) && !json_is_string(v))
            return hs_fail(HS_ERR_INVALID, errstr, n, "%s: argument %zu must be a string", op,
                           i + 1);
    }
    return HS_OK;
}

hs_err_t hs_flags_ops_check(const json_t *logic, char *errstr, size_t n) {
    size_t i;
    json_t *v;
    if (is_operation(logic)) {
        const char *op = json_object_iter_key(json_object_iter((json_t *)logic));
        const json_t *args = json_object_iter_value(json_object_iter((json_t *)logic));
        hs_err_t err = check_op(op, args, errstr, n);
        return err ? err : hs_flags_ops_check(args, errstr, n);
    }
    json_array_foreach(logic, i, v) {
        hs_err_t err = hs_flags_ops_check(v, errstr, n);
        if (err) return err;
    }
    return HS_OK;
}
