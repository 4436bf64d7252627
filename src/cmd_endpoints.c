/* `hookstream endpoints`: manage delivery endpoints through the deliver admin API (add, list,
 * show, enable, disable, rotate, attempts, delete). Tables for people, --json for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "commands.h"

static const char usage[] =
    "usage: hookstream endpoints add --url URL --events TYPES [add options]   prints id, secret\n"
    "       hookstream endpoints list                       every endpoint (table)\n"
    "       hookstream endpoints show ID                    one endpoint (JSON)\n"
    "       hookstream endpoints enable|disable|delete ID\n"
    "       hookstream endpoints rotate ID [--secret S]     new signing secret (the old one\n"
    "                                                       still signs for "
    "deliver.secret_grace_s)\n"
    "       hookstream endpoints attempts ID [--status S] [--since TIME] [--limit N]\n\n"
    "Talks to the admin API of `hookstream deliver` (deliver.url) with deliver.token\n"
    "(HS_DELIVER_TOKEN). TIME: RFC 3339, unix ms, or a duration ago (30m, 2h, 1d).\n\n"
    "add options:\n"
    "      --url URL            where events are POSTed (http or https)\n"
    "      --events TYPES       comma-separated event types or patterns (order.*, *)\n"
    "      --secret S           signing secret whsec_<base64> (default: generated)\n"
    "      --description D      free text\n"
    "      --rate R             deliveries per second at most (0: unlimited)\n"
    "      --max-in-flight N    concurrent deliveries (0: deliver.max_in_flight)\n"
    "      --ordered            same-key events arrive strictly in order\n"
    "      --filter JSON        JsonLogic condition on the event\n"
    "      --policy P           retry policy (see deliver.retry_policy)\n"
    "      --integration NAME   kill switch: while flag integration.NAME.enabled is off, its\n"
    "                           events wait in the retry tiers\n"
    "options:\n"
    "  -a, --api URL            admin API of deliver (deliver.url)\n"
    "  -t, --token T            bearer token (deliver.token)\n"
    "      --status S           attempts: succeeded, failed, retrying, skipped or dead\n"
    "      --limit N            attempts: at most N rows (default 100)\n"
    "  -j, --json               print the API's JSON instead of a table\n" CLI_COMMON_HELP;

typedef struct {
    const char *url, *events, *secret, *description, *rate, *max_in_flight, *filter, *policy;
    const char *status, *since, *limit, *integration;
    int ordered, json;
    const char *id; /* the ID argument */
} ep_opts_t;

typedef struct {
    const char *name;
    int (*fn)(hs_httpc_t *c, const ep_opts_t *o);
    int needs_id;
} ep_sub_t;

#define CMD "endpoints"

static int fail(const char *fmt, const char *arg) {
    fputs("hookstream " CMD ": ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 2;
}

/* "/v1/endpoints/<id><suffix>" with id escaped. */
static void ep_path(char *out, size_t n, const char *id, const char *suffix) {
    char *esc = hs_httpc_escape(id);
    snprintf(out, n, "/v1/endpoints/%s%s", esc ? esc : "", suffix);
    free(esc);
}

static int parse_number(const char *opt, const char *s, json_t *body, const char *key,
                        int integer) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0 || (integer && v != (double)(long long)v))
        return fail("--%s: expected a non-negative number", opt);
    json_object_set_new(body, key, integer ? json_integer((json_int_t)v) : json_real(v));
    return 0;
}

/* Builds the POST /v1/endpoints body from the add options; returns 0 or 2 (usage). */
static int add_body(const ep_opts_t *o, json_t *body) {
    if (!o->url || !o->events) return fail("add needs --url and --events%s", "");
    json_object_set_new(body, "url", json_string(o->url));
    json_t *types = json_array();
    json_object_set_new(body, "event_types", types);
    char *list = strdup(o->events);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(types, json_string(t + strspn(t, " ")));
    free(list);
    if (o->secret) json_object_set_new(body, "secret", json_string(o->secret));
    if (o->description) json_object_set_new(body, "description", json_string(o->description));
    if (o->policy) json_object_set_new(body, "policy", json_string(o->policy));
    if (o->integration) json_object_set_new(body, "integration", json_string(o->integration));
    if (o->ordered) json_object_set_new(body, "ordered", json_true());
    if (o->rate && parse_number("rate", o->rate, body, "rate_limit", 0)) return 2;
    if (o->max_in_flight &&
        parse_number("max-in-flight", o->max_in_flight, body, "max_in_flight", 1))
        return 2;
    if (o->filter) {
        json_error_t jerr;
        json_t *f = json_loads(o->filter, JSON_DECODE_ANY, &jerr);
        if (!f) return fail("--filter: not JSON (%s)", jerr.text);
        json_object_set_new(body, "filter", f);
    }
    return 0;
}

