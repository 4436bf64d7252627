/* hookstream consume: read topics as decoded JSON lines, from an offset, a time or a duration
 * ago, with or without a consumer group. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "hs_avro.h"
#include "hs_envelope.h"
#include "hs_kafka.h"
#include "hs_registry.h"
#include "hs_wire.h"

#define MAX_TOPICS 64
#define MAX_SCHEMAS 256
#define UNIX_MS_MIN 100000000000LL /* integers from here up are times (ms, 1973+), not offsets */

static const char usage[] =
    "usage: hookstream consume TOPIC... [options]\n\n"
    "Prints each message as one JSON line: topic, partition, offset, timestamp (ms), key,\n"
    "headers, type (ce_type), schema_id and value (Avro decoded with the schema the registry has\n"
    "for the message's schema id). A value not in the Confluent wire format is printed as JSON,\n"
    "a string or base64, with \"value_format\". A message that cannot be decoded carries\n"
    "\"error\" and consuming goes on. TOPIC may be a regular expression starting with ^, like\n"
    "'^hs\\.events\\..*'.\n\n"
    "options:\n"
    "  -g, --group G          consume as member of group G: offsets are committed after each\n"
    "                         printed message; --from applies where G has no committed offset,\n"
    "                         --from OFFSET|TIME and --since move every newly assigned partition\n"
    "      --from POS         beginning | end | OFFSET | TIME: RFC 3339 (2024-05-01T12:00:00Z)\n"
    "                         or unix milliseconds (default: beginning; with --group: end for\n"
    "                         partitions the group has no committed offset for)\n"
    "      --since DURATION   start at the first message of the last DURATION: 30s, 10m, 2h, 1d\n"
    "  -p, --partition P      only partition P (without --group)\n"
    "  -n, --count N          exit after N messages\n"
    "  -e, --exit-at-end      exit once every partition is read to its end\n"
    "      --raw              do not decode Avro: print values as JSON, string or base64\n"
    "      --timeout-ms MS    exit when no message arrived for MS milliseconds\n"
    "  -b, --brokers LIST     bootstrap servers (kafka.brokers)\n"
    "      --registry URL     schema registry (registry.url; empty: the Postgres "
    "catalog)\n" CLI_COMMON_HELP;

typedef enum { POS_BEGINNING, POS_END, POS_OFFSET, POS_TIME } pos_kind_t;

typedef struct {
    char topic[256];
    int32_t partition;
    int assigned, at_end, positioned;
} part_t;

typedef struct {
    int32_t id;
    hs_avro_schema_t *schema; /* NULL: err says why */
    char err[600];
} schema_entry_t;

typedef struct {
    char *topics[MAX_TOPICS];
    int ntopics;
    const char *group, *from, *since;
    long partition, count, idle_ms;
    int exit_at_end, raw;
    pos_kind_t pos;
    int64_t pos_value; /* offset or unix ms */
    hs_config_t *cfg;
    rd_kafka_t *rk;
    int timeout_ms;
    part_t *parts;
    size_t nparts, capparts;
    hs_registry_t *reg;
    char reg_err[300];
    schema_entry_t schemas[MAX_SCHEMAS];
    int nschemas;
    long printed;
    int failed;
} consume_t;

/* Prints "hookstream consume: MSG" on stderr; returns ret, so failures read return say(...). */
static int say(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int ret, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hookstream consume: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return ret;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig) {
    stopping = sig;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- positions ---------------------------------------------------------------------------- */

/* "30s", "10m", "2h", "1d", "500ms" → milliseconds; -1 when malformed. */
static int64_t parse_duration(const char *s) {
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0 || v > 100LL * 365 * 86400) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].unit)) return (int64_t)v * units[i].ms;
    return -1;
}

