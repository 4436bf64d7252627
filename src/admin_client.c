/* Admin API client shared by the endpoints, replay and workflows commands (see
 * admin_client.h). */
#include "admin_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_backoff.h"
#include "hs_envelope.h"

#define TIMEOUT_MS 30000
#define UNIX_MS_MIN 100000000000LL /* integers from here up are ms (1973+), below is a typo */

hs_httpc_t *admin_client_new(const hs_config_t *cfg, const char *cmd, const char *service) {
    char err[512], url_key[64], token_key[64];
    snprintf(url_key, sizeof url_key, "%s.url", service);
    snprintf(token_key, sizeof token_key, "%s.token", service);
    hs_httpc_t *c = hs_httpc_new(hs_config_str(cfg, url_key), TIMEOUT_MS, NULL, err, sizeof err);
    if (!c) {
        fprintf(stderr, "hookstream %s: %s: %s\n", cmd, url_key, err);
        return NULL;
    }
    if (hs_httpc_set_bearer(c, hs_config_str(cfg, token_key))) {
        fprintf(stderr, "hookstream %s: out of memory\n", cmd);
        hs_httpc_destroy(c);
        return NULL;
    }
    return c;
}

/* The server answers problem+json; its title and detail say what to fix. */
static void print_problem(const char *cmd, const char *method, const char *path, long status,
                          const json_t *body) {
    const char *title = json_string_value(json_object_get(body, "title"));
    const char *detail = json_string_value(json_object_get(body, "detail"));
    fprintf(stderr, "hookstream %s: %s %s: HTTP %ld%s%s%s%s\n", cmd, method, path, status,
            title ? " " : "", title ? title : "", detail ? ": " : "", detail ? detail : "");
    if (status == 401)
        fprintf(stderr, "hookstream %s: give a valid token with --token (see --help)\n", cmd);
}

int admin_client_call(hs_httpc_t *c, const char *cmd, const char *method, const char *path,
                      const json_t *body, json_t **out) {
    char err[1024];
    long status = 0;
    json_t *answer = NULL;
    if (out) *out = NULL;
    if (hs_httpc_json(c, method, path, body, &status, &answer, err, sizeof err)) {
        fprintf(stderr, "hookstream %s: %s\n", cmd, err);
        return 1;
    }
    if (status < 200 || status > 299) {
        print_problem(cmd, method, path, status, answer);
        json_decref(answer);
        return 1;
    }
    if (out)
        *out = answer;
    else
        json_decref(answer);
    return 0;
}

int admin_client_time(const char *s, int64_t *ms) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!errno && end != s && !*end && v >= UNIX_MS_MIN) {
        *ms = v;
        return 0;
    }
    int64_t ago;
    if (!hs_duration_parse(s, &ago)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - ago;
        return 0;
    }
    *ms = hs_envelope_time_ms(s);
    return *ms >= 0 ? 0 : -1;
}

void admin_client_query_add(char *q, size_t n, const char *key, const char *value) {
    char *esc = hs_httpc_escape(value);
    size_t used = strlen(q);
    snprintf(q + used, n - used, "%c%s=%s", used ? '&' : '?', key, esc ? esc : "");
    free(esc);
}

void admin_client_print_json(const json_t *v) {
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text) puts(text);
    free(text);
}
