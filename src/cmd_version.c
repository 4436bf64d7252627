#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

int cmd_version(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: hookstream version\n\nPrints the hookstream and librdkafka versions.");
        return 0;
    }
    printf("hookstream %s (librdkafka %s)\n", HS_VERSION, rd_kafka_version_str());
    return 0;
}
