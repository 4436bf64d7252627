/* cache-proxy routes (see cache_route.h): validation of the `cache_routes` tree, path matching
 * and tag rendering. */
#include "cache_route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_backoff.h"
#include "hs_http.h"

struct cache_routes {
    size_t n;
    cache_route_t *routes;
};

/* Where the route being validated is, for error messages. */
typedef struct {
    size_t index;
    const char *path; /* "" until known */
    const hs_config_t *cfg;
    char *errstr;
    size_t errstr_size;
} ctx_t;

static const char *const known_keys[] = {"path",          "tags",           "ttl", "l1_ttl", "vary",
                                         "write_through", "stale_if_error", NULL};

/* "cache_routes[1] (/products/{id}): tags: '{sku}' is not ... (hookstream.yaml:7)" */
__attribute__((format(printf, 3, 4))) static hs_err_t bad(const ctx_t *c, const char *key,
                                                          const char *fmt, ...) {
    char what[512], sub[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(sub, sizeof sub, "cache_routes.%zu%s%s", c->index, key ? "." : "", key ? key : "");
    const char *origin = c->cfg ? hs_config_tree_origin(c->cfg, sub) : "";
    return hs_fail(HS_ERR_INVALID, c->errstr, c->errstr_size,
                   "cache_routes[%zu]%s%.200s%s: %s%s%s%s%s%s", c->index, c->path[0] ? " (" : "",
                   c->path, c->path[0] ? ")" : "", key ? key : "", key ? ": " : "", what,
                   origin[0] ? " (" : "", origin, origin[0] ? ")" : "");
}

static int is_name_char(char ch, int first) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

/* "{name}" with a valid name: returns the name length, else 0. */
static size_t param_len(const char *seg, size_t n) {
    if (n < 3 || seg[0] != '{' || seg[n - 1] != '}') return 0;
    for (size_t i = 1; i < n - 1; i++)
        if (!is_name_char(seg[i], i == 1)) return 0;
    return n - 2;
}

static hs_err_t parse_path(const ctx_t *c, cache_route_t *r, const char *path) {
    if (path[0] != '/') return bad(c, "path", "must start with '/'");
    if (strlen(path) > CACHE_PATH_MAX) return bad(c, "path", "is longer than %d", CACHE_PATH_MAX);
    if (!(r->path = strdup(path))) return bad(c, "path", "out of memory");
    for (const char *p = path + 1;; p++) {
        size_t n = strcspn(p, "/");
        if (r->nsegments == CACHE_ROUTE_MAX_SEGMENTS)
            return bad(c, "path", "has more than %d segments", CACHE_ROUTE_MAX_SEGMENTS);
        size_t plen = param_len(p, n);
        if (!plen && (memchr(p, '{', n) || memchr(p, '}', n)))
            return bad(c, "path", "segment '%.*s' is neither literal nor one {name}", (int)n, p);
        if (n == 0 && p[0] == '/') return bad(c, "path", "has an empty segment");
        char *seg = plen ? strndup(p + 1, plen) : strndup(p, n);
        if (!seg) return bad(c, "path", "out of memory");
        for (size_t i = 0; plen && i < r->nsegments; i++)
            if (r->is_param[i] && !strcmp(r->segments[i], seg)) {
                free(seg);
                return bad(c, "path", "names {%.*s} twice", (int)plen, p + 1);
            }
        r->is_param[r->nsegments] = plen > 0;
        r->segments[r->nsegments++] = seg;
        p += n;
        if (!*p) break;
    }
    return HS_OK;
}

static int has_param(const cache_route_t *r, const char *name, size_t n) {
    for (size_t i = 0; i < r->nsegments; i++)
        if (r->is_param[i] && strlen(r->segments[i]) == n && !strncmp(r->segments[i], name, n))
            return 1;
    return 0;
}

/* A tag template: text with {name} placeholders naming parameters of the path. */
static hs_err_t check_template(const ctx_t *c, const cache_route_t *r, const char *t) {
    if (!t[0] || strlen(t) > HS_CACHETAG_TAG_MAX)
        return bad(c, "tags", "'%s' is empty or longer than %d bytes", t, HS_CACHETAG_TAG_MAX);
    for (const char *p = t; *p; p++) {
        if ((unsigned char)*p < 0x20) return bad(c, "tags", "'%s' has a control character", t);
        if (*p == '}') return bad(c, "tags", "'%s' has a '}' without '{'", t);
        if (*p != '{') continue;
        const char *close = strchr(p, '}');
        size_t n = close ? (size_t)(close - p - 1) : 0;
        if (!close || !n) return bad(c, "tags", "'%s' has an unclosed or empty '{'", t);
        if (!has_param(r, p + 1, n))
            return bad(c, "tags", "'{%.*s}' in '%s' is not a parameter of the path", (int)n, p + 1,
                       t);
        p = close;
    }
    return HS_OK;
}

/* A list of strings into out (at most max); check validates each (may be NULL). */
static hs_err_t string_list(const ctx_t *c, const cache_route_t *r, const json_t *v,
                            const char *key, char **out, size_t *n, size_t max,
                            hs_err_t (*check)(const ctx_t *, const cache_route_t *, const char *)) {
    if (!v) return HS_OK;
    if (!json_is_array(v)) return bad(c, key, "expected a list of strings");
    if (json_array_size(v) > max) return bad(c, key, "has more than %zu entries", max);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s) return bad(c, key, "entry %zu is not a string", i);
        hs_err_t err = check ? check(c, r, s) : HS_OK;
        if (err) return err;
        if (!(out[(*n)++] = strdup(s))) return bad(c, key, "out of memory");
    }
    return HS_OK;
}

