/* What every subcommand shares: the command table entry type, the common options
 * (--config FILE, --set KEY=VALUE, --help) and loading the configuration in precedence order.
 * Exit codes: 0 success, 1 failure, 2 usage or configuration error. */
#ifndef HS_CLI_H
#define HS_CLI_H

#include <getopt.h>

#include "hs_config.h"

#define CLI_MAX_SETS 64

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cli_cmd_t;

typedef struct {
    const char *config_path; /* --config, else $HS_CONFIG, else ./hookstream.yaml if present */
    const char *sets[CLI_MAX_SETS][2]; /* key, value: --set and command flags, in order */
    char set_keys[CLI_MAX_SETS][128];  /* storage for the keys of --set KEY=VALUE */
    int nsets;
} cli_common_t;

/* Long options every command accepts; put first in a command's option array. */
#define CLI_COMMON_OPTIONS                                                                         \
    {"config", required_argument, 0, 'C'}, {"set", required_argument, 0, 'c'}, {                   \
        "help", no_argument, 0, 'h'                                                                \
    }
#define CLI_COMMON_SHORT "C:c:h"

/* Text describing the common options, for each command's usage. */
#define CLI_COMMON_HELP                                                                            \
    "  -C, --config FILE     YAML configuration (default: $HS_CONFIG or ./hookstream.yaml)\n"      \
    "  -c, --set KEY=VALUE   override one configuration key (repeatable)\n"                        \
    "  -h, --help            show this help\n"

/* Records a command flag that stands for config key (applied after file and env). */
void cli_set(cli_common_t *c, const char *key, const char *value);

/* Handles 'C' and 'c'; returns 1 when opt was one of them, 0 otherwise. Exits 2 on a malformed
 * --set. */
int cli_common_opt(cli_common_t *c, int opt, const char *arg);

/* Builds the configuration (defaults < file < env < flags), sets up logging for service and
 * returns it; prints one line naming file:line:key and exits 2 on any error. */
hs_config_t *cli_config_load(const cli_common_t *c, const char *service);

/* Prints "hookstream CMD: unknown option or missing argument; see --help" style message for a
 * getopt error and returns 2. */
int cli_usage_error(const char *cmd);

/* Parses a non-negative integer option value or exits 2 naming the option. */
long cli_parse_long(const char *cmd, const char *opt, const char *value);

#endif
