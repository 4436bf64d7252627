/* Steps of a workflow definition (wf_def.h): one row per step kind with the keys it takes and
 * the check of its params; the keys common to all kinds (retry, timeout, on_error, ...) are read
 * here once. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_action.h"
#include "hs_backoff.h"
#include "hs_jsonlogic.h"
#include "wf_def_internal.h"

#define MAX_STEPS 1000 /* in a whole workflow */
#define MAX_NESTING 8  /* branch / on_error lists inside each other */
#define MAX_ID 64
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_DEADLINE_MS (24 * 3600000LL)

/* Keys a kind may use besides id, type and its params. */
enum {
    C_INTEGRATION = 1 << 0,
    C_TIMEOUT = 1 << 1,
    C_DEADLINE = 1 << 2,
    C_RETRY = 1 << 3,
    C_ON_ERROR = 1 << 4,
    C_BRANCH = 1 << 5, /* condition, then, else */
    C_CALL = C_INTEGRATION | C_TIMEOUT | C_DEADLINE | C_RETRY | C_ON_ERROR,
};

typedef hs_err_t (*check_fn)(wf_parse_t *p, wf_step_t *st, struct fy_node *map);

static hs_err_t check_http(wf_parse_t *p, wf_step_t *st, struct fy_node *map);
static hs_err_t check_action(wf_parse_t *p, wf_step_t *st, struct fy_node *map);
static hs_err_t check_emit(wf_parse_t *p, wf_step_t *st, struct fy_node *map);
static hs_err_t check_delay(wf_parse_t *p, wf_step_t *st, struct fy_node *map);
static hs_err_t check_log(wf_parse_t *p, wf_step_t *st, struct fy_node *map);
static hs_err_t check_wait(wf_parse_t *p, wf_step_t *st, struct fy_node *map);

/* The keys each kind keeps in params. */
static const char *const http_keys[] = {"method", "url", "headers", "body", "expect", NULL};
static const char *const slack_keys[] = {"url",        "text",    "blocks", "username",
                                         "icon_emoji", "channel", NULL};
static const char *const email_keys[] = {"to",   "cc",   "from",     "subject",
                                         "text", "html", "smtp_url", NULL};
static const char *const emit_keys[] = {"event", "data", "key", NULL};
static const char *const delay_keys[] = {"duration", "until", NULL};
static const char *const no_keys[] = {NULL};
static const char *const log_keys[] = {"message", "level", "fields", NULL};
static const char *const wait_keys[] = {"event", "match", "timeout", NULL};

static const struct {
    const char *name;
    wf_step_kind_t kind;
    const char *const *params;
    unsigned common;
    check_fn check; /* NULL: nothing beyond the common keys */
} kinds[] = {
    {"http", WF_STEP_HTTP, http_keys, C_CALL, check_http},
    {"slack", WF_STEP_SLACK, slack_keys, C_CALL, check_action},
    {"email", WF_STEP_EMAIL, email_keys, C_CALL, check_action},
    {"emit", WF_STEP_EMIT, emit_keys, C_CALL, check_emit},
    {"delay", WF_STEP_DELAY, delay_keys, C_ON_ERROR, check_delay},
    {"branch", WF_STEP_BRANCH, no_keys, C_BRANCH, NULL},
    {"log", WF_STEP_LOG, log_keys, C_ON_ERROR, check_log},
    {"wait_for_event", WF_STEP_WAIT_FOR_EVENT, wait_keys, C_ON_ERROR, check_wait},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct {
    unsigned bit;
    const char *keys[4];
} common_keys[] = {
    {C_INTEGRATION, {"integration"}}, {C_TIMEOUT, {"timeout"}},
    {C_DEADLINE, {"deadline"}},       {C_RETRY, {"retry"}},
    {C_ON_ERROR, {"on_error"}},       {C_BRANCH, {"condition", "then", "else"}},
};

static const char *const retry_keys[] = {"initial_interval",
                                         "backoff_coefficient",
                                         "maximum_interval",
                                         "maximum_attempts",
                                         "non_retryable_status",
                                         "retry_4xx",
                                         NULL};

static const char *const http_methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", NULL};

const char *wf_step_kind_str(wf_step_kind_t k) {
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].kind == k) return kinds[i].name;
    return "unknown";
}

/* ---- params -------------------------------------------------------------------------------- */

/* The line of key in map, else the step's line. */
static int key_line(const wf_step_t *st, struct fy_node *map, const char *key) {
    int line = st->line;
    wf_p_get(map, key, &line);
    return line;
}

