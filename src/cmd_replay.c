/* `hookstream replay`: re-deliver to one endpoint (one event, a time range of a topic, or every
 * failed or skipped delivery since a time) through the deliver admin API, then follow the
 * replay's progress on stderr until it ends; Ctrl-C cancels it. Also --status and --cancel of a
 * replay by id. Each mode is one entry of the modes table. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_client.h"
#include "cli.h"
#include "commands.h"
#include "replay_group.h"

#define CMD "replay"
#define POLL_MS 500
#define LINE_EVERY_MS 5000 /* progress lines when stderr is not a terminal */

static const char usage[] =
    "usage: hookstream replay --endpoint ID --event EVENT_ID            one event again\n"
    "       hookstream replay --endpoint ID --topic T --from TIME --to TIME   a time range\n"
    "       hookstream replay --endpoint ID --since TIME    every failed or skipped delivery\n"
    "       hookstream replay --status RP_ID                show a replay\n"
    "       hookstream replay --cancel RP_ID                cancel a replay\n"
    "       hookstream replay --group G --topic T (--to-offset N | --to-time TIME |\n"
    "                         --by-duration D) [--force]     rewind a consumer group\n\n"
    "Submits the replay to `hookstream deliver` (deliver.url, token deliver.token or\n"
    "HS_DELIVER_TOKEN), prints its id, then shows progress (done/total, rate, ETA) on stderr\n"
    "until it ends; Ctrl-C cancels the replay and exits 130. Exit 0 when it finished, 1 when it\n"
    "failed or was cancelled. TIME: RFC 3339, unix ms, or a duration ago (30m, 2h, 1d).\n\n"
    "options:\n"
    "  -e, --endpoint ID   endpoint to re-deliver to\n"
    "      --event ID      event id (ce_id, the webhook-id)\n"
    "      --topic T       topic of a range replay\n"
    "      --from TIME     start of the range\n"
    "      --to TIME       end of the range\n"
    "      --since TIME    recover: failed, dead or skipped deliveries since TIME\n"
    "      --no-wait       print the id and return at once\n"
    "      --status ID     print the replay (JSON)\n"
    "      --cancel ID     cancel a pending or running replay\n"
    "  -u, --url URL       admin API of deliver (deliver.url)\n"
    "  -t, --token T       bearer token (deliver.token)\n"
    "  -j, --json          print the final replay as JSON on stdout\n"
    "group rewind (talks to Kafka, not to deliver):\n"
    "  -g, --group G       consumer group whose offsets on --topic move\n"
    "      --to-offset N   every partition to offset N (clamped to what the partition has)\n"
    "      --to-time TIME  every partition to its first message at or after TIME\n"
    "      --by-duration D back by D (30m, 2h, 1d) from now\n"
    "      --force         the group is running: ask its members to seek (hs.control)\n"
    "                      instead of refusing\n"
    "Without --force the group must have no member consuming --topic: the command joins it\n"
    "and commits only when it gets every partition (exit 1 otherwise).\n" CLI_COMMON_HELP;

typedef struct {
    const char *endpoint, *event, *topic, *from, *to, *since;
    const char *status, *cancel;
    const char *group, *to_offset, *to_time, *by_duration;
    int no_wait, json, force;
} replay_opts_t;

