/* hookstream verify: checks a webhook signature the way ingest does (same connector vtable), so a
 * user can see why a provider's request is refused. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "hs_source.h"

#define MAX_HEADERS 64
#define MAX_BODY (16u << 20)

static const char usage[] =
    "usage: hookstream verify --type PROVIDER --secret SECRET [options] [< body]\n"
    "Checks a webhook's signature like `hookstream ingest` does and prints `valid` or\n"
    "`invalid: <reason>`. Exit 0 valid, 1 invalid, 2 usage.\n\n"
    "options:\n"
    "  -t, --type PROVIDER       provider type (see docs/providers.md)\n"
    "  -s, --secret SECRET       signing secret as the provider shows it (repeat for rotation)\n"
    "  -H 'Name: value'          a request header as received (repeatable)\n"
    "  -f, --body-file FILE      the raw body (default: standard input)\n"
    "      --at UNIX_TIME        check timestamps as if now were UNIX_TIME (default: the clock)\n"
    "      --url URL             public URL the provider called (Twilio, generic {url})\n"
    "      --method METHOD       HTTP method for generic {method} (default POST)\n"
    "      --tolerance S         timestamp window in seconds (default 300; 0 turns it off)\n"
    "      --map                 after `valid`, print the event id, type and typed events\n"
    "generic-hmac options:\n"
    "      --header NAME         signature header\n"
    "      --algorithm ALG       sha1, sha256 (default) or sha512\n"
    "      --encoding ENC        hex (default) or base64\n"
    "      --prefix TEXT         text before the signature in the header, e.g. sha256=\n"
    "      --template TEXT       signed content: {body} {timestamp} {id} {method} {url} and text\n"
    "      --timestamp-header NAME, --timestamp-format unix|unix_ms|iso8601|http_date\n"
    "      --id-header NAME      header holding the event id\n" CLI_COMMON_HELP;

enum {
    OPT_AT = 256,
    OPT_URL,
    OPT_METHOD,
    OPT_TOLERANCE,
    OPT_MAP,
    OPT_HEADER,
    OPT_ALGORITHM,
    OPT_ENCODING,
    OPT_PREFIX,
    OPT_TEMPLATE,
    OPT_TS_HEADER,
    OPT_TS_FORMAT,
    OPT_ID_HEADER,
};

typedef struct {
    const char *type, *body_file, *secrets[HS_SOURCE_MAX_SECRETS + 1];
    size_t nsecrets;
    hs_source_header_t headers[MAX_HEADERS + 1];
    size_t nheaders;
    long long at;
    int show_map;
    hs_source_cfg_t cfg;
    hs_source_req_t req;
} verify_args_t;

static int bad_usage(const char *msg, const char *arg) {
    fprintf(stderr, "hookstream verify: %s%s\n", msg, arg ? arg : "");
    return 2;
}

/* "Name: value" → a header entry; the name is copied (freed by cmd_verify), the value borrowed
 * from argv. */
static int add_header(verify_args_t *a, const char *line) {
    const char *colon = strchr(line, ':');
    if (!colon || colon == line) return bad_usage("-H: expected 'Name: value', got ", line);
    if (a->nheaders == MAX_HEADERS) return bad_usage("too many -H headers", NULL);
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *name = strndup(line, (size_t)(colon - line));
    if (!name) return bad_usage("out of memory", NULL);
    a->headers[a->nheaders++] = (hs_source_header_t){name, v};
    return 0;
}

/* The generic-hmac flags, each setting one string of hs_source_generic_t. */
static const struct {
    int opt;
    size_t offset;
} generic_opts[] = {
    {OPT_HEADER, offsetof(hs_source_generic_t, header)},
    {OPT_ALGORITHM, offsetof(hs_source_generic_t, algorithm)},
    {OPT_ENCODING, offsetof(hs_source_generic_t, encoding)},
    {OPT_PREFIX, offsetof(hs_source_generic_t, prefix)},
    {OPT_TEMPLATE, offsetof(hs_source_generic_t, tmpl)},
    {OPT_TS_HEADER, offsetof(hs_source_generic_t, timestamp_header)},
    {OPT_TS_FORMAT, offsetof(hs_source_generic_t, timestamp_format)},
    {OPT_ID_HEADER, offsetof(hs_source_generic_t, id_header)},
};

/* Handles one option; returns 0, or the exit code when the command must stop. */
static int take_opt(verify_args_t *a, int opt, const char *arg) {
    for (size_t i = 0; i < sizeof generic_opts / sizeof generic_opts[0]; i++)
        if (generic_opts[i].opt == opt) {
            *(const char **)((char *)&a->cfg.generic + generic_opts[i].offset) = arg;
            return 0;
        }
    switch (opt) {
    case 't':
        a->type = arg;
        return 0;
    case 's':
        if (a->nsecrets == HS_SOURCE_MAX_SECRETS) return bad_usage("too many --secret", NULL);
        a->secrets[a->nsecrets++] = arg;
        return 0;
    case 'H':
        return add_header(a, arg);
    case 'f':
        a->body_file = arg;
        return 0;
    case OPT_AT:
        a->at = cli_parse_long("verify", "--at", arg);
        return 0;
    case OPT_URL:
        a->req.url = arg;
        return 0;
    case OPT_METHOD:
        a->req.method = arg;
        return 0;
    case OPT_TOLERANCE: {
        long t = cli_parse_long("verify", "--tolerance", arg);
        if (t > 1000000000L) return bad_usage("--tolerance too large: ", arg);
        a->cfg.tolerance_s = t ? (int)t : -1;
        return 0;
    }
    case OPT_MAP:
        a->show_map = 1;
        return 0;
    default:
        return cli_usage_error("verify");
    }
}