/* Sets c->pos from --from / --since; returns 0 or prints why and returns -1. */
static int parse_position(consume_t *c) {
    if (c->from && c->since) return say(-1, "give --from or --since, not both");
    c->pos = c->group ? POS_END : POS_BEGINNING;
    if (c->since) {
        int64_t d = parse_duration(c->since);
        if (d < 0)
            return say(-1, "--since '%s': expected a duration like 30s, 10m, 2h, 1d", c->since);
        c->pos = POS_TIME;
        c->pos_value = now_ms() - d;
        return 0;
    }
    if (!c->from) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(c->from, &end, 10);
    if (!strcmp(c->from, "beginning")) {
        c->pos = POS_BEGINNING;
    } else if (!strcmp(c->from, "end")) {
        c->pos = POS_END;
    } else if (!errno && end != c->from && !*end && v >= 0) {
        c->pos = v >= UNIX_MS_MIN ? POS_TIME : POS_OFFSET;
        c->pos_value = v;
    } else if ((c->pos_value = hs_envelope_time_ms(c->from)) >= 0) {
        c->pos = POS_TIME;
    } else {
        return say(-1,
                   "--from '%s': expected beginning, end, an offset, an RFC 3339 time or unix "
                   "milliseconds",
                   c->from);
    }
    return 0;
}

/* The start offset of one partition for c->pos (a logical offset for beginning/end). */
static int start_offset(consume_t *c, const char *topic, int32_t partition, int64_t *offset) {
    char err[600];
    switch (c->pos) {
    case POS_BEGINNING:
        *offset = RD_KAFKA_OFFSET_BEGINNING;
        return 0;
    case POS_END:
        *offset = RD_KAFKA_OFFSET_END;
        return 0;
    case POS_OFFSET:
        *offset = c->pos_value;
        return 0;
    case POS_TIME:
        break;
    }
    if (hs_kafka_offset_for_time(c->rk, topic, partition, c->pos_value, offset, c->timeout_ms, err,
                                 sizeof err)) {
        return say(-1, "%s", err);
    }
    return 0;
}

/* ---- partitions --------------------------------------------------------------------------- */

static part_t *part_get(consume_t *c, const char *topic, int32_t partition) {
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].partition == partition && !strcmp(c->parts[i].topic, topic))
            return &c->parts[i];
    if (c->nparts == c->capparts) {
        size_t cap = c->capparts ? c->capparts * 2 : 64;
        part_t *p = realloc(c->parts, cap * sizeof *p);
        if (!p) abort();
        c->parts = p;
        c->capparts = cap;
    }
    part_t *p = &c->parts[c->nparts++];
    memset(p, 0, sizeof *p);
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    return p;
}

static int all_at_end(const consume_t *c) {
    int any = 0;
    for (size_t i = 0; i < c->nparts; i++) {
        if (!c->parts[i].assigned) continue;
        if (!c->parts[i].at_end) return 0;
        any = 1;
    }
    return any;
}

static int topic_matches(const consume_t *c, const char *topic, int *matched) {
    for (int i = 0; i < c->ntopics; i++) {
        const char *t = c->topics[i];
        if (t[0] != '^') {
            if (!strcmp(t, topic)) return matched[i] = 1;
            continue;
        }
        regex_t re;
        if (regcomp(&re, t, REG_EXTENDED | REG_NOSUB)) continue;
        int hit = regexec(&re, topic, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit) return matched[i] = 1;
    }
    return 0;
}

