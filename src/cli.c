#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_log.h"

extern char **environ;

void cli_set(cli_common_t *c, const char *key, const char *value) {
    if (c->nsets == CLI_MAX_SETS) {
        fprintf(stderr, "hookstream: more than %d --set options\n", CLI_MAX_SETS);
        exit(2);
    }
    c->sets[c->nsets][0] = key;
    c->sets[c->nsets][1] = value;
    c->nsets++;
}

int cli_common_opt(cli_common_t *c, int opt, const char *arg) {
    if (opt == 'C') {
        c->config_path = arg;
        return 1;
    }
    if (opt != 'c') return 0;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "hookstream: --set %s: expected KEY=VALUE\n", arg);
        exit(2);
    }
    char *key = c->set_keys[c->nsets < CLI_MAX_SETS ? c->nsets : 0];
    snprintf(key, sizeof c->set_keys[0], "%.*s", (int)(eq - arg), arg);
    cli_set(c, key, eq + 1);
    return 1;
}

hs_config_t *cli_config_load(const cli_common_t *c, const char *service) {
    char err[512];
    hs_config_t *cfg = hs_config_new();
    if (!cfg) {
        fprintf(stderr, "hookstream: out of memory\n");
        exit(1);
    }
    const char *path = c->config_path ? c->config_path : getenv("HS_CONFIG");
    if (!path && access("hookstream.yaml", R_OK) == 0) path = "hookstream.yaml";
    if (path && hs_config_load_file(cfg, path, err, sizeof err)) goto fail;
    if (hs_config_load_env(cfg, environ, err, sizeof err)) goto fail;
    for (int i = 0; i < c->nsets; i++) {
        char msg[400];
        if (hs_config_set(cfg, c->sets[i][0], c->sets[i][1], "--set", msg, sizeof msg)) {
            snprintf(err, sizeof err, "command line: %s", msg);
            goto fail;
        }
    }
    hs_log_init(service, (hs_log_level_t)hs_log_level_parse(hs_config_str(cfg, "log.level")));
    return cfg;
fail:
    fprintf(stderr, "hookstream: config: %s\n", err);
    hs_config_destroy(cfg);
    exit(2);
}

int cli_usage_error(const char *cmd) {
    fprintf(stderr, "hookstream %s: see 'hookstream %s --help'\n", cmd, cmd);
    return 2;
}

long cli_parse_long(const char *cmd, const char *opt, const char *value) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < 0) {
        fprintf(stderr, "hookstream %s: %s: '%s' is not a non-negative integer\n", cmd, opt, value);
        exit(2);
    }
    return v;
}
