#include <stdio.h>

#include "commands.h"

int cmd_topics(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs("hookstream topics: pending\n", stderr);
    return 1;
}