static char *read_body(const char *path, size_t *len) {
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 65536 > cap) {
            char *nb = cap >= MAX_BODY ? NULL : realloc(buf, cap = cap * 2 + 65536);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + *len, 1, cap - *len, f);
        *len += r;
        if (r == 0) break;
    }
    if (path) fclose(f);
    return buf;
}

static void print_result(const hs_source_result_t *r) {
    printf("event_id: %s\ntype: %s\noutcome: %s\n", r->event_id, r->cls.type,
           hs_source_outcome_str(r->outcome));
    if (r->cls.challenge[0]) printf("challenge: %s\n", r->cls.challenge);
    if (r->detail[0]) printf("detail: %s\n", r->detail);
    for (size_t i = 0; i < r->events.n; i++) {
        json_t *e = json_pack("{s:s, s:s, s:O}", "type", r->events.ev[i].type, "key",
                              r->events.ev[i].key, "data", r->events.ev[i].data);
        char *text = e ? json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (text) printf("event: %s\n", text);
        free(text);
        json_decref(e);
    }
}

static int run(verify_args_t *a, const hs_source_t *src) {
    char err[512];
    a->cfg.type = a->type;
    a->cfg.name = a->type;
    a->cfg.secrets = a->secrets;
    a->cfg.nsecrets = a->nsecrets;
    if (hs_source_check(src, &a->cfg, err, sizeof err)) return bad_usage(err, NULL);
    size_t len;
    char *body = read_body(a->body_file, &len);
    if (!body) {
        fprintf(stderr,
                "hookstream verify: cannot read the body from %s (missing, unreadable or "
                "over 16 MiB)\n",
                a->body_file ? a->body_file : "standard input");
        return 2;
    }
    a->req.header = hs_source_header_array;
    a->req.header_ctx = a->headers;
    a->req.content_type = hs_source_header_array(a->headers, "Content-Type");
    a->req.body = body;
    a->req.body_len = len;
    hs_err_t rc =
        src->verify(&a->cfg, &a->req, a->at >= 0 ? a->at : (long long)time(NULL), err, sizeof err);
    int code = rc == HS_OK ? 0 : 1;
    if (rc == HS_OK) {
        puts("valid");
    } else if (rc == HS_ERR_AUTH) {
        printf("invalid: %s\n", err);
    } else {
        fprintf(stderr, "hookstream verify: %s\n", err);
    }
    if (rc == HS_OK && a->show_map) {
        hs_source_result_t r;
        if (hs_source_process(src, &a->cfg, &a->req, &r, err, sizeof err) == HS_OK) {
            print_result(&r);
        } else {
            fprintf(stderr, "hookstream verify: %s\n", err);
            code = 1;
        }
        hs_source_result_clear(&r);
    }
    free(body);
    return code;
}

static int check_and_run(verify_args_t *a, const cli_common_t *common, int argc, char **argv) {
    if (optind < argc) return bad_usage("unexpected argument ", argv[optind]);
    if (!a->type) return bad_usage("--type is required; see --help", NULL);
    const hs_source_t *src = hs_source_find(a->type);
    if (!src) {
        char known[512];
        hs_source_list(known, sizeof known);
        fprintf(stderr, "hookstream verify: unknown provider '%s' (known: %s)\n", a->type, known);
        return 2;
    }
    if (a->nsecrets == 0) return bad_usage("--secret is required; see --help", NULL);
    hs_config_t *cfg = cli_config_load(common, "verify");
    int rc = run(a, src);
    hs_config_destroy(cfg);
    return rc;
}

int cmd_verify(int argc, char **argv) {
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"type", required_argument, 0, 't'},
        {"secret", required_argument, 0, 's'},
        {"body-file", required_argument, 0, 'f'},
        {"at", required_argument, 0, OPT_AT},
        {"url", required_argument, 0, OPT_URL},
        {"method", required_argument, 0, OPT_METHOD},
        {"tolerance", required_argument, 0, OPT_TOLERANCE},
        {"map", no_argument, 0, OPT_MAP},
        {"header", required_argument, 0, OPT_HEADER},
        {"algorithm", required_argument, 0, OPT_ALGORITHM},
        {"encoding", required_argument, 0, OPT_ENCODING},
        {"prefix", required_argument, 0, OPT_PREFIX},
        {"template", required_argument, 0, OPT_TEMPLATE},
        {"timestamp-header", required_argument, 0, OPT_TS_HEADER},
        {"timestamp-format", required_argument, 0, OPT_TS_FORMAT},
        {"id-header", required_argument, 0, OPT_ID_HEADER},
        {0, 0, 0, 0},
    };
    verify_args_t a = {.at = -1};
    cli_common_t common = {0};
    int opt, rc = -1;
    while (rc < 0 &&
           (opt = getopt_long(argc, argv, CLI_COMMON_SHORT "t:s:H:f:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') {
            fputs(usage, stdout);
            rc = 0;
        } else if ((rc = take_opt(&a, opt, optarg)) == 0) {
            rc = -1;
        }
    }
    if (rc < 0) rc = check_and_run(&a, &common, argc, argv);
    for (size_t i = 0; i < a.nheaders; i++)
        free((char *)a.headers[i].name);
    return rc;
}
