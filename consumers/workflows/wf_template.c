/* Templates (wf_template.h): one pass over the text; each {{ expression }} is parsed into path
 * segments and filters, resolved through the caller's function, and appended to a buffer that
 * grows by doubling (bounded by MAX_OUT). Checking is the same pass without resolving. */
#include "wf_template.h"

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT (64 * 1024)
#define MAX_OUT (1024 * 1024)
#define MAX_SEGS 32
#define MAX_FILTERS 8
#define MAX_DEPTH 64

typedef enum { F_DEFAULT, F_JSON, F_URLENCODE, F_UPPER, F_LOWER } filter_kind_t;

static const struct {
    const char *name;
    filter_kind_t kind;
    int has_arg;
} filters[] = {
    {"default", F_DEFAULT, 1}, {"json", F_JSON, 0},   {"urlencode", F_URLENCODE, 0},
    {"upper", F_UPPER, 0},     {"lower", F_LOWER, 0},
};

/* Roots a path may start with; the ones marked need a name after them (steps.<id>). */
static const struct {
    const char *name;
    int needs_name;
} roots[] = {
    {"event", 0}, {"steps", 1}, {"flags", 1}, {"run", 0}, {"env", 1}, {"secrets", 1},
};

/* One parsed {{ expression }}. Segment text lives in small, or in big when it does not fit. */
typedef struct {
    const char *src; /* the expression between the braces, for messages */
    size_t src_len;
    const char *path; /* the path as written, for "missing field" */
    size_t path_len;
    const char *segs[MAX_SEGS];
    size_t nsegs;
    struct {
        filter_kind_t kind;
        json_t *arg; /* default's value; owned */
    } f[MAX_FILTERS];
    size_t nf;
    char small[256], *big, *store;
    size_t used, cap;
} expr_t;

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void expr_free(expr_t *e) {
    for (size_t i = 0; i < e->nf; i++)
        json_decref(e->f[i].arg);
    free(e->big);
}

static hs_err_t syntax(const expr_t *e, char *errstr, size_t n, const char *why) {
    int len = e->src_len > 120 ? 120 : (int)e->src_len;
    return hs_fail(HS_ERR_INVALID, errstr, n, "template {{%.*s}}: %s", len, e->src, why);
}

static int name_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Reads a quoted string ('...' or "...", backslash escapes \\ \" \' \n \t \r) at *p into the
 * expression's store; returns its start or NULL when unterminated or badly escaped. */
static const char *read_quoted(expr_t *e, const char **p, const char *end, size_t *outlen) {
    char q = **p, *out = e->store + e->used, *start = out;
    const char *s = *p + 1;
    for (; s < end && *s != q; s++) {
        if (*s == '\\') {
            if (++s == end) return NULL;
            const char *from = "\\\"'ntr", *to = "\\\"'\n\t\r", *at = strchr(from, *s);
            if (!at || !*s) return NULL;
            *out++ = to[at - from];
        } else {
            *out++ = *s;
        }
    }
    if (s == end) return NULL;
    *out++ = 0;
    *outlen = (size_t)(out - start - 1);
    e->used += (size_t)(out - start);
    *p = s + 1;
    return start;
}

/* Reads a name ([A-Za-z0-9_-]+), or only digits when digits is 1, into the store. */
static const char *read_name(expr_t *e, const char **p, const char *end, int digits) {
    const char *s = *p;
    while (s < end && (digits ? isdigit((unsigned char)*s) : name_char(*s)))
        s++;
    if (s == *p) return NULL;
    char *out = e->store + e->used;
    memcpy(out, *p, (size_t)(s - *p));
    out[s - *p] = 0;
    e->used += (size_t)(s - *p) + 1;
    *p = s;
    return out;
}

/* Reads a literal argument: a quoted string, a number, true, false or null. */
static json_t *read_literal(expr_t *e, const char **p, const char *end) {
    if (**p == '"' || **p == '\'') {
        size_t len;
        const char *s = read_quoted(e, p, end, &len);
        return s ? json_stringn(s, len) : NULL;
    }
    const char *s = *p;
    while (s < end && (isalnum((unsigned char)*s) || strchr("+-.", *s)))
        s++;
    json_t *v = s > *p ? json_loadb(*p, (size_t)(s - *p), JSON_DECODE_ANY, NULL) : NULL;
    if (v && (json_is_object(v) || json_is_array(v) || json_is_string(v))) json_decref(v), v = NULL;
    *p = s;
    return v;
}

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static hs_err_t parse_root(expr_t *e, char *errstr, size_t n) {
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        if (strcmp(e->segs[0], roots[i].name) != 0) continue;
        if (roots[i].needs_name && e->nsegs < 2) {
            char why[96];
            snprintf(why, sizeof why, "%s needs a name after it (%s.<name>)", roots[i].name,
                     roots[i].name);
            return syntax(e, errstr, n, why);
        }
        return HS_OK;
    }
    char why[160];
    snprintf(why, sizeof why,
             "unknown root \"%.40s\" (use event, steps, flags, run, env or secrets)", e->segs[0]);
    return syntax(e, errstr, n, why);
}