/* params[key] must be present (required) and, when present, a string. */
static hs_err_t need_str(wf_parse_t *p, wf_step_t *st, struct fy_node *map, const char *key,
                         int required) {
    json_t *v = json_object_get(st->params, key);
    if (!v && required) return wf_p_fail(p, st->line, st->id, "missing param '%s'", key);
    if (v && !json_is_string(v))
        return wf_p_fail(p, key_line(st, map, key), st->id, "%s: expected a string", key);
    return HS_OK;
}

/* The action's own check of the params (required fields, types). */
static hs_err_t action_check(wf_parse_t *p, wf_step_t *st) {
    const hs_action_t *a = hs_action_find(wf_step_kind_str(st->kind));
    char msg[256];
    if (!a || !a->validate || a->validate(st->params, msg, sizeof msg) == HS_OK) return HS_OK;
    return wf_p_fail(p, st->line, st->id, "%s", msg);
}

static int is_template(const json_t *v) {
    return json_is_string(v) && strstr(json_string_value(v), "{{");
}

static hs_err_t check_http(wf_parse_t *p, wf_step_t *st, struct fy_node *map) {
    if (need_str(p, st, map, "method", 0)) return HS_ERR_INVALID;
    const char *m = json_string_value(json_object_get(st->params, "method"));
    size_t i = 0;
    while (m && http_methods[i] && strcasecmp(http_methods[i], m))
        i++;
    if (m && !http_methods[i])
        return wf_p_fail(p, key_line(st, map, "method"), st->id,
                         "method: \"%.16s\" is not GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
                         m);
    json_t *expect = json_object_get(st->params, "expect");
    if (json_is_integer(expect))
        json_object_set_new(st->params, "expect", json_pack("[O]", expect));
    return action_check(p, st);
}

/* slack and email: what the action checks is all there is to check. */
static hs_err_t check_action(wf_parse_t *p, wf_step_t *st, struct fy_node *map) {
    (void)map;
    return action_check(p, st);
}

static hs_err_t check_emit(wf_parse_t *p, wf_step_t *st, struct fy_node *map) {
    if (need_str(p, st, map, "event", 1) || need_str(p, st, map, "key", 0)) return HS_ERR_INVALID;
    const char *type = json_string_value(json_object_get(st->params, "event"));
    if (wf_p_event_type(p, type, key_line(st, map, "event"), st->id, "event", 0))
        return HS_ERR_INVALID;
    json_t *data = json_object_get(st->params, "data");
    if (!data) return wf_p_fail(p, st->line, st->id, "missing param 'data'");
    if (!json_is_object(data) && !is_template(data))
        return wf_p_fail(p, key_line(st, map, "data"), st->id,
                         "data: expected an object (or a template such as \"{{ event.data }}\")");
    return HS_OK;
}

static hs_err_t check_delay(wf_parse_t *p, wf_step_t *st, struct fy_node *map) {
    json_t *d = json_object_get(st->params, "duration"), *u = json_object_get(st->params, "until");
    if (!d == !u)
        return wf_p_fail(p, st->line, st->id, "needs exactly one of 'duration' or 'until'");
    if (need_str(p, st, map, d ? "duration" : "until", 1)) return HS_ERR_INVALID;
    int64_t ms;
    int line = st->line;
    struct fy_node *node = wf_p_get(map, "duration", &line);
    if (d && !is_template(d) && wf_p_duration(p, node, line, st->id, "duration", &ms))
        return HS_ERR_INVALID;
    return HS_OK;
}

static hs_err_t check_log(wf_parse_t *p, wf_step_t *st, struct fy_node *map) {
    if (need_str(p, st, map, "message", 1) || need_str(p, st, map, "level", 0))
        return HS_ERR_INVALID;
    const char *level = json_string_value(json_object_get(st->params, "level"));
    if (level && strcmp(level, "info") && strcmp(level, "warn") && strcmp(level, "error"))
        return wf_p_fail(p, key_line(st, map, "level"), st->id,
                         "level: \"%.16s\" is not info, warn or error", level);
    json_t *fields = json_object_get(st->params, "fields");
    if (fields && !json_is_object(fields))
        return wf_p_fail(p, key_line(st, map, "fields"), st->id, "fields: expected a mapping");
    return HS_OK;
}

