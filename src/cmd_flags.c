/* hookstream flags: list, show, change and evaluate feature flags (flagd format) on the flags
 * topic that every service follows (docs/flags.md). Reads the topic to its end; each change is
 * validated, the flag alone and the whole resulting set, before one record is produced. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hs_flags.h"

static const char usage[] =
    "usage: hookstream flags list [--file FLAGS.json]\n"
    "       hookstream flags get KEY\n"
    "       hookstream flags set KEY (JSON | --file FLAG.json)\n"
    "       hookstream flags enable|disable KEY\n"
    "       hookstream flags rollout KEY PCT\n"
    "       hookstream flags eval KEY [--context JSON] [--file FLAGS.json] [--offline]\n\n"
    "The flags are the topic flags.topic (hs.flags) read to its end, put over --file when given:\n"
    "what a service with flags.file=FLAGS.json sees. A change is validated (the flag alone and\n"
    "the whole resulting set), refused with exit 1 when invalid, else written as one record and\n"
    "acknowledged; running services apply it within a second.\n\n"
    "list      key, state, default variant, whether it has targeting\n"
    "get       the flag's JSON definition ($evaluators: the shared evaluators)\n"
    "set       a flag's JSON definition, given or read from --file (KEY $evaluators: the\n"
    "          shared evaluators object)\n"
    "enable    state ENABLED; disable: state DISABLED. A missing flag is created as a boolean\n"
    "          flag {on: true, off: false} with defaultVariant on\n"
    "rollout   targeting {\"fractional\": [[\"on\", PCT], [\"off\", 100-PCT]]}: on for PCT "
    "percent\n"
    "          of targeting keys (PCT 0..100; raising it only adds keys). A missing flag is\n"
    "          created as a boolean flag with defaultVariant off\n"
    "eval      {\"value\", \"variant\", \"reason\"} of the flag on --context; exit 1 when the\n"
    "          flag does not exist\n\n"
    "options:\n"
    "  -b, --brokers LIST    bootstrap servers (kafka.brokers)\n"
    "  -t, --topic NAME      the flags topic (flags.topic)\n"
    "  -f, --file F          set: the flag's JSON; the others: a flags document under the topic\n"
    "  -x, --context JSON    eval: the evaluation context, a JSON object (default {})\n"
    "  -o, --offline         list, get, eval: --file only, no broker\n" CLI_COMMON_HELP;

#define CMD "hookstream flags"

typedef struct {
    const hs_config_t *cfg;
    const char *file, *context;
    int offline;
    char **args;   /* the subcommand's arguments */
    long pct;      /* rollout's PCT */
    json_t *ctx;   /* eval's --context */
    json_t *base;  /* --file as a flags document (not for set), may be NULL */
    json_t *state; /* the topic's flags */
} flags_cmd_t;

static int fail(const char *what, const char *why) {
    fprintf(stderr, CMD ": %s%s%s\n", what, why ? ": " : "", why ? why : "");
    return 1;
}

static json_t *load_json(const char *text, const char *path, char *errstr, size_t n) {
    json_error_t jerr;
    json_t *v = path ? json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)
                     : json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v)
        snprintf(errstr, n, "%s%snot JSON (line %d: %s)", path ? path : "", path ? ": " : "",
                 jerr.line, jerr.text);
    return v;
}

static void print_json(const json_t *v) {
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    puts(text ? text : "null");
    free(text);
}

/* The document the flags are read from: the topic's put over --file. */
static json_t *merged(const flags_cmd_t *c) {
    return hs_flags_doc_merge(c->base, c->state);
}

