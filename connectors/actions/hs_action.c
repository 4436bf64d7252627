/* The action table and what the actions share. Each worker thread keeps one libcurl easy handle
 * (a pthread key frees it when the thread exits): curl_easy_reset between attempts keeps the
 * handle's connection cache, so consecutive steps to the same host reuse the connection. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_action_impl.h"

static const struct {
    const char *name;
    const hs_action_t *action;
} actions[] = {
    {"http", &hs_action_http},
    {"slack", &hs_action_slack},
    {"email", &hs_action_email},
};

const hs_action_t *hs_action_find(const char *name) {
    for (size_t i = 0; name && i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(actions[i].name, name)) return actions[i].action;
    return NULL;
}

void hs_action_result_clear(hs_action_result_t *res) {
    if (!res) return;
    json_decref(res->output);
    memset(res, 0, sizeof *res);
}

/* ---- the thread's curl handle ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t curl_key;

static void curl_free_handle(void *e) {
    curl_easy_cleanup(e);
}

static void curl_once_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&curl_key, curl_free_handle);
}

CURL *action_curl(void) {
    pthread_once(&curl_once, curl_once_init);
    CURL *e = pthread_getspecific(curl_key);
    if (e) return e;
    if (!(e = curl_easy_init())) return NULL;
    if (pthread_setspecific(curl_key, e)) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

void action_curl_release(CURL *e) {
    curl_easy_reset(e);
}

/* 1 when s[0..n) holds a control character but tab. */
static int has_ctl(const char *s, size_t n) {
    for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + n; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 1;
    return 0;
}

int action_buf_add(action_buf_t *b, const char *s, size_t n) {
    if (b->oom || b->over) return -1;
    if (b->max && b->len + n > b->max) {
        b->over = 1;
        return -1;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int action_slist_add(struct curl_slist **l, const char *name, const char *value) {
    if (has_ctl(value, strlen(value))) return -1;
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (!line) return -1;
    snprintf(line, n, *value ? "%s: %s" : "%s;", name, value);
    struct curl_slist *next = curl_slist_append(*l, line);
    free(line);
    if (!next) return -1;
    *l = next;
    return 0;
}

/* ---- failures ---- */

hs_err_t action_fail(hs_action_result_t *res, hs_err_t err, int retryable, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    json_decref(res->output);
    res->output = NULL;
    res->retryable = retryable;
    return err;
}

void action_url_redact(const char *url, int keep_path, char *out, size_t n) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (u && url && !curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) &&
        !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
        !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        const char *p = !keep_path ? "" : path ? path : "/";
        snprintf(out, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "", p);
    } else {
        snprintf(out, n, "(bad URL)");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

/* Connect-time check of every address of every new connection, so a name that resolves (or
 * re-resolves) to a refused address never gets a socket. */
static curl_socket_t guard_open(void *opaque, curlsocktype purpose, struct curl_sockaddr *addr) {
    action_guard_t *g = opaque;
    if (purpose == CURLSOCKTYPE_IPCXN && !hs_ssrf_addr_allowed(g->ssrf, &addr->addr)) {
        hs_ssrf_addr_str(&addr->addr, g->addr, sizeof g->addr);
        g->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

void action_guard_set(CURL *e, action_guard_t *g, const hs_ssrf_t *ssrf, const char *url) {
    memset(g, 0, sizeof *g);
    if (!ssrf || hs_ssrf_host_allowlisted(ssrf, url)) return;
    g->ssrf = ssrf;
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, guard_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, g);
}

/* Transfer errors a later attempt cannot fix; every other one (timeouts, refused or reset
 * connections, names that do not resolve yet, TLS handshakes) is worth retrying. */
/* clang-format off */
static const struct {
    CURLcode rc;
    hs_err_t err;
} permanent[] = {
    {CURLE_UNSUPPORTED_PROTOCOL, HS_ERR_INVALID},
    {CURLE_URL_MALFORMAT, HS_ERR_INVALID},
    {CURLE_BAD_FUNCTION_ARGUMENT, HS_ERR_INVALID},
    {CURLE_PEER_FAILED_VERIFICATION, HS_ERR_AUTH},
    {CURLE_SSL_CERTPROBLEM, HS_ERR_AUTH},
    {CURLE_SSL_CACERT_BADFILE, HS_ERR_AUTH},
    {CURLE_LOGIN_DENIED, HS_ERR_AUTH},
    {CURLE_OUT_OF_MEMORY, HS_ERR_INTERNAL},
};
/* clang-format on */

hs_err_t action_curl_fail(hs_action_result_t *res, CURLcode rc, const action_guard_t *g,
                          const char *what, const char *curl_err) {
    const char *why = curl_err && *curl_err ? curl_err : curl_easy_strerror(rc);
    if (g && g->refused && rc == CURLE_COULDNT_CONNECT)
        return action_fail(res, HS_ERR_FORBIDDEN, 0, "%s: address %s is not allowed", what,
                           g->addr);
    for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
        if (permanent[i].rc == rc)
            return action_fail(res, permanent[i].err, 0, "%s: %s", what, why);
    hs_err_t err = rc == CURLE_OPERATION_TIMEDOUT ? HS_ERR_TIMEOUT : HS_ERR_UNAVAILABLE;
    return action_fail(res, err, 1, "%s: %s", what, why);
}

/* ---- params ---- */

static int is_template(const json_t *v) {
    return json_is_string(v) && strstr(json_string_value(v), "{{");
}

static int all_strings(const json_t *v) {
    size_t i;
    const char *k;
    json_t *item;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            if (!json_is_string(item)) return 0;
        }
    } else {
        json_object_foreach((json_t *)v, k, item) {
            if (!json_is_string(item)) return 0;
        }
    }
    return 1;
}

static int all_statuses(const json_t *v) {
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_integer(item)) return 0;
        json_int_t s = json_integer_value(item);
        if (s < 100 || s > 599) return 0;
    }
    return json_array_size(v) > 0;
}