/* Without a group: every partition of every matching topic, at its start position. */
static int assign_all(consume_t *c) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 1, NULL, &md, c->timeout_ms);
    if (err)
        return say(-1, "kafka at %s: metadata: %s", hs_kafka_brokers(c->rk), rd_kafka_err2str(err));
    int matched[MAX_TOPICS] = {0}, rc = 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topic_cnt && !rc; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (t->err || !topic_matches(c, t->topic, matched)) continue;
        for (int j = 0; j < t->partition_cnt && !rc; j++) {
            int32_t p = t->partitions[j].id;
            if (c->partition >= 0 && p != c->partition) continue;
            int64_t off;
            rc = start_offset(c, t->topic, p, &off);
            rd_kafka_topic_partition_list_add(list, t->topic, p)->offset = off;
            part_get(c, t->topic, p)->assigned = 1;
        }
    }
    rd_kafka_metadata_destroy(md);
    for (int i = 0; i < c->ntopics && !rc; i++)
        if (c->topics[i][0] != '^' && !matched[i])
            rc = say(-1, "topic '%s' does not exist", c->topics[i]);
    if (!rc && list->cnt == 0)
        rc = say(-1, "no partition matches%s", c->partition >= 0 ? " --partition" : " the topics");
    if (!rc && (err = rd_kafka_assign(c->rk, list)))
        rc = say(-1, "assign: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* With a group: newly assigned partitions start at --from OFFSET|TIME / --since once; beginning
 * and end are left to auto.offset.reset so committed offsets win. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    consume_t *c = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        part_t *p = part_get(c, tp->topic, tp->partition);
        p->assigned = assign;
        p->at_end = 0;
        if (!assign || p->positioned) continue;
        p->positioned = 1;
        int64_t off;
        if ((c->pos == POS_OFFSET || c->pos == POS_TIME) &&
            !start_offset(c, tp->topic, tp->partition, &off))
            tp->offset = off;
    }
    rd_kafka_error_t *e = NULL;
    if (cooperative)
        e = assign ? rd_kafka_incremental_assign(rk, parts)
                   : rd_kafka_incremental_unassign(rk, parts);
    else
        rd_kafka_assign(rk, assign ? parts : NULL);
    if (e) {
        fprintf(stderr, "hookstream consume: rebalance: %s\n", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* ---- output ------------------------------------------------------------------------------- */

static json_t *base64(const void *data, size_t len) {
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    json_t *s = json_string(out);
    free(out);
    return s;
}

/* Bytes as a JSON string when they are UTF-8 without NUL, else base64; *format says which. */
static json_t *text_or_base64(const void *data, size_t len, const char **format) {
    json_t *s = memchr(data, 0, len) ? NULL : json_stringn(data, len);
    *format = s ? "string" : "base64";
    return s ? s : base64(data, len);
}

static json_t *plain_value(const void *data, size_t len, const char **format) {
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (v) {
        *format = "json";
        return v;
    }
    return text_or_base64(data, len, format);
}

static const schema_entry_t *schema_for(consume_t *c, int32_t id) {
    for (int i = 0; i < c->nschemas; i++)
        if (c->schemas[i].id == id) return &c->schemas[i];
    static schema_entry_t overflow; /* past MAX_SCHEMAS: reused, parsed again each time */
    schema_entry_t *e = c->nschemas < MAX_SCHEMAS ? &c->schemas[c->nschemas++] : &overflow;
    hs_avro_schema_destroy(e->schema);
    memset(e, 0, sizeof *e);
    e->id = id;
    if (!c->reg && !c->reg_err[0]) {
        char err[280];
        c->reg = hs_registry_new(c->cfg, err, sizeof err);
        if (!c->reg) snprintf(c->reg_err, sizeof c->reg_err, "registry: %s", err);
    }
    const char *text = NULL;
    char err[512];
    if (!c->reg)
        snprintf(e->err, sizeof e->err, "%s", c->reg_err);
    else if (hs_registry_schema(c->reg, id, &text, err, sizeof err))
        snprintf(e->err, sizeof e->err, "schema %d: %s", (int)id, err);
    else if (!(e->schema = hs_avro_schema_parse(text, err, sizeof err)))
        snprintf(e->err, sizeof e->err, "schema %d: %s", (int)id, err);
    return e;
}

/* Adds schema_id and value (or error) for a wire-format value, else value and value_format. */
static void add_value(consume_t *c, json_t *line, const rd_kafka_message_t *m) {
    int32_t id;
    const void *body;
    size_t blen;
    const char *format;
    if (!m->payload) {
        json_object_set_new(line, "value", json_null());
        return;
    }
    if (c->raw || hs_wire_parse(m->payload, m->len, &id, &body, &blen, NULL, 0)) {
        json_object_set_new(line, "value", plain_value(m->payload, m->len, &format));
        json_object_set_new(line, "value_format", json_string(format));
        return;
    }
    json_object_set_new(line, "schema_id", json_integer(id));
    const schema_entry_t *s = schema_for(c, id);
    json_t *value = NULL;
    char err[600];
    if (!s->schema)
        snprintf(err, sizeof err, "%s", s->err);
    else if (hs_avro_decode_json(s->schema, body, blen, &value, err, sizeof err))
        value = NULL;
    json_object_set_new(line, "value", value ? value : json_null());
    if (!value) json_object_set_new(line, "error", json_string(err));
}

static json_t *headers_json(const rd_kafka_message_t *m, json_t **type) {
    json_t *obj = json_object();
    rd_kafka_headers_t *hdrs = NULL;
    *type = json_null();
    if (rd_kafka_message_headers(m, &hdrs)) return obj;
    const char *name;
    const void *val;
    size_t size;
    const char *format;
    for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
        json_t *v = val ? text_or_base64(val, size, &format) : json_null();
        if (!strcmp(name, "ce_type") && json_is_string(v)) {
            json_decref(*type);
            *type = json_incref(v);
        }
        json_object_set_new(obj, name, v);
    }
    return obj;
}

static void print_message(consume_t *c, const rd_kafka_message_t *m) {
    const char *format;
    json_t *type, *headers = headers_json(m, &type);
    json_t *line =
        json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "topic", rd_kafka_topic_name(m->rkt),
                  "partition", m->partition, "offset", (json_int_t)m->offset, "timestamp",
                  (json_int_t)rd_kafka_message_timestamp(m, NULL), "key",
                  m->key ? text_or_base64(m->key, m->key_len, &format) : json_null(), "headers",
                  headers, "type", type);
    add_value(c, line, m);
    json_dumpf(line, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    putchar('\n');
    fflush(stdout);
    json_decref(line);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Handles one poll result; returns 1 when consuming should stop. */
static int handle(consume_t *c, rd_kafka_message_t *m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        part_get(c, rd_kafka_topic_name(m->rkt), m->partition)->at_end = 1;
        return c->exit_at_end && all_at_end(c);
    }
    if (m->err) {
        fprintf(stderr, "hookstream consume: %s\n", rd_kafka_message_errstr(m));
        int fatal = m->err == RD_KAFKA_RESP_ERR__FATAL ||
                    m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
        c->failed |= fatal;
        return fatal;
    }
    print_message(c, m);
    part_get(c, rd_kafka_topic_name(m->rkt), m->partition)->at_end = 0;
    if (c->group) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
            m->offset + 1;
        rd_kafka_offsets_store(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
    return c->count >= 0 && ++c->printed >= c->count;
}

static int consume_loop(consume_t *c) {
    int64_t last = now_ms();
    while (!stopping) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (!m) {
            if (c->idle_ms > 0 && now_ms() - last >= c->idle_ms) break;
            continue;
        }
        if (!m->err) last = now_ms();
        int stop = handle(c, m);
        rd_kafka_message_destroy(m);
        if (stop) break;
    }
    return c->failed;
}

static int subscribe(consume_t *c) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(c->ntopics);
    for (int i = 0; i < c->ntopics; i++)
        rd_kafka_topic_partition_list_add(list, c->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) fprintf(stderr, "hookstream consume: subscribe: %s\n", rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Literal topic names must exist (a group would otherwise wait for them silently). */
static int topics_exist(consume_t *c) {
    char err[600];
    for (int i = 0; i < c->ntopics; i++) {
        int parts;
        if (c->topics[i][0] == '^') continue;
        if (hs_kafka_topic_partitions(c->rk, c->topics[i], &parts, c->timeout_ms, err, sizeof err))
            return say(-1, "%s", err);
    }
    return 0;
}

static int consume_run(consume_t *c) {
    char err[600];
    c->timeout_ms = (int)hs_config_int(c->cfg, "kafka.timeout_ms");
    rd_kafka_conf_t *conf = hs_kafka_consumer_conf(c->cfg, c->group, err, sizeof err);
    if (!conf) return say(2, "config: %s", err);
    const char *reset = c->pos == POS_END ? "latest" : "earliest";
    if (rd_kafka_conf_set(conf, "auto.offset.reset", reset, err, sizeof err) ||
        (c->exit_at_end &&
         rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err))) {
        rd_kafka_conf_destroy(conf);
        return say(2, "%s", err);
    }
    if (c->group) {
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_opaque(conf, c);
    }
    c->rk = hs_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!c->rk) return say(2, "%s", err);
    int rc = 1;
    if (hs_kafka_check(c->rk, c->timeout_ms, err, sizeof err))
        fprintf(stderr, "hookstream consume: %s\n", err);
    else if (!topics_exist(c) && !(c->group ? subscribe(c) : assign_all(c)))
        rc = consume_loop(c);
    rd_kafka_consumer_close(c->rk); /* commits the stored offsets and leaves the group */
    rd_kafka_destroy(c->rk);
    return rc;
}

