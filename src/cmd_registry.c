#include <stdio.h>

#include "commands.h"

int cmd_registry(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream registry: pending\n", stderr);
    return 1;
}
