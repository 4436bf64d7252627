/* `hookstream workflows`: runs the workflows service (no subcommand, or serve), talks to its
 * admin API (list, show, runs, run, cancel, retry: tables for people, --json for scripts) and
 * checks a directory of definitions locally (validate). Each subcommand is one row of subs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "cli.h"
#include "cli_service.h"
#include "commands.h"
#include "hs_log.h"
#include "wf_def.h"
#include "workflows.h"

#define CMD "workflows"

static const char usage[] =
    "usage: hookstream workflows [serve] [serve options]   run the workflows service\n"
    "       hookstream workflows list                      definitions in force, load errors\n"
    "       hookstream workflows show NAME                 one definition: trigger, steps\n"
    "       hookstream workflows runs [--workflow W] [--status S] [--key K] [--limit N]\n"
    "                                 [--before TIME]      runs, newest first\n"
    "       hookstream workflows run ID                    one run with its steps\n"
    "       hookstream workflows cancel ID                 cancel a run that has not ended\n"
    "       hookstream workflows retry ID                  run a failed or cancelled run again\n"
    "                                                      (its completed steps are kept)\n"
    "       hookstream workflows validate [DIR]            load DIR's definitions here and\n"
    "                                                      print every error (no server)\n\n"
    "serve runs event-triggered and scheduled workflows (workflows.dir, reloaded on change)\n"
    "with their state in Postgres, and serves the admin API (/v1/workflows, /v1/runs:\n"
    "docs/workflows.md), /metrics, /healthz and /readyz on workflows.listen; it prints its URL\n"
    "on stdout and stops on SIGTERM or SIGINT. The other subcommands call that API at\n"
    "workflows.url with workflows.token (HS_WORKFLOWS_TOKEN); cancel and retry need an admin\n"
    "token. TIME: RFC 3339, unix ms, or a duration ago (30m, 2h, 1d).\n"
    "Exit: 0 ok, 1 failed (the server's answer is printed), 2 usage.\n\n"
    "examples:\n"
    "  hookstream workflows --dir workflows/ --listen 127.0.0.1:8092\n"
    "  hookstream workflows validate workflows/\n"
    "  hookstream workflows runs --workflow order-welcome --status failed --limit 20\n"
    "  hookstream workflows run 0b6f7c1e-3a0d-4c8e-9f0e-5d2a7b1c9e44 --json\n"
    "  hookstream workflows retry 0b6f7c1e-3a0d-4c8e-9f0e-5d2a7b1c9e44\n\n"
    "serve options:\n"
    "  -b, --brokers LIST       bootstrap servers (kafka.brokers)\n"
    "  -d, --dsn DSN            Postgres for runs and steps (postgres.dsn)\n"
    "  -l, --listen HOST:PORT   admin API address (workflows.listen; port 0: a free one)\n"
    "  -g, --group NAME         consumer group of the triggers (workflows.group)\n"
    "      --dir DIR            definitions directory (workflows.dir; validate's default)\n"
    "      --registry URL       schema registry (registry.url)\n"
    "client options:\n"
    "  -a, --api URL            admin API of the service (workflows.url)\n"
    "  -t, --token T            bearer token (workflows.token)\n"
    "      --workflow W         runs: of workflow W only\n"
    "      --status S           runs: pending, running, waiting, completed, failed or cancelled\n"
    "      --key K              runs: with concurrency key K only\n"
    "      --limit N            runs: at most N rows, 1 to 1000 (default 100)\n"
    "      --before TIME        runs: created before TIME (paging)\n"
    "  -j, --json               print the API's JSON instead of a table\n" CLI_COMMON_HELP;

typedef struct {
    const char *workflow, *status, *key, *limit, *before;
    int json;
    const char *arg; /* NAME, ID or DIR */
} wf_opts_t;

typedef struct {
    const char *name;
    int (*fn)(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o);
    const char *arg; /* what the positional argument is called; NULL: none */
    int arg_optional;
    int client; /* calls the admin API */
} wf_sub_t;

static int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hookstream " CMD ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* A string field of o for a table cell: "-" when absent or null. */
static const char *cell(const json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : "-";
}

/* "<prefix><escaped id><suffix>" */
static void id_path(char *out, size_t n, const char *prefix, const char *id, const char *suffix) {
    char *esc = hs_httpc_escape(id);
    snprintf(out, n, "%s%s%s", prefix, esc ? esc : "", suffix);
    free(esc);
}

/* ---- serve --------------------------------------------------------------------------------- */

static void stop(void *s) {
    wf_service_stop(s);
}