/* Parses the path at *p: a root name, then .name, [index] or ["quoted key"] segments. */
static hs_err_t parse_path(expr_t *e, const char **p, const char *end, char *errstr, size_t n) {
    e->path = *p;
    if (*p == end || !(isalpha((unsigned char)**p) || **p == '_'))
        return syntax(e, errstr, n, "expected a path such as event.data.id");
    e->segs[e->nsegs++] = read_name(e, p, end, 0);
    while (*p < end && (**p == '.' || **p == '[')) {
        if (e->nsegs == MAX_SEGS) return syntax(e, errstr, n, "path longer than 32 segments");
        const char *seg;
        if (**p == '.') {
            (*p)++;
            if (!(seg = read_name(e, p, end, 0)))
                return syntax(e, errstr, n, "expected a name after '.'");
        } else {
            const char *s = skip_ws(*p + 1, end);
            size_t len;
            if (s < end && (*s == '"' || *s == '\''))
                seg = read_quoted(e, &s, end, &len);
            else
                seg = read_name(e, &s, end, 1);
            s = skip_ws(s, end);
            if (!seg || s == end || *s != ']')
                return syntax(e, errstr, n, "expected [number] or [\"key\"]");
            *p = s + 1;
        }
        e->segs[e->nsegs++] = seg;
    }
    e->path_len = (size_t)(*p - e->path);
    return parse_root(e, errstr, n);
}

static hs_err_t parse_filter(expr_t *e, const char **p, const char *end, char *errstr, size_t n) {
    const char *s = *p = skip_ws(*p + 1, end), *name = s;
    while (s < end && isalpha((unsigned char)*s))
        s++;
    size_t i, len = (size_t)(s - name);
    for (i = 0; i < sizeof filters / sizeof filters[0]; i++)
        if (strlen(filters[i].name) == len && strncmp(filters[i].name, name, len) == 0) break;
    if (i == sizeof filters / sizeof filters[0])
        return syntax(e, errstr, n,
                      "unknown filter (use default(value), json, urlencode, upper, lower)");
    if (e->nf == MAX_FILTERS) return syntax(e, errstr, n, "more than 8 filters");
    e->f[e->nf].kind = filters[i].kind;
    e->f[e->nf].arg = NULL;
    s = skip_ws(s, end);
    if (filters[i].has_arg) {
        if (s == end || *s != '(')
            return syntax(e, errstr, n, "default needs a value: default(\"x\")");
        s = skip_ws(s + 1, end);
        json_t *arg = read_literal(e, &s, end);
        s = skip_ws(s, end);
        if (!arg || s == end || *s != ')') {
            json_decref(arg);
            return syntax(e, errstr, n, "default takes one string, number, true, false or null");
        }
        e->f[e->nf].arg = arg;
        s++;
    }
    e->nf++;
    *p = s;
    return HS_OK;
}

/* Parses src[0..len) (the text between {{ and }}) into e (expr_free after, even on failure). */
static hs_err_t parse_expr(expr_t *e, const char *src, size_t len, char *errstr, size_t n) {
    memset(e, 0, offsetof(expr_t, small));
    e->src = src;
    e->src_len = len;
    e->cap = len + MAX_SEGS + 2;
    e->big = e->cap > sizeof e->small ? malloc(e->cap) : NULL;
    e->store = e->cap > sizeof e->small ? e->big : e->small;
    e->used = 0;
    if (!e->store) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    const char *end = src + len, *p = skip_ws(src, end);
    hs_err_t err = parse_path(e, &p, end, errstr, n);
    for (p = skip_ws(p, end); !err && p < end && *p == '|'; p = skip_ws(p, end))
        err = parse_filter(e, &p, end, errstr, n);
    if (!err && p < end) {
        char why[64];
        snprintf(why, sizeof why, "unexpected '%c'", *p);
        err = syntax(e, errstr, n, why);
    }
    return err;
}

/* The "}}" that closes an expression starting at p (quoted strings skipped), NULL when none. */
static const char *find_close(const char *p, const char *end) {
    for (; p + 1 < end; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; p < end && *p != q; p++)
                if (*p == '\\') p++;
            if (p >= end) return NULL;
        } else if (p[0] == '}' && p[1] == '}') {
            return p;
        }
    }
    return NULL;
}

