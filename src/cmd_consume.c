#include <stdio.h>

#include "commands.h"

int cmd_consume(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream consume: pending\n", stderr);
    return 1;
}
