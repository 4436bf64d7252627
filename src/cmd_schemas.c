/* `hookstream schemas`: list, show, register and check Avro schemas through hs_registry, so the
 * same commands work against registry.url or the local catalog in Postgres. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hs_catalog.h"
#include "hs_registry.h"

static const char usage[] =
    "usage: hookstream schemas list [--types]           subjects with latest version and id\n"
    "                                                   (--types: built-in event types)\n"
    "       hookstream schemas show SUBJECT|TYPE [--version V]   print a schema\n"
    "       hookstream schemas register                 register every built-in event type\n"
    "       hookstream schemas register FILE.avsc --subject S\n"
    "       hookstream schemas check FILE.avsc --subject S      exit 0 if compatible, else 1\n\n"
    "A TYPE (order.placed) stands for its subject (TopicRecordNameStrategy). Talks to\n"
    "registry.url when set, else to the local catalog in Postgres (postgres.dsn).\n\n"
    "options:\n"
    "  -s, --subject S         subject (or event type) to register or check against\n"
    "  -V, --version V         version to show (default: latest)\n"
    "  -t, --types             list the built-in event types instead of subjects\n"
    "  -r, --registry-url URL  Confluent-compatible registry (registry.url)\n"
    "  -d, --dsn DSN           Postgres of the local catalog (postgres.dsn)\n" CLI_COMMON_HELP;

typedef struct {
    const char *subject;
    const char *version;
    int types;
    const char *const *args; /* positional arguments after the subcommand */
    int nargs;
} schemas_opts_t;

/* A built-in type name stands for its subject. */
static const char *subject_of(const char *name) {
    const hs_event_type_t *t = hs_catalog_find(name);
    return t ? t->subject : name;
}

static char *read_file(const char *path, char *err, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, got = 1;
    int failed = 0;
    while (!failed && got > 0) {
        if (len + 4097 > cap) {
            char *grown = realloc(buf, cap ? cap * 2 : 8192);
            failed = !grown;
            if (grown) buf = grown, cap = cap ? cap * 2 : 8192;
        }
        got = failed ? 0 : fread(buf + len, 1, cap - len - 1, f);
        len += got;
    }
    failed = failed || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        snprintf(err, n, "%s: cannot read", path);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

static int list_types(void) {
    printf("%-30s %-22s %s\n", "TYPE", "TOPIC", "SUBJECT");
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        printf("%-30s %-22s %s\n", t->type, t->topic, t->subject);
    }
    return 0;
}

static int list_subjects(hs_registry_t *r) {
    char **subjects = NULL, err[1024];
    size_t count = 0;
    if (hs_registry_subjects(r, &subjects, &count, err, sizeof err)) {
        fprintf(stderr, "hookstream schemas: %s\n", err);
        return 1;
    }
    int rc = 0;
    printf("%-60s %7s %5s\n", "SUBJECT", "VERSION", "ID");
    for (size_t i = 0; i < count; i++) {
        hs_registry_version_t v;
        if (hs_registry_subject_version(r, subjects[i], -1, &v, err, sizeof err)) {
            fprintf(stderr, "hookstream schemas: %s: %s\n", subjects[i], err);
            rc = 1;
            continue;
        }
        printf("%-60s %7d %5d\n", v.subject, (int)v.version, (int)v.id);
        hs_registry_version_clear(&v);
    }
    hs_registry_strings_free(subjects, count);
    return rc;
}

static int show(hs_registry_t *r, const schemas_opts_t *o) {
    char err[1024];
    long version = -1;
    if (o->nargs != 1) {
        fprintf(stderr, "hookstream schemas show: expected one SUBJECT or TYPE\n");
        return 2;
    }
    if (o->version && strcmp(o->version, "latest"))
        version = cli_parse_long("schemas", "--version", o->version);
    hs_registry_version_t v;
    if (hs_registry_subject_version(r, subject_of(o->args[0]), (int32_t)version, &v, err,
                                    sizeof err)) {
        fprintf(stderr, "hookstream schemas: %s\n", err);
        return 1;
    }
    json_t *j = json_loads(v.schema, JSON_DECODE_ANY, NULL);
    char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
    fprintf(stderr, "subject %s version %d id %d\n", v.subject, (int)v.version, (int)v.id);
    printf("%s\n", pretty ? pretty : v.schema);
    free(pretty);
    json_decref(j);
    hs_registry_version_clear(&v);
    return 0;
}

