/* hookstream topics: list, create and describe topics (metadata, watermarks). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hs_kafka.h"

static const char usage[] =
    "usage: hookstream topics list [--all] [--json]\n"
    "       hookstream topics create NAME [--partitions N] [--replication-factor N]\n"
    "       hookstream topics describe NAME [--json]\n\n"
    "list      topics and their partition counts (internal __* topics only with --all)\n"
    "create    a topic; on the embedded broker through its control API (broker.control_url)\n"
    "describe  per partition: leader, replicas, in-sync replicas, low and high watermarks and\n"
    "          the message count between them\n\n"
    "options:\n"
    "  -b, --brokers LIST            bootstrap servers (kafka.brokers)\n"
    "  -p, --partitions N            partitions of a new topic (kafka.partitions)\n"
    "  -r, --replication-factor N    replicas of a new topic (kafka.replication_factor)\n"
    "      --control URL             control API of the embedded broker (broker.control_url)\n"
    "  -a, --all                     list internal topics too\n"
    "  -j, --json                    one JSON document on stdout, for scripts\n" CLI_COMMON_HELP;

typedef struct {
    int all, json;
    const char *sub, *name;
    hs_config_t *cfg;
    rd_kafka_t *rk;
    int timeout_ms;
} topics_cmd_t;

static int fail(const char *msg) {
    fprintf(stderr, "hookstream topics: %s\n", msg);
    return 1;
}

static int cmp_topic(const void *a, const void *b) {
    const rd_kafka_metadata_topic_t *x = *(const rd_kafka_metadata_topic_t *const *)a;
    const rd_kafka_metadata_topic_t *y = *(const rd_kafka_metadata_topic_t *const *)b;
    return strcmp(x->topic, y->topic);
}

static int cmp_partition(const void *a, const void *b) {
    const rd_kafka_metadata_partition_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static const struct rd_kafka_metadata *metadata(topics_cmd_t *c) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 1, NULL, &md, c->timeout_ms);
    if (err) {
        fprintf(stderr, "hookstream topics: kafka at %s: metadata: %s\n", hs_kafka_brokers(c->rk),
                rd_kafka_err2str(err));
        return NULL;
    }
    return md;
}

static int topics_list(topics_cmd_t *c) {
    const struct rd_kafka_metadata *md = metadata(c);
    if (!md) return 1;
    const rd_kafka_metadata_topic_t **sorted = calloc((size_t)md->topic_cnt + 1, sizeof *sorted);
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (c->all || strncmp(md->topics[i].topic, "__", 2) != 0) sorted[n++] = &md->topics[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_topic);
    json_t *list = json_array();
    if (!c->json) printf("%-48s %s\n", "TOPIC", "PARTITIONS");
    for (int i = 0; i < n; i++) {
        if (c->json)
            json_array_append_new(list, json_pack("{s:s, s:i}", "name", sorted[i]->topic,
                                                  "partitions", sorted[i]->partition_cnt));
        else
            printf("%-48s %d\n", sorted[i]->topic, sorted[i]->partition_cnt);
    }
    if (c->json) {
        json_t *doc = json_pack("{s:o}", "topics", list);
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
    } else {
        json_decref(list);
    }
    free(sorted);
    rd_kafka_metadata_destroy(md);
    return 0;
}

static int topics_create(topics_cmd_t *c) {
    char err[600];
    int partitions = (int)hs_config_int(c->cfg, "kafka.partitions");
    hs_err_t rc = hs_kafka_topic_create(
        c->rk, c->name, partitions, (int)hs_config_int(c->cfg, "kafka.replication_factor"),
        hs_config_str(c->cfg, "broker.control_url"), c->timeout_ms, err, sizeof err);
    if (rc) return fail(err);
    if (c->json)
        printf("{\"name\":\"%s\",\"partitions\":%d,\"created\":true}\n", c->name, partitions);
    else
        printf("created topic %s with %d partition%s\n", c->name, partitions,
               partitions == 1 ? "" : "s");
    return 0;
}

static json_t *id_array(const int32_t *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

/* Adds one partition's line (text) or object (JSON); returns its message count or -1. */
static int64_t describe_partition(topics_cmd_t *c, const rd_kafka_metadata_partition_t *p,
                                  json_t *list) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c->rk, c->name, p->id, &low, &high, c->timeout_ms);
    if (err) {
        fprintf(stderr, "hookstream topics: %s [%d]: watermarks: %s\n", c->name, (int)p->id,
                rd_kafka_err2str(err));
        return -1;
    }
    if (c->json) {
        json_array_append_new(
            list, json_pack("{s:i, s:i, s:o, s:o, s:I, s:I, s:I}", "partition", p->id, "leader",
                            p->leader, "replicas", id_array(p->replicas, p->replica_cnt), "isr",
                            id_array(p->isrs, p->isr_cnt), "low", (json_int_t)low, "high",
                            (json_int_t)high, "messages", (json_int_t)(high - low)));
        return high - low;
    }
    char replicas[256] = "", isr[256] = "";
    for (int i = 0, len = 0; i < p->replica_cnt && len < 240; i++)
        len += snprintf(replicas + len, sizeof replicas - (size_t)len, "%s%d", i ? "," : "",
                        (int)p->replicas[i]);
    for (int i = 0, len = 0; i < p->isr_cnt && len < 240; i++)
        len += snprintf(isr + len, sizeof isr - (size_t)len, "%s%d", i ? "," : "", (int)p->isrs[i]);
    printf("%-10d %-7d %-12s %-12s %-12lld %-12lld %lld\n", (int)p->id, (int)p->leader, replicas,
           isr, (long long)low, (long long)high, (long long)(high - low));
    return high - low;
}