static int sub_serve(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)c;
    (void)o;
    char err[1024];
    cli_service_block_signals();
    wf_service_t *s = wf_service_new(cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "hookstream " CMD ": %s\n", err);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "workflows.listen");
    cli_service_print_url(listen, wf_service_port(s));
    hs_log(HS_LOG_INFO, "workflows ready", "{s:s, s:i, s:s}", "listen", listen, "port",
           wf_service_port(s), "dir", hs_config_str(cfg, "workflows.dir"));
    cli_service_waiter_t waiter;
    cli_service_wait_start(&waiter, CMD, stop, s);
    hs_err_t e = wf_service_run(s, err, sizeof err);
    cli_service_wait_end(&waiter);
    wf_service_destroy(s);
    if (e) {
        fprintf(stderr, "hookstream " CMD ": %s\n", err);
        return 1;
    }
    hs_log(HS_LOG_INFO, "workflows stopped", NULL);
    return 0;
}

/* ---- validate ------------------------------------------------------------------------------ */

static int sub_validate(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)c;
    const char *dir = o->arg ? o->arg : hs_config_str(cfg, "workflows.dir");
    char err[1024];
    wf_defs_t *defs = wf_defs_load(dir, err, sizeof err);
    if (!defs) {
        fprintf(stderr, "hookstream " CMD ": %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < defs->n; i++) {
        const wf_def_t *d = defs->defs[i];
        printf("ok     %s: %s (version %s)\n", d->file, d->name, d->version);
    }
    for (size_t i = 0; i < defs->nerrors; i++)
        printf("error  %s\n", defs->errors[i]);
    fprintf(stderr, "hookstream " CMD ": %s: %zu definition%s loaded, %zu error%s\n", dir, defs->n,
            defs->n == 1 ? "" : "s", defs->nerrors, defs->nerrors == 1 ? "" : "s");
    int rc = defs->nerrors ? 1 : 0;
    wf_defs_free(defs);
    return rc;
}

/* ---- list, show ---------------------------------------------------------------------------- */

/* "order.placed,order.paid" or "schedule 0 * * * *", with " if <condition>" marked. */
static void trigger_text(const json_t *t, char *out, size_t n) {
    const char *sched = json_string_value(json_object_get(t, "schedule"));
    if (sched) {
        snprintf(out, n, "schedule %s", sched);
        return;
    }
    size_t i, used = 0;
    json_t *e;
    out[0] = 0;
    json_array_foreach(json_object_get(t, "events"), i, e) {
        int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", json_string_value(e));
        if (w < 0 || (size_t)w >= n - used) return;
        used += (size_t)w;
    }
    if (json_object_get(t, "condition")) snprintf(out + used, n - used, " (with a condition)");
}

/* Prints an answer for people (the --json flag prints the API's JSON instead). */
typedef void (*print_fn)(const json_t *v, const wf_opts_t *o);

/* Sends method to prefix + o->arg (escaped) + suffix, or to prefix alone when the subcommand
 * takes no argument, and prints the answer; returns the exit code. */
static int call_print(hs_httpc_t *c, const wf_opts_t *o, const char *method, const char *prefix,
                      const char *suffix, print_fn print) {
    char path[2200];
    json_t *v = NULL;
    if (o->arg)
        id_path(path, sizeof path, prefix, o->arg, suffix);
    else
        snprintf(path, sizeof path, "%s%s", prefix, suffix);
    if (admin_client_call(c, CMD, method, path, NULL, &v)) return 1;
    if (o->json)
        admin_client_print_json(v);
    else
        print(v, o);
    json_decref(v);
    return 0;
}

static void print_list(const json_t *ans, const wf_opts_t *o) {
    (void)o;
    printf("%-24s %-18s %5s  %-32s %s\n", "NAME", "VERSION", "STEPS", "TRIGGER", "FILE");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(ans, "workflows"), i, w) {
        char trig[256];
        trigger_text(json_object_get(w, "trigger"), trig, sizeof trig);
        printf("%-24s %-18s %5lld  %-32s %s\n", cell(w, "name"), cell(w, "version"),
               (long long)json_integer_value(json_object_get(w, "steps")), trig, cell(w, "file"));
    }
    json_array_foreach(json_object_get(ans, "errors"), i, w)
        fprintf(stderr, "hookstream " CMD ": not loaded: %s\n", json_string_value(w));
}

static int sub_list(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)cfg;
    return call_print(c, o, "GET", "/v1/workflows", "", print_list);
}