/* What a value of type t must be, for the error text; NULL when v is one. */
static const char *type_error(action_ptype_t t, const json_t *v) {
    switch (t) {
    case ACTION_P_STRING:
        return json_is_string(v) ? NULL : "a string";
    case ACTION_P_STRING_OR_LIST:
        return json_is_string(v) || (json_is_array(v) && json_array_size(v) && all_strings(v))
                   ? NULL
                   : "a string or a non-empty list of strings";
    case ACTION_P_STRING_MAP:
        return json_is_object(v) && all_strings(v) ? NULL : "an object of strings";
    case ACTION_P_STATUS_LIST:
        return json_is_array(v) && all_statuses(v) ? NULL
                                                   : "a non-empty list of status codes 100..599";
    case ACTION_P_LIST:
        return json_is_array(v) ? NULL : "a list";
    case ACTION_P_ANY:
        return NULL;
    }
    return "unknown";
}

hs_err_t action_params_check(const json_t *params, const action_param_t *spec, size_t n,
                             int rendered, char *errstr, size_t errstr_size) {
    if (!json_is_object(params))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "params must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        size_t i = 0;
        while (i < n && strcmp(spec[i].name, key))
            i++;
        if (i == n) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "unknown param '%s'", key);
        const char *want = type_error(spec[i].type, v);
        if (want && (rendered || !is_template(v)))
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "param '%s' must be %s", key, want);
    }
    const char *one_of[2] = {NULL, NULL};
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        int here = json_object_get(params, spec[i].name) != NULL;
        if (spec[i].need == ACTION_REQUIRED && !here)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "missing param '%s'", spec[i].name);
        if (spec[i].need != ACTION_ONE_OF) continue;
        found |= here;
        one_of[one_of[0] != NULL] = spec[i].name;
    }
    if (one_of[0] && !found)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "missing param '%s' (or '%s')",
                       one_of[0], one_of[1] ? one_of[1] : "");
    return HS_OK;
}

hs_err_t action_params_ready(const json_t *params, const action_param_t *spec, size_t n,
                             const char *action, hs_action_result_t *res) {
    char err[256];
    hs_err_t rc = action_params_check(params, spec, n, 1, err, sizeof err);
    return rc ? action_fail(res, rc, 0, "%s: %s", action, err) : HS_OK;
}

const char *action_param_str(const json_t *params, const char *name) {
    return json_string_value(json_object_get(params, name));
}

int action_has_ctl(const json_t *v) {
    return json_is_string(v) && has_ctl(json_string_value(v), json_string_length(v));
}