/* ---- values to text ------------------------------------------------------------------------ */

static int buf_add(buf_t *b, const char *s, size_t len) {
    if (len > MAX_OUT - b->len) return -1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = 0;
    return 0;
}

/* Appends v as text: strings raw, numbers as their shortest exact text, the rest as compact
 * JSON. */
static int add_value(buf_t *b, const json_t *v) {
    char num[40];
    if (json_is_string(v)) return buf_add(b, json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf_add(b, num, strlen(num));
    }
    if (json_is_real(v)) {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, json_real_value(v));
            if (strtod(num, NULL) == json_real_value(v)) break;
        }
        return buf_add(b, num, strlen(num));
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = s ? buf_add(b, s, strlen(s)) : -1;
    free(s);
    return rc;
}

/* Applies a text filter (json, urlencode, upper, lower) to v; a new JSON string or NULL. */
static json_t *apply_filter(filter_kind_t kind, const json_t *v) {
    buf_t in = {0}, out = {0};
    int rc = kind == F_JSON ? 0 : add_value(&in, v);
    if (kind == F_JSON) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = s ? buf_add(&out, s, strlen(s)) : -1;
        free(s);
    }
    for (size_t i = 0; !rc && kind != F_JSON && i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        char esc[4] = {(char)c};
        size_t len = 1;
        if (kind == F_UPPER) esc[0] = (char)toupper(c);
        if (kind == F_LOWER) esc[0] = (char)tolower(c);
        if (kind == F_URLENCODE && !(isalnum(c) || strchr("-._~", c))) {
            snprintf(esc, sizeof esc, "%%%02X", c);
            len = 3;
        }
        rc = buf_add(&out, esc, len);
    }
    json_t *r = rc ? NULL : json_stringn(out.p ? out.p : "", out.len);
    free(in.p);
    free(out.p);
    return r;
}

/* Resolves e and applies its filters: a new reference or NULL with errstr. */
static json_t *eval(const expr_t *e, wf_template_resolve_fn resolve, void *opaque, char *errstr,
                    size_t n) {
    json_t *v = resolve(opaque, e->segs, e->nsegs);
    for (size_t i = 0; i < e->nf; i++) {
        if (e->f[i].kind == F_DEFAULT) {
            if (!v || json_is_null(v)) {
                json_decref(v);
                v = json_incref(e->f[i].arg);
            }
            continue;
        }
        if (!v) break;
        json_t *r = apply_filter(e->f[i].kind, v);
        json_decref(v);
        if (!r) {
            hs_fail(HS_ERR_TOO_LARGE, errstr, n, "{{%.*s}}: output larger than 1 MiB",
                    (int)(e->src_len > 120 ? 120 : e->src_len), e->src);
            return NULL;
        }
        v = r;
    }
    if (!v) hs_fail(HS_ERR_INVALID, errstr, n, "missing field %.*s", (int)e->path_len, e->path);
    return v;
}

/* ---- the pass over a text ----------------------------------------------------------------- */

/* Checks (resolve NULL) or renders text. Rendering returns a new reference: the value of a lone
 * expression, or a string. Checking returns json_null() on success. NULL with errstr. */
static json_t *run(const char *text, wf_template_resolve_fn resolve, void *opaque, char *errstr,
                   size_t n) {
    size_t len = strlen(text);
    if (len > MAX_TEXT) {
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "template longer than 64 KiB (%zu bytes)", len);
        return NULL;
    }
    const char *end = text + len, *p = text;
    buf_t out = {0};
    json_t *lone = NULL;
    int failed = 0;
    while (!failed && p < end) {
        const char *open = memmem(p, (size_t)(end - p), "{{", 2);
        const char *lit_end = open ? open : end;
        if (resolve && buf_add(&out, p, (size_t)(lit_end - p))) failed = 2;
        if (!open || failed) break;
        const char *close = find_close(open + 2, end);
        if (!close) {
            hs_fail(HS_ERR_INVALID, errstr, n, "template \"%.60s\": {{ is never closed by }}",
                    open);
            failed = 1;
            break;
        }
        expr_t e;
        if (parse_expr(&e, open + 2, (size_t)(close - open - 2), errstr, n) != HS_OK) {
            failed = 1;
        } else if (resolve) {
            json_t *v = eval(&e, resolve, opaque, errstr, n);
            if (!v)
                failed = 1;
            else if (open == text && close + 2 == end)
                lone = v;
            else if (add_value(&out, v))
                failed = 2;
            if (v && v != lone) json_decref(v);
        }
        expr_free(&e);
        p = close + 2;
    }
    if (failed == 2) hs_fail(HS_ERR_TOO_LARGE, errstr, n, "template output larger than 1 MiB");
    json_t *r = failed     ? NULL
                : lone     ? lone
                : !resolve ? json_null()
                           : json_stringn(out.p ? out.p : "", out.len);
    if (failed) json_decref(lone);
    if (!r && !failed) /* jansson refuses text that is not UTF-8 */
        hs_fail(HS_ERR_INVALID, errstr, n, "template output is not UTF-8 text");
    free(out.p);
    return r;
}