typedef struct {
    const char *name;
    int (*selected)(const replay_opts_t *o);
    int (*run)(hs_httpc_t *c, const replay_opts_t *o);
} replay_mode_t;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int usage_fail(const char *msg, const char *arg) {
    fprintf(stderr, "hookstream " CMD ": ");
    fprintf(stderr, msg, arg);
    fputc('\n', stderr);
    return 2;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void replay_path(char *out, size_t n, const char *id, const char *suffix) {
    char *esc = hs_httpc_escape(id);
    snprintf(out, n, "/v1/replays/%s%s", esc ? esc : "", suffix);
    free(esc);
}

/* Puts TIME option opt as unix ms under key; returns 0 or 2. */
static int put_time(json_t *body, const char *key, const char *opt, const char *value) {
    int64_t ms;
    if (admin_client_time(value, &ms))
        return usage_fail("--%s: expected RFC 3339, unix ms or a duration ago (2h)", opt);
    json_object_set_new(body, key, json_integer((json_int_t)ms));
    return 0;
}

/* The POST /v1/replays body; returns 0 or 2 when the options do not name one kind. */
static int replay_body(const replay_opts_t *o, json_t *body) {
    int kinds = !!o->event + !!(o->topic || o->from || o->to) + !!o->since;
    if (kinds != 1) return usage_fail("give one of --event, --topic/--from/--to or --since%s", "");
    json_object_set_new(body, "endpoint_id", json_string(o->endpoint));
    if (o->event) {
        json_object_set_new(body, "kind", json_string("event"));
        json_object_set_new(body, "event_id", json_string(o->event));
        return 0;
    }
    if (o->since) {
        json_object_set_new(body, "kind", json_string("recover"));
        return put_time(body, "since", "since", o->since);
    }
    if (!o->topic || !o->from || !o->to)
        return usage_fail("a range replay needs --topic, --from and --to%s", "");
    json_object_set_new(body, "kind", json_string("range"));
    json_object_set_new(body, "topic", json_string(o->topic));
    return put_time(body, "from", "from", o->from) || put_time(body, "to", "to", o->to) ? 2 : 0;
}

static void show_progress(const json_t *r, double rate, int tty) {
    long long done = json_integer_value(json_object_get(r, "done"));
    long long total = json_integer_value(json_object_get(r, "total"));
    const json_t *eta = json_object_get(r, "eta_s");
    char eta_text[32] = "-";
    if (json_is_number(eta)) snprintf(eta_text, sizeof eta_text, "%.0fs", json_number_value(eta));
    fprintf(stderr, "%sreplay %s: %s %lld/%lld, %.0f/s, ETA %s%s", tty ? "\r\033[K" : "",
            json_string_value(json_object_get(r, "id")),
            json_string_value(json_object_get(r, "state")), done, total, rate, eta_text,
            tty ? "" : "\n");
}

static int finished(const char *state) {
    return state &&
           (!strcmp(state, "done") || !strcmp(state, "cancelled") || !strcmp(state, "failed"));
}

static int cancel_id(hs_httpc_t *c, const char *id, int json) {
    char path[256];
    json_t *r = NULL;
    replay_path(path, sizeof path, id, "/cancel");
    if (admin_client_call(c, CMD, "POST", path, NULL, &r)) return 1;
    if (json)
        admin_client_print_json(r);
    else
        fprintf(stderr, "replay %s cancelled\n", id);
    json_decref(r);
    return 0;
}

/* Polls the replay until it ends or Ctrl-C (which cancels it): 0 done, 1 failed/cancelled,
 * 130 interrupted. */
static int follow(hs_httpc_t *c, const char *id, int json) {
    char path[256];
    replay_path(path, sizeof path, id, "");
    int tty = isatty(2);
    int64_t t0 = now_ms(), last_line = 0;
    long long done0 = -1;
    json_t *r = NULL;
    for (;;) {
        if (interrupted) {
            if (tty) fputc('\n', stderr);
            json_decref(r);
            cancel_id(c, id, 0);
            return 130;
        }
        json_decref(r);
        if (admin_client_call(c, CMD, "GET", path, NULL, &r)) return 1;
        long long done = json_integer_value(json_object_get(r, "done"));
        if (done0 < 0) done0 = done;
        double secs = (double)(now_ms() - t0) / 1000.0;
        double rate = secs > 0 ? (double)(done - done0) / secs : 0;
        const char *state = json_string_value(json_object_get(r, "state"));
        if (tty || finished(state) || now_ms() - last_line >= LINE_EVERY_MS) {
            show_progress(r, rate, tty);
            last_line = now_ms();
        }
        if (finished(state)) break;
        struct timespec pause = {0, POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (tty) fputc('\n', stderr);
    const char *state = json_string_value(json_object_get(r, "state"));
    const char *error = json_string_value(json_object_get(r, "error"));
    if (error && *error) fprintf(stderr, "hookstream " CMD ": %s\n", error);
    if (json) admin_client_print_json(r);
    int rc = strcmp(state, "done") ? 1 : 0;
    json_decref(r);
    return rc;
}

static int run_submit(hs_httpc_t *c, const replay_opts_t *o) {
    json_t *body = json_object(), *r = NULL;
    int rc = replay_body(o, body);
    if (!rc) rc = admin_client_call(c, CMD, "POST", "/v1/replays", body, &r);
    json_decref(body);
    if (rc) return rc;
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    if (!o->json) printf("%s\n", id);
    fflush(stdout);
    if (o->no_wait) return 0;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    return follow(c, id, o->json);
}

static int run_status(hs_httpc_t *c, const replay_opts_t *o) {
    char path[256];
    json_t *r = NULL;
    replay_path(path, sizeof path, o->status, "");
    if (admin_client_call(c, CMD, "GET", path, NULL, &r)) return 1;
    admin_client_print_json(r);
    json_decref(r);
    return 0;
}

static int run_cancel(hs_httpc_t *c, const replay_opts_t *o) {
    return cancel_id(c, o->cancel, o->json);
}

static int sel_submit(const replay_opts_t *o) {
    return o->endpoint != NULL;
}
static int sel_status(const replay_opts_t *o) {
    return o->status != NULL;
}
static int sel_cancel(const replay_opts_t *o) {
    return o->cancel != NULL;
}

static const replay_mode_t modes[] = {
    {"--endpoint", sel_submit, run_submit},
    {"--status", sel_status, run_status},
    {"--cancel", sel_cancel, run_cancel},
};

enum {
    O_EVENT = 256,
    O_TOPIC,
    O_FROM,
    O_TO,
    O_SINCE,
    O_NO_WAIT,
    O_STATUS,
    O_CANCEL,
    O_TO_OFFSET,
    O_TO_TIME,
    O_BY_DURATION,
    O_FORCE
};

static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                     {"endpoint", required_argument, 0, 'e'},
                                     {"url", required_argument, 0, 'u'},
                                     {"token", required_argument, 0, 't'},
                                     {"json", no_argument, 0, 'j'},
                                     {"event", required_argument, 0, O_EVENT},
                                     {"topic", required_argument, 0, O_TOPIC},
                                     {"from", required_argument, 0, O_FROM},
                                     {"to", required_argument, 0, O_TO},
                                     {"since", required_argument, 0, O_SINCE},
                                     {"no-wait", no_argument, 0, O_NO_WAIT},
                                     {"status", required_argument, 0, O_STATUS},
                                     {"cancel", required_argument, 0, O_CANCEL},
                                     {"group", required_argument, 0, 'g'},
                                     {"to-offset", required_argument, 0, O_TO_OFFSET},
                                     {"to-time", required_argument, 0, O_TO_TIME},
                                     {"by-duration", required_argument, 0, O_BY_DURATION},
                                     {"force", no_argument, 0, O_FORCE},
                                     {0, 0, 0, 0}};

/* Stores one option; returns 0, or 2 on a usage error. */
static int take_opt(replay_opts_t *o, cli_common_t *common, int opt, const char *arg) {
    const char **slot[] = {[O_EVENT - O_EVENT] = &o->event,
                           [O_TOPIC - O_EVENT] = &o->topic,
                           [O_FROM - O_EVENT] = &o->from,
                           [O_TO - O_EVENT] = &o->to,
                           [O_SINCE - O_EVENT] = &o->since,
                           [O_NO_WAIT - O_EVENT] = NULL,
                           [O_STATUS - O_EVENT] = &o->status,
                           [O_CANCEL - O_EVENT] = &o->cancel,
                           [O_TO_OFFSET - O_EVENT] = &o->to_offset,
                           [O_TO_TIME - O_EVENT] = &o->to_time,
                           [O_BY_DURATION - O_EVENT] = &o->by_duration};
    if (opt == 'e') return o->endpoint = arg, 0;
    if (opt == 'u') return cli_set(common, "deliver.url", arg), 0;
    if (opt == 't') return cli_set(common, "deliver.token", arg), 0;
    if (opt == 'j') return o->json = 1, 0;
    if (opt == 'g') return o->group = arg, 0;
    if (opt == O_NO_WAIT) return o->no_wait = 1, 0;
    if (opt == O_FORCE) return o->force = 1, 0;
    if (opt >= O_EVENT && opt <= O_BY_DURATION) return *slot[opt - O_EVENT] = arg, 0;
    return cli_usage_error(CMD);
}

/* --group: moves the group's committed offsets on --topic (replay_group.c). */
static int group_rewind(const cli_common_t *common, const replay_opts_t *o) {
    int given = !!o->to_offset + !!o->to_time + !!o->by_duration;
    if (!o->topic || given != 1)
        return usage_fail("--group needs --topic and one of --to-offset, --to-time, "
                          "--by-duration%s",
                          "");
    if (o->endpoint || o->event || o->since || o->status || o->cancel)
        return usage_fail("--group cannot be combined with replays to an endpoint%s", "");
    replay_group_t r = {.group = o->group, .topic = o->topic, .to_time_ms = -1, .force = o->force};
    if (o->to_offset) {
        char *end;
        r.to_offset = strtoll(o->to_offset, &end, 10);
        if (*end || end == o->to_offset || r.to_offset < 0)
            return usage_fail("--to-offset '%s': expected an offset >= 0", o->to_offset);
    } else if (admin_client_time(o->to_time ? o->to_time : o->by_duration, &r.to_time_ms)) {
        return usage_fail(o->to_time ? "--to-time '%s': expected RFC 3339 or unix ms"
                                     : "--by-duration '%s': expected a duration like 30m, 2h",
                          o->to_time ? o->to_time : o->by_duration);
    }
    hs_config_t *cfg = cli_config_load(common, CMD);
    int rc = replay_group_run(cfg, &r);
    hs_config_destroy(cfg);
    return rc;
}

int cmd_replay(int argc, char **argv) {
    cli_common_t common = {0};
    replay_opts_t o = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "e:u:t:jg:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        if (take_opt(&o, &common, opt, optarg)) return 2;
    }
    if (optind < argc) return usage_fail("unexpected argument '%s'", argv[optind]);
    if (o.group) return group_rewind(&common, &o);
    const replay_mode_t *mode = NULL;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (!modes[i].selected(&o)) continue;
        if (mode) return usage_fail("%s cannot be combined with another mode", modes[i].name);
        mode = &modes[i];
    }
    if (!mode) return usage_fail("give --endpoint, --status or --cancel; see --help%s", "");
    hs_config_t *cfg = cli_config_load(&common, CMD);
    hs_httpc_t *c = admin_client_new(cfg, CMD, "deliver");
    int rc = c ? mode->run(c, &o) : 1;
    hs_httpc_destroy(c);
    hs_config_destroy(cfg);
    return rc;
}