static void consume_free(consume_t *c) {
    for (int i = 0; i < c->nschemas; i++)
        hs_avro_schema_destroy(c->schemas[i].schema);
    hs_registry_destroy(c->reg);
    free(c->parts);
}

static const struct option opts[] = {
    CLI_COMMON_OPTIONS,
    {"group", required_argument, 0, 'g'},
    {"from", required_argument, 0, 'F'},
    {"since", required_argument, 0, 'S'},
    {"partition", required_argument, 0, 'p'},
    {"count", required_argument, 0, 'n'},
    {"exit-at-end", no_argument, 0, 'e'},
    {"raw", no_argument, 0, 'r'},
    {"timeout-ms", required_argument, 0, 'T'},
    {"brokers", required_argument, 0, 'b'},
    {"registry", required_argument, 0, 'R'},
    {0, 0, 0, 0},
};

static int parse_args(consume_t *c, cli_common_t *common, int argc, char **argv) {
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "g:p:n:eb:", opts, NULL)) != -1) {
        if (cli_common_opt(common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'g':
            c->group = optarg;
            break;
        case 'F':
            c->from = optarg;
            break;
        case 'S':
            c->since = optarg;
            break;
        case 'p':
            c->partition = cli_parse_long("consume", "--partition", optarg);
            break;
        case 'n':
            c->count = cli_parse_long("consume", "--count", optarg);
            break;
        case 'e':
            c->exit_at_end = 1;
            break;
        case 'r':
            c->raw = 1;
            break;
        case 'T':
            c->idle_ms = cli_parse_long("consume", "--timeout-ms", optarg);
            break;
        case 'b':
            cli_set(common, "kafka.brokers", optarg);
            break;
        case 'R':
            cli_set(common, "registry.url", optarg);
            break;
        default:
            return cli_usage_error("consume");
        }
    }
    for (; optind < argc; optind++) {
        regex_t re;
        const char *t = argv[optind];
        if (c->ntopics == MAX_TOPICS) return say(2, "too many topics");
        if (t[0] == '^' ? regcomp(&re, t, REG_EXTENDED | REG_NOSUB) != 0
                        : !hs_kafka_topic_name_ok(t))
            return say(2, "'%s' is not a topic name or a ^regex", t);
        if (t[0] == '^') regfree(&re);
        c->topics[c->ntopics++] = argv[optind];
    }
    if (c->ntopics == 0) return say(2, "give at least one TOPIC");
    if (c->group && c->partition >= 0) return say(2, "--partition works without --group only");
    if ((c->group && !c->group[0]) || parse_position(c)) return 2;
    return -1;
}

int cmd_consume(int argc, char **argv) {
    cli_common_t common = {0};
    consume_t *c = calloc(1, sizeof *c);
    c->partition = -1;
    c->count = -1;
    int rc = parse_args(c, &common, argc, argv);
    if (rc >= 0) {
        free(c);
        return rc;
    }
    c->cfg = cli_config_load(&common, "consume");
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = consume_run(c);
    consume_free(c);
    hs_config_destroy(c->cfg);
    free(c);
    return rc;
}