static hs_err_t check_header(const ctx_t *c, const cache_route_t *r, const char *h) {
    (void)r;
    size_t n = strlen(h);
    if (!n || n > 100 ||
        strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                  "!#$%&'*+-.^_`|~") != n)
        return bad(c, "vary", "'%s' is not a header name", h);
    return HS_OK;
}

static hs_err_t duration(const ctx_t *c, const json_t *obj, const char *key, int64_t min_ms,
                         int64_t *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return HS_OK;
    const char *s = json_string_value(v);
    int64_t ms;
    if (!s || hs_duration_parse(s, &ms))
        return bad(c, key, "expected a duration like 90s, 10m or 1h");
    if (ms < min_ms) return bad(c, key, "must be at least %lld ms", (long long)min_ms);
    *out = ms;
    return HS_OK;
}

static hs_err_t parse_route(ctx_t *c, const json_t *obj, cache_route_t *r) {
    if (!json_is_object(obj)) return bad(c, NULL, "expected a mapping with path, tags, ttl, ...");
    const char *path = json_string_value(json_object_get(obj, "path"));
    c->path = path ? path : ""; /* borrowed from the tree for the messages */
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (known_keys[i] && strcmp(known_keys[i], key))
            i++;
        if (!known_keys[i])
            return bad(c, key,
                       "unknown key (known: path, tags, ttl, l1_ttl, vary, "
                       "write_through, stale_if_error)");
    }
    if (!path) return bad(c, "path", "missing (a pattern like /products/{id})");
    hs_err_t err = parse_path(c, r, path);
    if (!err)
        err = string_list(c, r, json_object_get(obj, "tags"), "tags", r->tags, &r->ntags,
                          HS_CACHETAG_MAX_TAGS, check_template);
    if (!err)
        err = string_list(c, r, json_object_get(obj, "vary"), "vary", r->vary, &r->nvary,
                          CACHE_ROUTE_MAX_VARY, check_header);
    if (!err) err = duration(c, obj, "ttl", 1, &r->ttl_ms);
    if (!err) err = duration(c, obj, "l1_ttl", 0, &r->l1_ttl_ms);
    if (!err) err = duration(c, obj, "stale_if_error", 0, &r->stale_if_error_ms);
    v = json_object_get(obj, "write_through");
    if (!err && v && !json_is_boolean(v)) err = bad(c, "write_through", "expected true or false");
    r->write_through = json_is_true(v);
    return err;
}

static void route_free(cache_route_t *r) {
    free(r->path);
    for (size_t i = 0; i < r->nsegments; i++)
        free(r->segments[i]);
    for (size_t i = 0; i < r->ntags; i++)
        free(r->tags[i]);
    for (size_t i = 0; i < r->nvary; i++)
        free(r->vary[i]);
}

