/* Admin API client shared by the endpoints and replay commands (see deliver_client.h). */
#include "deliver_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_backoff.h"
#include "hs_envelope.h"

#define TIMEOUT_MS 30000
#define UNIX_MS_MIN 100000000000LL /* integers from here up are ms (1973+), below is a typo */

hs_httpc_t *deliver_client_new(const hs_config_t *cfg, const char *cmd) {
    char err[512];
    hs_httpc_t *c =
        hs_httpc_new(hs_config_str(cfg, "deliver.url"), TIMEOUT_MS, NULL, err, sizeof err);
    if (!c) {
        fprintf(stderr, "hookstream %s: deliver.url: %s\n", cmd, err);
        return NULL;
    }
    if (hs_httpc_set_bearer(c, hs_config_str(cfg, "deliver.token"))) {
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
        fprintf(stderr, "hookstream %s: set deliver.token (HS_DELIVER_TOKEN) or --token\n", cmd);
}

int deliver_client_call(hs_httpc_t *c, const char *cmd, const char *method, const char *path,
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

int deliver_client_time(const char *s, int64_t *ms) {
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

void deliver_client_print_json(const json_t *v) {
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text) puts(text);
    free(text);
}