static int topics_describe(topics_cmd_t *c) {
    const struct rd_kafka_metadata *md = metadata(c);
    if (!md) return 1;
    const rd_kafka_metadata_topic_t *t = NULL;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, c->name) && !md->topics[i].err) t = &md->topics[i];
    if (!t) {
        fprintf(stderr, "hookstream topics: topic '%s' does not exist at %s\n", c->name,
                hs_kafka_brokers(c->rk));
        rd_kafka_metadata_destroy(md);
        return 1;
    }
    rd_kafka_metadata_partition_t *parts = calloc((size_t)t->partition_cnt + 1, sizeof *parts);
    memcpy(parts, t->partitions, (size_t)t->partition_cnt * sizeof *parts);
    qsort(parts, (size_t)t->partition_cnt, sizeof *parts, cmp_partition);
    json_t *list = json_array();
    if (!c->json)
        printf("topic %s: %d partitions\n%-10s %-7s %-12s %-12s %-12s %-12s %s\n", c->name,
               t->partition_cnt, "PARTITION", "LEADER", "REPLICAS", "ISR", "LOW", "HIGH",
               "MESSAGES");
    int64_t total = 0;
    int rc = 0;
    for (int i = 0; i < t->partition_cnt && !rc; i++) {
        int64_t count = describe_partition(c, &parts[i], list);
        if (count < 0) rc = 1;
        total += count;
    }
    if (!rc && c->json) {
        json_t *doc = json_pack("{s:s, s:o, s:I}", "name", c->name, "partitions", list, "messages",
                                (json_int_t)total);
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
    } else {
        json_decref(list);
        if (!rc) printf("total messages %lld\n", (long long)total);
    }
    free(parts);
    rd_kafka_metadata_destroy(md);
    return rc;
}

static const struct {
    const char *name;
    int (*fn)(topics_cmd_t *c);
    int wants_name;
} subs[] = {
    {"list", topics_list, 0},
    {"create", topics_create, 1},
    {"describe", topics_describe, 1},
};

static int run(topics_cmd_t *c, int (*fn)(topics_cmd_t *c)) {
    char err[600];
    c->timeout_ms = (int)hs_config_int(c->cfg, "kafka.timeout_ms");
    rd_kafka_conf_t *conf = hs_kafka_conf_new(c->cfg, err, sizeof err);
    c->rk = conf ? hs_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err) : NULL;
    if (!c->rk) {
        fprintf(stderr, "hookstream topics: config: %s\n", err);
        return 2;
    }
    int rc = hs_kafka_check(c->rk, c->timeout_ms, err, sizeof err) ? fail(err) : fn(c);
    rd_kafka_destroy(c->rk);
    return rc;
}

int cmd_topics(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"partitions", required_argument, 0, 'p'},
                                         {"replication-factor", required_argument, 0, 'r'},
                                         {"control", required_argument, 0, 'U'},
                                         {"all", no_argument, 0, 'a'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    topics_cmd_t c = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:p:r:aj", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 'b':
            cli_set(&common, "kafka.brokers", optarg);
            break;
        case 'p':
            cli_set(&common, "kafka.partitions", optarg);
            break;
        case 'r':
            cli_set(&common, "kafka.replication_factor", optarg);
            break;
        case 'U':
            cli_set(&common, "broker.control_url", optarg);
            break;
        case 'a':
            c.all = 1;
            break;
        case 'j':
            c.json = 1;
            break;
        default:
            return cli_usage_error("topics");
        }
    }
    c.sub = optind < argc ? argv[optind++] : "list";
    c.name = optind < argc ? argv[optind++] : NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(subs[i].name, c.sub) != 0) continue;
        if (subs[i].wants_name != (c.name != NULL) || optind < argc) {
            fprintf(stderr, "hookstream topics %s: %s\n", c.sub,
                    subs[i].wants_name ? "expected one topic NAME" : "takes no arguments");
            return 2;
        }
        if (c.name && !hs_kafka_topic_name_ok(c.name)) {
            fprintf(stderr,
                    "hookstream topics: '%s' is not a topic name (1-249 characters of "
                    "[A-Za-z0-9._-])\n",
                    c.name);
            return 2;
        }
        c.cfg = cli_config_load(&common, "topics");
        int rc = run(&c, subs[i].fn);
        hs_config_destroy(c.cfg);
        return rc;
    }
    fprintf(stderr, "hookstream topics: '%s' is not a subcommand (list, create, describe)\n",
            c.sub);
    return 2;
}