static hs_err_t check_wait(wf_parse_t *p, wf_step_t *st, struct fy_node *map) {
    if (need_str(p, st, map, "event", 1)) return HS_ERR_INVALID;
    const char *type = json_string_value(json_object_get(st->params, "event"));
    if (wf_p_event_type(p, type, key_line(st, map, "event"), st->id, "event", 0))
        return HS_ERR_INVALID;
    int line = st->line;
    struct fy_node *t = wf_p_get(map, "timeout", &line);
    if (!t)
        return wf_p_fail(p, st->line, st->id,
                         "missing param 'timeout' (how long to wait, e.g. 1h)");
    if (wf_p_duration(p, t, line, st->id, "timeout", &st->timeout_ms)) return HS_ERR_INVALID;
    json_t *match = json_object_get(st->params, "match");
    char msg[256];
    if (match && hs_jsonlogic_check(match, msg, sizeof msg))
        return wf_p_fail(p, key_line(st, map, "match"), st->id, "match: bad JsonLogic: %s", msg);
    return HS_OK;
}

/* ---- common keys --------------------------------------------------------------------------- */

static hs_err_t retry_number(wf_parse_t *p, struct fy_node *v, int line, const char *step,
                             double *out) {
    const char *s = NULL;
    if (wf_p_str(p, v, line, step, "retry.backoff_coefficient", &s)) return HS_ERR_INVALID;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < 1 || x > 100)
        return wf_p_fail(p, line, step,
                         "retry.backoff_coefficient: expected a number from 1 to 100, not "
                         "\"%.32s\"",
                         s);
    *out = x;
    return HS_OK;
}

static hs_err_t retry_codes(wf_parse_t *p, struct fy_node *v, int line, const char *step,
                            wf_retry_t *r) {
    struct fy_node *items[32], *item;
    size_t n = 0;
    void *it = NULL;
    if (!fy_node_is_sequence(v)) items[n++] = v;
    while (fy_node_is_sequence(v) && (item = fy_node_sequence_iterate(v, &it))) {
        if (n == 32)
            return wf_p_fail(p, line, step, "retry.non_retryable_status: more than 32 codes");
        items[n++] = item;
    }
    for (size_t i = 0; i < n; i++) {
        long long code;
        if (wf_p_int(p, items[i], line, step, "retry.non_retryable_status", 100, 599, &code))
            return HS_ERR_INVALID;
        r->non_retryable[r->n_non_retryable++] = (int)code;
    }
    return HS_OK;
}

static hs_err_t parse_retry(wf_parse_t *p, wf_step_t *st, struct fy_node *v, int line) {
    if (!fy_node_is_mapping(v)) return wf_p_fail(p, line, st->id, "retry: expected a mapping");
    if (wf_p_keys(p, v, retry_keys, "retry", st->id)) return HS_ERR_INVALID;
    wf_retry_t *r = &st->retry;
    struct fy_node *x;
    int l = line, has_max = 0;
    long long n;
    const char *s = NULL;
    if ((x = wf_p_get(v, "initial_interval", &l)) &&
        wf_p_duration(p, x, l, st->id, "retry.initial_interval", &r->initial_ms))
        return HS_ERR_INVALID;
    if ((x = wf_p_get(v, "backoff_coefficient", &l)) &&
        retry_number(p, x, l, st->id, &r->coefficient))
        return HS_ERR_INVALID;
    if ((x = wf_p_get(v, "maximum_interval", &l)) && (has_max = 1) &&
        wf_p_duration(p, x, l, st->id, "retry.maximum_interval", &r->max_interval_ms))
        return HS_ERR_INVALID;
    if (!has_max) r->max_interval_ms = r->initial_ms * 100;
    if (r->max_interval_ms < r->initial_ms)
        return wf_p_fail(p, l, st->id, "retry.maximum_interval: shorter than initial_interval");
    if ((x = wf_p_get(v, "maximum_attempts", &l))) {
        if (wf_p_int(p, x, l, st->id, "retry.maximum_attempts", 1, 1000, &n)) return HS_ERR_INVALID;
        r->max_attempts = (int)n;
    }
    if ((x = wf_p_get(v, "non_retryable_status", &l)) && retry_codes(p, x, l, st->id, r))
        return HS_ERR_INVALID;
    if ((x = wf_p_get(v, "retry_4xx", &l))) {
        if (wf_p_str(p, x, l, st->id, "retry.retry_4xx", &s)) return HS_ERR_INVALID;
        if (strcmp(s, "true") && strcmp(s, "false"))
            return wf_p_fail(p, l, st->id, "retry.retry_4xx: expected true or false");
        r->retry_4xx = !strcmp(s, "true");
    }
    return HS_OK;
}