hs_err_t wf_template_check(const char *text, char *errstr, size_t n) {
    json_t *r = run(text, NULL, NULL, errstr, n);
    if (!r) return HS_ERR_INVALID;
    json_decref(r);
    return HS_OK;
}

json_t *wf_template_render(const char *text, wf_template_resolve_fn resolve, void *opaque,
                           char *errstr, size_t n) {
    json_t *v = run(text, resolve, opaque, errstr, n);
    if (v && json_is_string(v) && json_string_length(v) > MAX_OUT) {
        json_decref(v);
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "template output larger than 1 MiB");
        return NULL;
    }
    return v;
}

char *wf_template_render_str(const char *text, wf_template_resolve_fn resolve, void *opaque,
                             char *errstr, size_t n) {
    json_t *v = wf_template_render(text, resolve, opaque, errstr, n);
    if (!v) return NULL;
    buf_t b = {0};
    if (add_value(&b, v) != 0 || buf_add(&b, "", 0) != 0) {
        free(b.p);
        b.p = NULL;
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "template output larger than 1 MiB");
    }
    json_decref(v);
    return b.p;
}

json_t *wf_template_resolve_json(void *ctx, const char *const *segs, size_t nsegs) {
    json_t *cur = ctx;
    for (size_t i = 0; cur && i < nsegs; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, segs[i]);
        } else if (json_is_array(cur) && isdigit((unsigned char)segs[i][0])) {
            char *end;
            unsigned long long idx = strtoull(segs[i], &end, 10);
            cur = *end ? NULL : json_array_get(cur, (size_t)idx);
        } else {
            cur = NULL;
        }
    }
    return json_incref(cur);
}

/* ---- JSON documents ----------------------------------------------------------------------- */

static json_t *render_node(const json_t *v, char *path, size_t plen, size_t cap, int depth,
                           wf_template_resolve_fn resolve, void *opaque, char *errstr, size_t n);

/* Renders child, whose path is path[0..plen) followed by the key or [index] in path+plen. */
static json_t *render_child(const json_t *child, char *path, size_t plen, size_t cap, int depth,
                            wf_template_resolve_fn resolve, void *opaque, char *errstr, size_t n) {
    size_t sub = plen + strlen(path + plen);
    json_t *r = render_node(child, path, sub, cap, depth + 1, resolve, opaque, errstr, n);
    path[plen] = 0;
    return r;
}

static json_t *render_node(const json_t *v, char *path, size_t plen, size_t cap, int depth,
                           wf_template_resolve_fn resolve, void *opaque, char *errstr, size_t n) {
    if (depth > MAX_DEPTH) {
        hs_fail(HS_ERR_INVALID, errstr, n, "%s: nested deeper than %d levels", path, MAX_DEPTH);
        return NULL;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strstr(s, "{{")) return json_stringn(s, json_string_length(v));
        char msg[512];
        json_t *r = wf_template_render(s, resolve, opaque, msg, sizeof msg);
        if (!r) hs_fail(HS_ERR_INVALID, errstr, n, "%s%s%s", path, plen ? ": " : "", msg);
        return r;
    }
    json_t *out = json_is_object(v) ? json_object() : json_is_array(v) ? json_array() : NULL;
    if (!out) return json_copy((json_t *)v);
    const char *k;
    json_t *child;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, child) {
            snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", k);
            json_t *r = render_child(child, path, plen, cap, depth, resolve, opaque, errstr, n);
            if (!r) return json_decref(out), NULL;
            json_object_set_new(out, k, r);
        }
        return out;
    }
    json_array_foreach(v, i, child) {
        snprintf(path + plen, cap - plen, "[%zu]", i);
        json_t *r = render_child(child, path, plen, cap, depth, resolve, opaque, errstr, n);
        if (!r) return json_decref(out), NULL;
        json_array_append_new(out, r);
    }
    return out;
}

json_t *wf_template_render_json(const json_t *v, wf_template_resolve_fn resolve, void *opaque,
                                char *errstr, size_t n) {
    char path[512] = "";
    return render_node(v, path, 0, sizeof path, 0, resolve, opaque, errstr, n);
}