static int register_builtin(hs_registry_t *r) {
    char err[1024];
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        int32_t id;
        if (hs_registry_register(r, t->subject, t->schema_json, &id, err, sizeof err)) {
            fprintf(stderr, "hookstream schemas: %s (%s): %s\n", t->type, t->subject, err);
            return 1;
        }
        printf("%s -> %d\n", t->subject, (int)id);
    }
    return 0;
}

/* register FILE --subject S and check FILE --subject S. */
static int with_file(hs_registry_t *r, const schemas_opts_t *o, int check) {
    char err[2048];
    const char *cmd = check ? "check" : "register";
    if (o->nargs != 1 || !o->subject) {
        fprintf(stderr, "hookstream schemas %s: expected FILE.avsc and --subject S\n", cmd);
        return 2;
    }
    char *schema = read_file(o->args[0], err, sizeof err);
    if (!schema) {
        fprintf(stderr, "hookstream schemas %s: %s\n", cmd, err);
        return 1;
    }
    const char *subject = subject_of(o->subject);
    int32_t id = 0;
    hs_err_t e = check ? hs_registry_check(r, subject, schema, err, sizeof err)
                       : hs_registry_register(r, subject, schema, &id, err, sizeof err);
    free(schema);
    if (check && (e == HS_OK || e == HS_ERR_CONFLICT)) {
        printf(e ? "incompatible: %s\n" : "compatible\n", err);
        return e ? 1 : 0;
    }
    if (e) {
        fprintf(stderr, "hookstream schemas %s: %s\n", cmd, err);
        return 1;
    }
    printf("%s -> %d\n", subject, (int)id);
    return 0;
}

static int dispatch(const char *sub, const schemas_opts_t *o, const hs_config_t *cfg) {
    char err[1024];
    hs_registry_t *r = hs_registry_new(cfg, err, sizeof err);
    if (!r) {
        fprintf(stderr, "hookstream schemas: %s\n", err);
        return 1;
    }
    int rc;
    if (!strcmp(sub, "list"))
        rc = list_subjects(r);
    else if (!strcmp(sub, "show"))
        rc = show(r, o);
    else if (!strcmp(sub, "register") && o->nargs == 0 && !o->subject)
        rc = register_builtin(r);
    else
        rc = with_file(r, o, !strcmp(sub, "check"));
    hs_registry_destroy(r);
    return rc;
}

int cmd_schemas(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"subject", required_argument, 0, 's'},
                                         {"version", required_argument, 0, 'V'},
                                         {"types", no_argument, 0, 't'},
                                         {"registry-url", required_argument, 0, 'r'},
                                         {"dsn", required_argument, 0, 'd'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    schemas_opts_t o = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "s:V:tr:d:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        if (opt == 's')
            o.subject = optarg;
        else if (opt == 'V')
            o.version = optarg;
        else if (opt == 't')
            o.types = 1;
        else if (opt == 'r')
            cli_set(&common, "registry.url", optarg);
        else if (opt == 'd')
            cli_set(&common, "postgres.dsn", optarg);
        else
            return cli_usage_error("schemas");
    }
    static const char *const subs[] = {"list", "show", "register", "check", NULL};
    const char *sub = optind < argc ? argv[optind] : "list";
    size_t i = 0;
    while (subs[i] && strcmp(subs[i], sub))
        i++;
    if (!subs[i]) {
        fprintf(stderr, "hookstream schemas: '%s' is not a subcommand\n%s", sub, usage);
        return 2;
    }
    o.args = (const char *const *)argv + optind + 1;
    o.nargs = optind < argc ? argc - optind - 1 : 0;
    if (!strcmp(sub, "list") && o.types) return list_types();
    hs_config_t *cfg = cli_config_load(&common, "schemas");
    int rc = dispatch(sub, &o, cfg);
    hs_config_destroy(cfg);
    return rc;
}