static int by_key(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int sub_list(flags_cmd_t *c) {
    json_t *doc = merged(c), *flags = json_object_get(doc, "flags");
    size_t n = json_object_size(flags), i = 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach(flags, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, by_key);
    printf("%-40s %-9s %-16s %s\n", "KEY", "STATE", "DEFAULT", "TARGETING");
    for (i = 0; i < n; i++) {
        const json_t *f = json_object_get(flags, keys[i]);
        const json_t *t = json_object_get(f, "targeting");
        const char *def = json_string_value(json_object_get(f, "defaultVariant"));
        const char *state = json_string_value(json_object_get(f, "state"));
        printf("%-40s %-9s %-16s %s\n", keys[i], state ? state : "?", def ? def : "-",
               json_object_size(t) ? "yes" : "no");
    }
    free(keys);
    json_decref(doc);
    return 0;
}

static int sub_get(flags_cmd_t *c) {
    json_t *doc = merged(c);
    const char *key = c->args[0];
    const json_t *v = !strcmp(key, HS_FLAGS_EVALUATORS)
                          ? json_object_get(doc, HS_FLAGS_EVALUATORS)
                          : json_object_get(json_object_get(doc, "flags"), key);
    int rc = v ? (print_json(v), 0) : fail(key, "no such flag");
    json_decref(doc);
    return rc;
}

/* Validates key = def as the topic would (the flag alone, then the whole resulting set), then
 * produces it and waits for the acknowledgement. */
static int put(flags_cmd_t *c, const char *key, const json_t *def) {
    char why[1024];
    char *text = json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *cand = json_deep_copy(c->state);
    hs_err_t err = text && cand
                       ? hs_flags_doc_apply(cand, c->base, key, text, strlen(text), why, sizeof why)
                       : hs_fail(HS_ERR_INTERNAL, why, sizeof why, "out of memory");
    if (!err) err = hs_flags_doc_check(c->base, cand, why, sizeof why);
    free(text);
    json_decref(cand);
    if (err) return fail("refused", why);
    if (hs_flags_topic_put(c->cfg, key, def, why, sizeof why)) return fail(key, why);
    printf("%s: written to %s\n", key, hs_config_str(c->cfg, "flags.topic"));
    return 0;
}

static int sub_set(flags_cmd_t *c) {
    char why[600];
    json_t *def = load_json(c->args[1], c->file, why, sizeof why);
    if (!def) return fail("refused", why);
    int rc = put(c, c->args[0], def);
    json_decref(def);
    return rc;
}

/* A copy of the flag's current definition, or a new boolean flag {on, off} when it has none. */
static json_t *current_or_boolean(const flags_cmd_t *c, const char *key, const char *def) {
    json_t *doc = merged(c);
    json_t *cur = json_object_get(json_object_get(doc, "flags"), key);
    json_t *out = cur ? json_deep_copy(cur)
                      : json_pack("{s:s, s:{s:b, s:b}, s:s}", "state", "ENABLED", "variants", "on",
                                  1, "off", 0, "defaultVariant", def);
    json_decref(doc);
    return out;
}

static int set_state(flags_cmd_t *c, const char *state) {
    const char *key = c->args[0];
    if (!strcmp(key, HS_FLAGS_EVALUATORS)) return fail(key, "not a flag");
    json_t *def = current_or_boolean(c, key, "on");
    json_object_set_new(def, "state", json_string(state));
    int rc = put(c, key, def);
    json_decref(def);
    return rc;
}

static int sub_enable(flags_cmd_t *c) {
    return set_state(c, "ENABLED");
}

static int sub_disable(flags_cmd_t *c) {
    return set_state(c, "DISABLED");
}

static int sub_rollout(flags_cmd_t *c) {
    const char *key = c->args[0];
    if (!strcmp(key, HS_FLAGS_EVALUATORS)) return fail(key, "not a flag");
    json_t *def = current_or_boolean(c, key, "off");
    const json_t *variants = json_object_get(def, "variants");
    int rc;
    if (!json_object_get(variants, "on") || !json_object_get(variants, "off")) {
        rc = fail(key, "a rollout needs variants named on and off; this flag has others");
    } else {
        json_object_set_new(def, "targeting",
                            json_pack("{s:[[s,i],[s,i]]}", "fractional", "on", (int)c->pct, "off",
                                      (int)(100 - c->pct)));
        const char *state = json_string_value(json_object_get(def, "state"));
        if (state && !strcmp(state, "DISABLED"))
            fprintf(stderr, CMD ": note: %s is DISABLED; the rollout applies once enabled\n", key);
        rc = put(c, key, def);
    }
    json_decref(def);
    return rc;
}

static int sub_eval(flags_cmd_t *c) {
    char why[600];
    json_t *doc = merged(c);
    hs_flagset_t *set = doc ? hs_flagset_new(doc, why, sizeof why) : NULL;
    json_decref(doc);
    int rc = 1;
    if (!set) {
        fail("the flags are invalid", why);
    } else {
        hs_flag_result_t r;
        hs_flagset_eval(set, c->args[0], c->ctx, &r);
        json_t *out = json_pack("{s:O?, s:s?, s:s}", "value", r.value, "variant", r.variant,
                                "reason", hs_flag_reason_str(r.reason));
        if (r.error) json_object_set_new(out, "error", json_string(hs_flag_error_str(r.error)));
        char *text = json_dumps(out, JSON_COMPACT);
        puts(text ? text : "{}");
        free(text);
        json_decref(out);
        rc = r.error == HS_FLAG_ERR_NOT_FOUND;
    }
    hs_flagset_release(set);
    return rc;
}

enum { READS, CHANGES, SETS }; /* SETS: --file is the flag's JSON, not a flags document */

static const struct {
    const char *name;
    int (*fn)(flags_cmd_t *c);
    int min_args, max_args, kind;
} subs[] = {
    {"list", sub_list, 0, 0, READS},
    {"get", sub_get, 1, 1, READS},
    {"set", sub_set, 1, 2, SETS},
    {"enable", sub_enable, 1, 1, CHANGES},
    {"disable", sub_disable, 1, 1, CHANGES},
    {"rollout", sub_rollout, 2, 2, CHANGES},
    {"eval", sub_eval, 1, 1, READS},
};

/* Checks what can be checked before any I/O: rollout's PCT, eval's --context. 0 or 2. */
static int check_args(flags_cmd_t *c, const char *sub) {
    char why[600];
    if (!strcmp(sub, "rollout")) {
        char *end;
        errno = 0;
        c->pct = strtol(c->args[1], &end, 10);
        if (errno || end == c->args[1] || *end || c->pct < 0 || c->pct > 100)
            return fprintf(stderr, CMD " rollout: PCT '%s' is not an integer from 0 to 100\n",
                           c->args[1]),
                   2;
    }
    if (!strcmp(sub, "eval")) {
        c->ctx = load_json(c->context ? c->context : "{}", NULL, why, sizeof why);
        if (!json_is_object(c->ctx))
            return fprintf(stderr, CMD " eval: --context: %s\n",
                           c->ctx ? "not a JSON object" : why),
                   2;
    }
    if (!strcmp(sub, "set") && !c->args[1] == !c->file)
        return fprintf(stderr, CMD " set: give the definition as JSON or --file, not both\n"), 2;
    return 0;
}

/* Reads --file (as a flags document) and the topic, then runs the subcommand. */
static int run(flags_cmd_t *c, int sub) {
    char why[1024];
    if (c->offline && subs[sub].kind != READS)
        return fprintf(stderr, CMD " %s: --offline is for list, get and eval\n", subs[sub].name), 2;
    if (c->file && subs[sub].kind != SETS) {
        if (!(c->base = load_json(NULL, c->file, why, sizeof why))) return fail("--file", why);
        if (hs_flags_doc_check(c->base, NULL, why, sizeof why)) return fail(c->file, why);
    }
    if (!c->offline && !*hs_config_str(c->cfg, "flags.topic"))
        return fprintf(stderr, CMD ": flags.topic is empty: no topic to read or write\n"), 2;
    if (c->offline)
        c->state = json_pack("{s:{}}", "flags");
    else if (hs_flags_topic_read(c->cfg, c->base, &c->state, why, sizeof why))
        return fail("reading the flags", why);
    return subs[sub].fn(c);
}

int cmd_flags(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"topic", required_argument, 0, 't'},
                                         {"file", required_argument, 0, 'f'},
                                         {"context", required_argument, 0, 'x'},
                                         {"offline", no_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    flags_cmd_t c = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:t:f:x:o", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 'b':
            cli_set(&common, "kafka.brokers", optarg);
            break;
        case 't':
            cli_set(&common, "flags.topic", optarg);
            break;
        case 'f':
            c.file = optarg;
            break;
        case 'x':
            c.context = optarg;
            break;
        case 'o':
            c.offline = 1;
            break;
        default:
            return cli_usage_error("flags");
        }
    }
    if (optind == argc) return fputs(usage, stderr), 2;
    const char *sub = argv[optind++];
    int nargs = argc - optind;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(subs[i].name, sub) != 0) continue;
        if (nargs < subs[i].min_args || nargs > subs[i].max_args) {
            fprintf(stderr, CMD " %s: wrong number of arguments; see 'hookstream flags --help'\n",
                    sub);
            return 2;
        }
        char *args[3] = {0};
        memcpy(args, argv + optind, (size_t)nargs * sizeof *args);
        c.args = args;
        int rc = check_args(&c, sub);
        hs_config_t *cfg = rc ? NULL : cli_config_load(&common, "flags");
        c.cfg = cfg;
        if (!rc) rc = run(&c, (int)i);
        json_decref(c.ctx);
        json_decref(c.base);
        json_decref(c.state);
        hs_config_destroy(cfg);
        return rc;
    }
    fprintf(stderr,
            CMD ": '%s' is not a subcommand (list, get, set, enable, disable, rollout, "
                "eval)\n",
            sub);
    return 2;
}
