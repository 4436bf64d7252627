#include <stdio.h>

#include "commands.h"

int cmd_schemas(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream schemas: pending\n", stderr);
    return 1;
}
