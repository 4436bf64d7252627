#include <stdio.h>

#include "commands.h"

int cmd_produce(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream produce: pending\n", stderr);
    return 1;
}