/* One line per step, nested lists indented under their step. */
static void print_steps(const json_t *steps, int depth) {
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st) {
        printf("  %*s%-*s %-15s %-12s line %lld\n", 2 * depth, "", 28 - 2 * depth, cell(st, "id"),
               cell(st, "type"), cell(st, "integration"),
               (long long)json_integer_value(json_object_get(st, "line")));
        static const char *const nested[] = {"then", "else", "on_error"};
        for (size_t k = 0; k < sizeof nested / sizeof nested[0]; k++) {
            const json_t *list = json_object_get(st, nested[k]);
            if (!list) continue;
            printf("  %*s%s:\n", 2 * depth + 2, "", nested[k]);
            print_steps(list, depth + 2);
        }
    }
}

static void print_def(const json_t *d, const wf_opts_t *o) {
    (void)o;
    char trig[512];
    const json_t *conc = json_object_get(d, "concurrency");
    trigger_text(json_object_get(d, "trigger"), trig, sizeof trig);
    printf("name         %s\nversion      %s\nfile         %s\ntrigger      %s\n", cell(d, "name"),
           cell(d, "version"), cell(d, "file"), trig);
    printf("concurrency  key %s, max_runs %lld, max_per_key %lld\n", cell(conc, "key"),
           (long long)json_integer_value(json_object_get(conc, "max_runs")),
           (long long)json_integer_value(json_object_get(conc, "max_per_key")));
    printf("timeout      %lld ms\nsteps\n",
           (long long)json_integer_value(json_object_get(d, "timeout_ms")));
    print_steps(json_object_get(d, "steps"), 0);
}

static int sub_show(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)cfg;
    return call_print(c, o, "GET", "/v1/workflows/", "", print_def);
}

/* ---- runs, run ----------------------------------------------------------------------------- */

static void print_runs(const json_t *runs, const wf_opts_t *o) {
    (void)o;
    printf("%-36s %-20s %-9s %-20s %-24s %s\n", "ID", "WORKFLOW", "STATUS", "KEY", "CREATED",
           "ERROR");
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        printf("%-36s %-20s %-9s %-20s %-24s %s\n", cell(r, "id"), cell(r, "workflow"),
               cell(r, "status"), cell(r, "key"), cell(r, "created_at"), cell(r, "error"));
    }
}

static int sub_runs(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)cfg;
    char q[2048] = "";
    if (o->workflow) admin_client_query_add(q, sizeof q, "workflow", o->workflow);
    if (o->status) admin_client_query_add(q, sizeof q, "status", o->status);
    if (o->key) admin_client_query_add(q, sizeof q, "key", o->key);
    if (o->limit) admin_client_query_add(q, sizeof q, "limit", o->limit);
    if (o->before) {
        int64_t ms;
        char buf[32];
        if (admin_client_time(o->before, &ms))
            return usage_fail("--before '%s': expected RFC 3339, unix ms or a duration (2h)",
                              o->before);
        snprintf(buf, sizeof buf, "%lld", (long long)ms);
        admin_client_query_add(q, sizeof q, "before", buf);
    }
    return call_print(c, o, "GET", "/v1/runs", q, print_runs);
}

static void print_run(const json_t *r, const wf_opts_t *o) {
    (void)o;
    printf("id        %s\nworkflow  %s (version %s)\nstatus    %s\nkey       %s\n", cell(r, "id"),
           cell(r, "workflow"), cell(r, "version"), cell(r, "status"), cell(r, "key"));
    printf("trigger   %s %s\ncreated   %s\nstarted   %s\nfinished  %s\n", cell(r, "trigger_type"),
           cell(r, "trigger_id"), cell(r, "created_at"), cell(r, "started_at"),
           cell(r, "finished_at"));
    if (json_string_value(json_object_get(r, "wake_at")))
        printf("wakes     %s\n", cell(r, "wake_at"));
    if (json_string_value(json_object_get(r, "error"))) printf("error     %s\n", cell(r, "error"));
    printf("\n%-28s %-10s %7s  %-24s %-24s %s\n", "STEP", "STATUS", "ATTEMPT", "STARTED",
           "FINISHED", "ERROR");
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(r, "steps"), i, st) {
        printf("%-28s %-10s %7lld  %-24s %-24s %s\n", cell(st, "step_id"), cell(st, "status"),
               (long long)json_integer_value(json_object_get(st, "attempt")),
               cell(st, "started_at"), cell(st, "finished_at"), cell(st, "error"));
    }
}

static int sub_run(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)cfg;
    return call_print(c, o, "GET", "/v1/runs/", "", print_run);
}

/* ---- cancel, retry ------------------------------------------------------------------------- */

static void print_cancelled(const json_t *r, const wf_opts_t *o) {
    fprintf(stderr, "cancelled %s: now %s\n", o->arg, cell(r, "status"));
}

