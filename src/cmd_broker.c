#include <stdio.h>

#include "commands.h"

int cmd_broker(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream broker: pending\n", stderr);
    return 1;
}