cache_routes_t *cache_routes_new(const json_t *tree, int64_t ttl_ms, int64_t l1_ttl_ms,
                                 const hs_config_t *cfg, char *errstr, size_t errstr_size) {
    size_t n = tree ? json_array_size(tree) : 0;
    if (tree && !json_is_array(tree)) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                "cache_routes: expected a list of routes (- path: /products/{id} ...)");
        return NULL;
    }
    cache_routes_t *rs = calloc(1, sizeof *rs);
    if (rs && n) rs->routes = calloc(n, sizeof *rs->routes);
    if (!rs || (n && !rs->routes)) {
        free(rs);
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        ctx_t c = {i, "", cfg, errstr, errstr_size};
        cache_route_t *r = &rs->routes[rs->n++];
        r->ttl_ms = ttl_ms;
        r->l1_ttl_ms = l1_ttl_ms;
        if (parse_route(&c, json_array_get(tree, i), r)) {
            cache_routes_destroy(rs);
            return NULL;
        }
    }
    return rs;
}

void cache_routes_destroy(cache_routes_t *rs) {
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++)
        route_free(&rs->routes[i]);
    free(rs->routes);
    free(rs);
}

size_t cache_routes_count(const cache_routes_t *rs) {
    return rs->n;
}

static int route_matches(const cache_route_t *r, const char *const *segs, size_t nseg) {
    if (r->nsegments != nseg) return 0;
    for (size_t i = 0; i < nseg; i++)
        if (r->is_param[i] ? !segs[i][0] : strcmp(r->segments[i], segs[i])) return 0;
    return 1;
}

const cache_route_t *cache_routes_match(const cache_routes_t *rs, const char *path,
                                        cache_match_t *m) {
    const char *segs[CACHE_ROUTE_MAX_SEGMENTS];
    size_t nseg = 0;
    m->route = NULL;
    m->nparams = 0;
    if (path[0] != '/' || strlen(path) > CACHE_PATH_MAX) return NULL;
    char *dst = m->buf;
    for (const char *p = path + 1;; p++) {
        size_t n = strcspn(p, "/");
        if (nseg == CACHE_ROUTE_MAX_SEGMENTS || hs_http_segment_decode(dst, p, n)) return NULL;
        segs[nseg++] = dst;
        dst += strlen(dst) + 1;
        p += n;
        if (!*p) break;
    }
    for (size_t i = 0; i < rs->n; i++) {
        const cache_route_t *r = &rs->routes[i];
        if (!route_matches(r, segs, nseg)) continue;
        for (size_t k = 0; k < nseg; k++) {
            if (!r->is_param[k]) continue;
            m->names[m->nparams] = r->segments[k];
            m->values[m->nparams++] = segs[k];
        }
        return m->route = r;
    }
    return NULL;
}

static const char *param(const cache_match_t *m, const char *name, size_t n) {
    for (size_t i = 0; i < m->nparams; i++)
        if (strlen(m->names[i]) == n && !strncmp(m->names[i], name, n)) return m->values[i];
    return "";
}

int cache_route_tags(const cache_match_t *m, char tags[][HS_CACHETAG_TAG_MAX + 1], char *errstr,
                     size_t errstr_size) {
    const cache_route_t *r = m->route;
    for (size_t i = 0; i < r->ntags; i++) {
        size_t len = 0, cap = HS_CACHETAG_TAG_MAX + 1;
        int over = 0;
        for (const char *p = r->tags[i]; *p && !over; p++) {
            const char *close = *p == '{' ? strchr(p, '}') : NULL;
            const char *piece = close ? param(m, p + 1, (size_t)(close - p - 1)) : p;
            size_t n = close ? strlen(piece) : 1;
            over = len + n >= cap;
            if (!over) memcpy(tags[i] + len, piece, n);
            len += over ? 0 : n;
            p = close ? close : p;
        }
        tags[i][len] = 0;
        if (over || !hs_cachetag_tag_ok(tags[i])) {
            hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                    "tag %s of route %s renders to a tag longer than %d bytes or with control "
                    "characters",
                    r->tags[i], r->path, HS_CACHETAG_TAG_MAX);
            return -1;
        }
    }
    return (int)r->ntags;
}

int cache_route_varies(const cache_route_t *r, const char *name) {
    for (size_t i = 0; i < r->nvary; i++)
        if (!strcasecmp(r->vary[i], name)) return 1;
    return 0;
}
