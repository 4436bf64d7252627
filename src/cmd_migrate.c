#include <stdio.h>

#include "commands.h"

int cmd_migrate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream migrate: pending\n", stderr);
    return 1;
}