static int sub_add(hs_httpc_t *c, const ep_opts_t *o) {
    json_t *body = json_object(), *ep = NULL;
    int rc = add_body(o, body);
    if (!rc) rc = admin_client_call(c, CMD, "POST", "/v1/endpoints", body, &ep);
    json_decref(body);
    if (rc) return rc;
    if (o->json)
        admin_client_print_json(ep);
    else
        printf("id      %s\nsecret  %s\n", json_string_value(json_object_get(ep, "id")),
               json_string_value(json_object_get(ep, "secret")));
    json_decref(ep);
    return 0;
}

static void print_types(const json_t *types, char *out, size_t n) {
    size_t i, used = 0;
    json_t *t;
    out[0] = 0;
    json_array_foreach(types, i, t) {
        int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", json_string_value(t));
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

static int sub_list(hs_httpc_t *c, const ep_opts_t *o) {
    json_t *list = NULL;
    if (admin_client_call(c, CMD, "GET", "/v1/endpoints", NULL, &list)) return 1;
    if (o->json) {
        admin_client_print_json(list);
        json_decref(list);
        return 0;
    }
    printf("%-30s %-8s %-32s %s\n", "ID", "STATE", "EVENTS", "URL");
    size_t i;
    json_t *ep;
    json_array_foreach(list, i, ep) {
        char types[256];
        print_types(json_object_get(ep, "event_types"), types, sizeof types);
        printf("%-30s %-8s %-32s %s\n", json_string_value(json_object_get(ep, "id")),
               json_is_true(json_object_get(ep, "enabled")) ? "enabled" : "disabled", types,
               json_string_value(json_object_get(ep, "url")));
    }
    json_decref(list);
    return 0;
}

/* One call on ID whose answer is printed as JSON (show) or dropped (enable, disable, delete). */
static int simple(hs_httpc_t *c, const ep_opts_t *o, const char *method, const char *suffix,
                  int show, const char *done) {
    char path[512];
    json_t *ans = NULL;
    ep_path(path, sizeof path, o->id, suffix);
    if (admin_client_call(c, CMD, method, path, NULL, &ans)) return 1;
    if (show || (o->json && ans))
        admin_client_print_json(ans);
    else
        fprintf(stderr, "%s %s\n", done, o->id);
    json_decref(ans);
    return 0;
}

static int sub_show(hs_httpc_t *c, const ep_opts_t *o) {
    return simple(c, o, "GET", "", 1, "");
}
static int sub_enable(hs_httpc_t *c, const ep_opts_t *o) {
    return simple(c, o, "POST", "/enable", 0, "enabled");
}
static int sub_disable(hs_httpc_t *c, const ep_opts_t *o) {
    return simple(c, o, "POST", "/disable", 0, "disabled");
}
static int sub_delete(hs_httpc_t *c, const ep_opts_t *o) {
    return simple(c, o, "DELETE", "", 0, "deleted");
}

static int sub_rotate(hs_httpc_t *c, const ep_opts_t *o) {
    char path[512];
    json_t *body = json_object(), *ans = NULL;
    if (o->secret) json_object_set_new(body, "secret", json_string(o->secret));
    ep_path(path, sizeof path, o->id, "/rotate-secret");
    int rc = admin_client_call(c, CMD, "POST", path, body, &ans);
    json_decref(body);
    if (rc) return rc;
    if (o->json)
        admin_client_print_json(ans);
    else
        printf("secret  %s\n", json_string_value(json_object_get(ans, "secret")));
    json_decref(ans);
    return 0;
}

static void print_attempts(const json_t *list) {
    printf("%-24s %-36s %3s %-9s %4s %8s  %s\n", "AT", "EVENT", "N", "STATUS", "HTTP", "MS",
           "ERROR");
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        printf("%-24s %-36s %3lld %-9s %4lld %8lld  %s\n",
               json_string_value(json_object_get(a, "at")),
               json_string_value(json_object_get(a, "event_id")),
               (long long)json_integer_value(json_object_get(a, "attempt")),
               json_string_value(json_object_get(a, "status")),
               (long long)json_integer_value(json_object_get(a, "http_status")),
               (long long)json_integer_value(json_object_get(a, "latency_ms")),
               json_string_value(json_object_get(a, "error")));
    }
}

static int sub_attempts(hs_httpc_t *c, const ep_opts_t *o) {
    char path[1024], q[512] = "";
    if (o->status) admin_client_query_add(q, sizeof q, "status", o->status);
    if (o->limit) admin_client_query_add(q, sizeof q, "limit", o->limit);
    if (o->since) {
        int64_t ms;
        char buf[32];
        if (admin_client_time(o->since, &ms))
            return fail("--since '%s': expected RFC 3339, unix ms or a duration (2h)", o->since);
        snprintf(buf, sizeof buf, "%lld", (long long)ms);
        admin_client_query_add(q, sizeof q, "since", buf);
    }
    char suffix[600];
    snprintf(suffix, sizeof suffix, "/attempts%s", q);
    ep_path(path, sizeof path, o->id, suffix);
    json_t *list = NULL;
    if (admin_client_call(c, CMD, "GET", path, NULL, &list)) return 1;
    if (o->json)
        admin_client_print_json(list);
    else
        print_attempts(list);
    json_decref(list);
    return 0;
}

static const ep_sub_t subs[] = {
    {"add", sub_add, 0},       {"list", sub_list, 0},         {"show", sub_show, 1},
    {"enable", sub_enable, 1}, {"disable", sub_disable, 1},   {"delete", sub_delete, 1},
    {"rotate", sub_rotate, 1}, {"attempts", sub_attempts, 1},
};

enum {
    O_URL = 256,
    O_EVENTS,
    O_SECRET,
    O_DESC,
    O_RATE,
    O_MIF,
    O_ORDERED,
    O_FILTER,
    O_POLICY,
    O_STATUS,
    O_SINCE,
    O_LIMIT,
    O_INTEGRATION
};

static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                     {"api", required_argument, 0, 'a'},
                                     {"token", required_argument, 0, 't'},
                                     {"json", no_argument, 0, 'j'},
                                     {"url", required_argument, 0, O_URL},
                                     {"events", required_argument, 0, O_EVENTS},
                                     {"secret", required_argument, 0, O_SECRET},
                                     {"description", required_argument, 0, O_DESC},
                                     {"rate", required_argument, 0, O_RATE},
                                     {"max-in-flight", required_argument, 0, O_MIF},
                                     {"ordered", no_argument, 0, O_ORDERED},
                                     {"filter", required_argument, 0, O_FILTER},
                                     {"policy", required_argument, 0, O_POLICY},
                                     {"status", required_argument, 0, O_STATUS},
                                     {"since", required_argument, 0, O_SINCE},
                                     {"limit", required_argument, 0, O_LIMIT},
                                     {"integration", required_argument, 0, O_INTEGRATION},
                                     {0, 0, 0, 0}};