static hs_err_t parse_integration(wf_parse_t *p, wf_step_t *st, struct fy_node *v, int line) {
    const char *s = NULL;
    if (wf_p_str(p, v, line, st->id, "integration", &s)) return HS_ERR_INVALID;
    size_t len = strlen(s);
    if (!len || len > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
        return wf_p_fail(p, line, st->id,
                         "integration: \"%.64s\" must be 1-64 characters of a-z, 0-9, '_', '-'", s);
    st->integration = strdup(s);
    return HS_OK;
}

/* Reads the keys of bits (C_*) that are present in map. */
static hs_err_t parse_common(wf_parse_t *p, wf_step_t *st, struct fy_node *map, unsigned bits,
                             int depth) {
    int line = st->line;
    struct fy_node *v;
    if ((bits & C_INTEGRATION) && (v = wf_p_get(map, "integration", &line)) &&
        parse_integration(p, st, v, line))
        return HS_ERR_INVALID;
    if ((bits & C_TIMEOUT) && (v = wf_p_get(map, "timeout", &line)) &&
        wf_p_duration(p, v, line, st->id, "timeout", &st->timeout_ms))
        return HS_ERR_INVALID;
    if ((bits & C_DEADLINE) && (v = wf_p_get(map, "deadline", &line)) &&
        wf_p_duration(p, v, line, st->id, "deadline", &st->deadline_ms))
        return HS_ERR_INVALID;
    if ((bits & C_RETRY) && (v = wf_p_get(map, "retry", &line)) && parse_retry(p, st, v, line))
        return HS_ERR_INVALID;
    if ((bits & C_ON_ERROR) && (v = wf_p_get(map, "on_error", &line)) &&
        wf_p_steps(p, v, line, "on_error", st->id, depth + 1, &st->on_error))
        return HS_ERR_INVALID;
    if (!(bits & C_BRANCH)) return HS_OK;
    if (!(v = wf_p_get(map, "condition", &line)))
        return wf_p_fail(p, st->line, st->id, "missing 'condition' (JsonLogic)");
    if (wf_p_logic(p, v, line, st->id, "condition", &st->condition)) return HS_ERR_INVALID;
    if (!(v = wf_p_get(map, "then", &line)))
        return wf_p_fail(p, st->line, st->id, "missing 'then' (the steps when true)");
    if (wf_p_steps(p, v, line, "then", st->id, depth + 1, &st->then_steps)) return HS_ERR_INVALID;
    if ((v = wf_p_get(map, "else", &line)) &&
        wf_p_steps(p, v, line, "else", st->id, depth + 1, &st->else_steps))
        return HS_ERR_INVALID;
    return HS_OK;
}

/* ---- a step -------------------------------------------------------------------------------- */

/* Reads the id (unique, [A-Za-z0-9_-]) and the kind of the step map. */
static hs_err_t parse_head(wf_parse_t *p, wf_step_t *st, struct fy_node *map, size_t *kind) {
    int line = 0;
    struct fy_node_pair *first = fy_node_mapping_get_by_index(map, 0);
    st->line = first ? wf_p_line(fy_node_pair_key(first)) : 0;
    struct fy_node *v = wf_p_get(map, "id", &st->line);
    const char *id = NULL, *type = NULL;
    if (!v) return wf_p_fail(p, st->line, NULL, "a step without an id");
    if (wf_p_str(p, v, st->line, NULL, "step id", &id)) return HS_ERR_INVALID;
    size_t len = strlen(id);
    if (!len || len > MAX_ID ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len)
        return wf_p_fail(p, st->line, NULL,
                         "step id \"%.64s\": 1-%d characters of A-Z, a-z, 0-9, '_', '-'", id,
                         MAX_ID);
    json_t *seen = json_object_get(p->ids, id);
    if (seen)
        return wf_p_fail(p, st->line, id, "duplicate step id (first used on line %d)",
                         (int)json_integer_value(seen));
    if (json_object_size(p->ids) >= MAX_STEPS)
        return wf_p_fail(p, st->line, id, "more than %d steps in the workflow", MAX_STEPS);
    json_object_set_new(p->ids, id, json_integer(st->line));
    if (!(st->id = strdup(id))) return wf_p_fail(p, st->line, id, "out of memory");
    line = st->line;
    if (!(v = wf_p_get(map, "type", &line)))
        return wf_p_fail(p, st->line, st->id,
                         "missing type (http, slack, email, emit, delay, "
                         "branch, log or wait_for_event)");
    if (wf_p_str(p, v, line, st->id, "type", &type)) return HS_ERR_INVALID;
    const char *names[NKINDS];
    for (*kind = 0; *kind < NKINDS; (*kind)++) {
        names[*kind] = kinds[*kind].name;
        if (!strcmp(kinds[*kind].name, type)) return HS_OK;
    }
    const char *hint = wf_p_closest(type, names, NKINDS);
    if (hint)
        return wf_p_fail(p, line, st->id, "unknown step type `%.64s` (did you mean `%s`?)", type,
                         hint);
    return wf_p_fail(p, line, st->id,
                     "unknown step type `%.64s` (types: http, slack, email, emit, delay, branch, "
                     "log, wait_for_event)",
                     type);
}

/* Checks the keys of map against what kind k takes and copies its params into st->params. */
static hs_err_t parse_params(wf_parse_t *p, wf_step_t *st, struct fy_node *map, size_t k) {
    const char *known[24] = {"id", "type"};
    size_t n = 2;
    for (size_t i = 0; i < sizeof common_keys / sizeof common_keys[0]; i++)
        for (size_t j = 0; (kinds[k].common & common_keys[i].bit) && common_keys[i].keys[j]; j++)
            known[n++] = common_keys[i].keys[j];
    for (size_t j = 0; kinds[k].params[j]; j++)
        known[n++] = kinds[k].params[j];
    known[n] = NULL;
    char what[40];
    snprintf(what, sizeof what, "%s steps", kinds[k].name);
    if (wf_p_keys(p, map, known, what, st->id)) return HS_ERR_INVALID;
    if (!(st->params = json_object())) return wf_p_fail(p, st->line, st->id, "out of memory");
    for (size_t j = 0; kinds[k].params[j]; j++) {
        int line = st->line;
        const char *key = kinds[k].params[j];
        struct fy_node_pair *pair = fy_node_mapping_lookup_pair_by_simple_key(map, key, FY_NT);
        if (!pair) continue;
        wf_p_get(map, key, &line);
        json_t *v;
        if (wf_p_json(p, fy_node_pair_value(pair), line, st->id, key, &v)) return HS_ERR_INVALID;
        json_object_set_new(st->params, key, v);
        if (wf_p_templates(p, fy_node_pair_value(pair), st->id, key)) return HS_ERR_INVALID;
    }
    return HS_OK;
}

static hs_err_t parse_step(wf_parse_t *p, struct fy_node *map, int depth, wf_step_t *st) {
    size_t k;
    if (parse_head(p, st, map, &k) || parse_params(p, st, map, k)) return HS_ERR_INVALID;
    st->kind = kinds[k].kind;
    st->timeout_ms = DEFAULT_TIMEOUT_MS;
    st->deadline_ms = DEFAULT_DEADLINE_MS;
    st->retry = (wf_retry_t){
        .initial_ms = 1000, .coefficient = 2.0, .max_interval_ms = 100000, .max_attempts = 5};
    if (parse_common(p, st, map, kinds[k].common, depth)) return HS_ERR_INVALID;
    return kinds[k].check ? kinds[k].check(p, st, map) : HS_OK;
}

hs_err_t wf_p_steps(wf_parse_t *p, struct fy_node *seq, int line, const char *key, const char *step,
                    int depth, wf_steps_t *out) {
    if (depth > MAX_NESTING)
        return wf_p_fail(p, line, step, "%s: steps nested deeper than %d levels", key, MAX_NESTING);
    if (!fy_node_is_sequence(seq))
        return wf_p_fail(p, line, step, "%s: expected a list of steps", key);
    int count = fy_node_sequence_item_count(seq);
    if (count > MAX_STEPS)
        return wf_p_fail(p, line, step, "%s: more than %d steps", key, MAX_STEPS);
    out->items = calloc(count > 0 ? (size_t)count : 1, sizeof *out->items);
    if (!out->items) return wf_p_fail(p, line, step, "out of memory");
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &it))) {
        int l = wf_p_line(item) ? wf_p_line(item) : line;
        if (!fy_node_is_mapping(item))
            return wf_p_fail(p, l, step, "%s: expected a step (a mapping with id and type)", key);
        if (parse_step(p, item, depth, &out->items[out->n++])) return HS_ERR_INVALID;
    }
    return HS_OK;
}

static void step_clear(wf_step_t *st) {
    free(st->id);
    free(st->integration);
    json_decref(st->params);
    json_decref(st->condition);
    wf_p_steps_free(&st->then_steps);
    wf_p_steps_free(&st->else_steps);
    wf_p_steps_free(&st->on_error);
}

void wf_p_steps_free(wf_steps_t *s) {
    for (size_t i = 0; i < s->n; i++)
        step_clear(&s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}
