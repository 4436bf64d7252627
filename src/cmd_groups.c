#include <stdio.h>

#include "commands.h"

int cmd_groups(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream groups: pending\n", stderr);
    return 1;
}
