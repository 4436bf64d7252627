#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
    "usage: hookstream config show [options]   print every key, its value and where it came from\n"
    "       hookstream config doc              print docs/config.md (the key reference)\n"
    "       hookstream config check [options]  validate the configuration; exit 2 if invalid\n\n"
    "options:\n" CLI_COMMON_HELP;

/* Writes value with any password hidden: "scheme://user:SECRET@host" and "password=SECRET". */
static void print_redacted(const char *value) {
    const char *scheme = strstr(value, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    const char *pw = strstr(value, "password=");
    if (colon) {
        printf("%.*s:***%s", (int)(colon - value), value, at);
    } else if (pw) {
        printf("%.*spassword=***%s", (int)(pw - value), value, pw + strcspn(pw, " "));
    } else {
        fputs(value, stdout);
    }
}

int cmd_config(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_common_t common = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        return cli_usage_error("config");
    }
    const char *sub = optind < argc ? argv[optind] : "show";
    if (!strcmp(sub, "doc")) {
        hs_config_doc_write(stdout);
        return 0;
    }
    if (strcmp(sub, "show") && strcmp(sub, "check")) {
        fprintf(stderr, "hookstream config: '%s' is not a subcommand\n%s", sub, usage);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "config");
    if (!strcmp(sub, "show"))
        for (const hs_config_key_t *k = hs_config_keys; k->key; k++) {
            printf("%-28s ", k->key);
            print_redacted(hs_config_str(cfg, k->key));
            printf("    # %s\n", hs_config_origin(cfg, k->key));
        }
    hs_config_destroy(cfg);
    return 0;
}
