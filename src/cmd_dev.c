#include <stdio.h>

#include "commands.h"

int cmd_dev(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream dev: pending\n", stderr);
    return 1;
}