/* Stores one option; returns 0, or 2 on a usage error. */
static int take_opt(ep_opts_t *o, cli_common_t *common, int opt, const char *arg) {
    const char **slot[] = {[O_URL - O_URL] = &o->url,       [O_EVENTS - O_URL] = &o->events,
                           [O_SECRET - O_URL] = &o->secret, [O_DESC - O_URL] = &o->description,
                           [O_RATE - O_URL] = &o->rate,     [O_MIF - O_URL] = &o->max_in_flight,
                           [O_ORDERED - O_URL] = NULL,      [O_FILTER - O_URL] = &o->filter,
                           [O_POLICY - O_URL] = &o->policy, [O_STATUS - O_URL] = &o->status,
                           [O_SINCE - O_URL] = &o->since,   [O_LIMIT - O_URL] = &o->limit,
                           [O_INTEGRATION - O_URL] = &o->integration};
    if (opt == 'a') return cli_set(common, "deliver.url", arg), 0;
    if (opt == 't') return cli_set(common, "deliver.token", arg), 0;
    if (opt == 'j') return o->json = 1, 0;
    if (opt == O_ORDERED) return o->ordered = 1, 0;
    if (opt >= O_URL && opt <= O_INTEGRATION) return *slot[opt - O_URL] = arg, 0;
    return cli_usage_error(CMD);
}

int cmd_endpoints(int argc, char **argv) {
    cli_common_t common = {0};
    ep_opts_t o = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "a:t:j", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        if (take_opt(&o, &common, opt, optarg)) return 2;
    }
    if (optind >= argc) return fail("give a subcommand%s; see --help", "");
    const char *name = argv[optind++];
    const ep_sub_t *sub = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(subs[i].name, name)) sub = &subs[i];
    if (!sub) return fail("'%s' is not a subcommand; see --help", name);
    if (sub->needs_id && optind >= argc) return fail("%s needs an endpoint ID", name);
    o.id = sub->needs_id ? argv[optind++] : NULL;
    if (optind < argc) return fail("unexpected argument '%s'", argv[optind]);
    hs_config_t *cfg = cli_config_load(&common, CMD);
    hs_httpc_t *c = admin_client_new(cfg, CMD, "deliver");
    int rc = c ? sub->fn(c, &o) : 1;
    hs_httpc_destroy(c);
    hs_config_destroy(cfg);
    return rc;
}