static void print_retried(const json_t *r, const wf_opts_t *o) {
    fprintf(stderr, "retrying %s: now %s\n", o->arg, cell(r, "status"));
}

static int sub_cancel(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)cfg;
    return call_print(c, o, "POST", "/v1/runs/", "/cancel", print_cancelled);
}

static int sub_retry(const hs_config_t *cfg, hs_httpc_t *c, const wf_opts_t *o) {
    (void)cfg;
    return call_print(c, o, "POST", "/v1/runs/", "/retry", print_retried);
}

/* ---- command line -------------------------------------------------------------------------- */

static const wf_sub_t subs[] = {
    {"serve", sub_serve, NULL, 0, 0}, {"list", sub_list, NULL, 0, 1},
    {"show", sub_show, "NAME", 0, 1}, {"runs", sub_runs, NULL, 0, 1},
    {"run", sub_run, "ID", 0, 1},     {"cancel", sub_cancel, "ID", 0, 1},
    {"retry", sub_retry, "ID", 0, 1}, {"validate", sub_validate, "DIR", 1, 0},
};

enum { O_DIR = 256, O_REGISTRY, O_WORKFLOW, O_STATUS, O_KEY, O_LIMIT, O_BEFORE };

static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                     {"brokers", required_argument, 0, 'b'},
                                     {"dsn", required_argument, 0, 'd'},
                                     {"listen", required_argument, 0, 'l'},
                                     {"group", required_argument, 0, 'g'},
                                     {"dir", required_argument, 0, O_DIR},
                                     {"registry", required_argument, 0, O_REGISTRY},
                                     {"api", required_argument, 0, 'a'},
                                     {"token", required_argument, 0, 't'},
                                     {"json", no_argument, 0, 'j'},
                                     {"workflow", required_argument, 0, O_WORKFLOW},
                                     {"status", required_argument, 0, O_STATUS},
                                     {"key", required_argument, 0, O_KEY},
                                     {"limit", required_argument, 0, O_LIMIT},
                                     {"before", required_argument, 0, O_BEFORE},
                                     {0, 0, 0, 0}};

/* Flags that stand for a config key. */
static const struct {
    int opt;
    const char *key;
} flag_keys[] = {
    {'b', "kafka.brokers"},   {'d', "postgres.dsn"},    {'l', "workflows.listen"},
    {'g', "workflows.group"}, {O_DIR, "workflows.dir"}, {O_REGISTRY, "registry.url"},
    {'a', "workflows.url"},   {'t', "workflows.token"},
};

/* Stores one option; returns 0, or 2 on a usage error. */
static int take_opt(wf_opts_t *o, cli_common_t *common, int opt, const char *arg) {
    for (size_t i = 0; i < sizeof flag_keys / sizeof flag_keys[0]; i++)
        if (flag_keys[i].opt == opt) return cli_set(common, flag_keys[i].key, arg), 0;
    const char **slot[] = {[O_WORKFLOW - O_WORKFLOW] = &o->workflow,
                           [O_STATUS - O_WORKFLOW] = &o->status,
                           [O_KEY - O_WORKFLOW] = &o->key,
                           [O_LIMIT - O_WORKFLOW] = &o->limit,
                           [O_BEFORE - O_WORKFLOW] = &o->before};
    if (opt == 'j') return o->json = 1, 0;
    if (opt >= O_WORKFLOW && opt <= O_BEFORE) return *slot[opt - O_WORKFLOW] = arg, 0;
    return cli_usage_error(CMD);
}

int cmd_workflows(int argc, char **argv) {
    cli_common_t common = {0};
    wf_opts_t o = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:d:l:g:a:t:j", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        if (take_opt(&o, &common, opt, optarg)) return 2;
    }
    const char *name = optind < argc ? argv[optind++] : "serve";
    const wf_sub_t *sub = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(subs[i].name, name)) sub = &subs[i];
    if (!sub) return usage_fail("'%s' is not a subcommand; see --help", name);
    if (sub->arg && optind < argc) o.arg = argv[optind++];
    if (sub->arg && !o.arg && !sub->arg_optional)
        return usage_fail("%s needs %s; see --help", name, sub->arg);
    if (optind < argc) return usage_fail("unexpected argument '%s'; see --help", argv[optind]);
    hs_config_t *cfg = cli_config_load(&common, CMD);
    hs_httpc_t *c = sub->client ? admin_client_new(cfg, CMD, CMD) : NULL;
    int rc = !sub->client || c ? sub->fn(cfg, c, &o) : 1;
    hs_httpc_destroy(c);
    hs_config_destroy(cfg);
    return rc;
}
