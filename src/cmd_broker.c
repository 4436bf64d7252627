/* hookstream broker: librdkafka's mock cluster as a standalone Kafka-protocol broker on loopback,
 * with hookstream's topics created, its address on stdout and in a file, and a control API. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_control.h"
#include "cli.h"
#include "commands.h"
#include "hs_catalog.h"
#include "hs_kafka.h"
#include "hs_log.h"

#define MAX_TOPICS 256
#define MAX_PARTITIONS 1000

static const char usage[] =
    "usage: hookstream broker [options]\n\n"
    "Runs librdkafka's mock cluster as a Kafka-protocol broker on loopback (in memory; see\n"
    "docs/broker.md for its limits). Creates hs.events.<domain> for every event domain,\n"
    "hs.audit, hs.flags and the topics asked for, prints the bootstrap address as the first\n"
    "line and \"control http://HOST:PORT\" (the control API) as the second, writes the\n"
    "bootstrap address to the bootstrap file, and runs until SIGTERM or SIGINT (then removes\n"
    "the file and exits 0).\n\n"
    "options:\n"
    "  -b, --brokers N          brokers in the cluster, 1..9 (broker.count)\n"
    "  -t, --topic NAME[:N]     also create topic NAME with N partitions (repeatable)\n"
    "  -p, --partitions N       partitions of every topic created without :N (kafka.partitions)\n"
    "  -f, --bootstrap-file F   file to write the bootstrap address to (broker.bootstrap_file;\n"
    "                           empty: none)\n"
    "      --control ADDR       control API listen address host:port, port 0 = any free port\n"
    "                           (broker.control_listen)\n" CLI_COMMON_HELP;

typedef struct {
    char name[250];
    int partitions;
} topic_spec_t;

typedef struct {
    topic_spec_t items[MAX_TOPICS];
    int n;
} topics_t;

static void topics_put(topics_t *t, const char *name, int partitions) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].name, name)) {
            t->items[i].partitions = partitions; /* named again: the later count wins */
            return;
        }
    if (t->n == MAX_TOPICS) return;
    snprintf(t->items[t->n].name, sizeof t->items[t->n].name, "%s", name);
    t->items[t->n++].partitions = partitions;
}

/* Adds "NAME[:N]" (len bytes of spec); returns 0, or -1 with why. */
static int topic_spec_add(topics_t *t, const char *spec, size_t len, int def, char *why, size_t n) {
    char buf[300];
    if (len >= sizeof buf) return snprintf(why, n, "'%.40s...': name too long", spec), -1;
    memcpy(buf, spec, len);
    buf[len] = 0;
    char *colon = strchr(buf, ':');
    long parts = def;
    if (colon) {
        *colon = 0;
        char *end;
        errno = 0;
        parts = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || parts < 1 || parts > MAX_PARTITIONS)
            return snprintf(why, n, "'%s:%s': partitions must be 1..%d", buf, colon + 1,
                            MAX_PARTITIONS),
                   -1;
    }
    if (!hs_kafka_topic_name_ok(buf))
        return snprintf(why, n, "'%s': a topic name is 1-249 characters of [A-Za-z0-9._-]", buf),
               -1;
    if (t->n == MAX_TOPICS) return snprintf(why, n, "more than %d topics", MAX_TOPICS), -1;
    topics_put(t, buf, (int)parts);
    return 0;
}

/* hookstream's own topics, then broker.topics, then --topic flags. Exits 2 on a bad spec. */
static void topics_collect(topics_t *t, const hs_config_t *cfg, char **flags, int nflags) {
    int def = (int)hs_config_int(cfg, "kafka.partitions");
    char why[400];
    for (size_t i = 0; i < hs_catalog_count(); i++)
        topics_put(t, hs_catalog_at(i)->topic, def);
    topics_put(t, "hs.audit", def);
    topics_put(t, "hs.flags", def);
    const char *list = hs_config_str(cfg, "broker.topics");
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len && topic_spec_add(t, p, len, def, why, sizeof why)) {
            fprintf(stderr, "hookstream broker: config: %s: broker.topics: %s\n",
                    hs_config_origin(cfg, "broker.topics"), why);
            exit(2);
        }
        p += len + (p[len] == ',');
    }
    for (int i = 0; i < nflags; i++)
        if (topic_spec_add(t, flags[i], strlen(flags[i]), def, why, sizeof why)) {
            fprintf(stderr, "hookstream broker: --topic %s\n", why);
            exit(2);
        }
}

/* Creates every directory above path (like mkdir -p of its dirname). */
static void make_parents(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(dir, 0755);
        *p = '/';
    }
}

/* Writes line to path through a temporary file and rename, so a reader never sees half of it.
 * Prints why and returns -1 on failure. */
static int write_atomic(const char *path, const char *line) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        fprintf(stderr, "hookstream broker: bootstrap file %s: path too long\n", path);
        return -1;
    }
    make_parents(path);
    FILE *fp = fopen(tmp, "w");
    int ok = fp && fprintf(fp, "%s\n", line) > 0;
    ok = (fp && fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "hookstream broker: bootstrap file %s: %s\n", fp ? path : tmp,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Removes path if it still names this broker (a newer broker may have replaced it). */
static void remove_if_ours(const char *path, const char *bootstrap) {
    char line[1024] = "";
    FILE *fp = fopen(path, "r");
    if (!fp) return;
    if (!fgets(line, sizeof line, fp)) line[0] = 0;
    fclose(fp);
    line[strcspn(line, "\n")] = 0;
    if (!strcmp(line, bootstrap)) unlink(path);
}

/* "http://HOST:PORT" of the control server: the listen host, loopback when it is a wildcard. */
static void control_url(const char *listen, int port, char *out, size_t n) {
    const char *colon = strrchr(listen, ':');
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    if (hlen == 0 || !strncmp(listen, "0.0.0.0", hlen) || !strncmp(listen, "[::]", hlen))
        snprintf(out, n, "http://127.0.0.1:%d", port);
    else
        snprintf(out, n, "http://%.*s:%d", (int)hlen, listen, port);
}

typedef struct {
    rd_kafka_t *host; /* the handle the mock cluster lives in */
    broker_state_t st;
    hs_http_server_t *http;
    topics_t topics;
} broker_t;

static int broker_start(broker_t *b, const hs_config_t *cfg, char *err, size_t n) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, hs_kafka_log_cb);
    /* The host handle has no bootstrap servers on purpose; its notice about that is noise. */
    rd_kafka_conf_set(conf, "log_level", "4", err, n);
    b->host = hs_kafka_new(RD_KAFKA_PRODUCER, conf, err, n);
    if (!b->host) return -1;
    b->st.brokers = (int)hs_config_int(cfg, "broker.count");
    b->st.replication_factor = b->st.brokers < 3 ? b->st.brokers : 3;
    b->st.default_partitions = (int)hs_config_int(cfg, "kafka.partitions");
    b->st.mock = rd_kafka_mock_cluster_new(b->host, b->st.brokers);
    if (!b->st.mock) return snprintf(err, n, "cannot start the mock cluster"), -1;
    for (int i = 0; i < b->topics.n; i++) {
        rd_kafka_resp_err_t e =
            broker_topic_create(&b->st, b->topics.items[i].name, b->topics.items[i].partitions);
        if (e)
            return snprintf(err, n, "topic %s: %s", b->topics.items[i].name, rd_kafka_err2str(e)),
                   -1;
    }
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, hs_kafka_log_cb);
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(b->st.mock), err,
                      n);
    b->st.client = hs_kafka_new(RD_KAFKA_PRODUCER, conf, err, n);
    if (!b->st.client) return -1;
    b->http =
        broker_control_start(&b->st, cfg, hs_config_str(cfg, "broker.control_listen"), err, n);
    return b->http ? 0 : -1;
}

static void broker_stop(broker_t *b) {
    hs_http_server_destroy(b->http);
    if (b->st.client) rd_kafka_destroy(b->st.client);
    if (b->st.mock) rd_kafka_mock_cluster_destroy(b->st.mock);
    if (b->host) rd_kafka_destroy(b->host);
}

static int broker_run(const hs_config_t *cfg, broker_t *b) {
    char err[512], url[300];
    /* Block the stop signals before any thread starts, so every thread inherits the mask and
     * sigwait below is the one place they arrive. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (broker_start(b, cfg, err, sizeof err)) {
        fprintf(stderr, "hookstream broker: %s\n", err);
        return 1;
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(b->st.mock);
    control_url(hs_config_str(cfg, "broker.control_listen"), hs_http_server_port(b->http), url,
                sizeof url);
    const char *file = hs_config_str(cfg, "broker.bootstrap_file");
    if (file[0] && write_atomic(file, bootstrap)) return 1;
    printf("%s\ncontrol %s\n", bootstrap, url);
    fflush(stdout);
    hs_log(HS_LOG_INFO, "broker ready", "{s:s, s:s, s:i, s:i, s:s}", "bootstrap", bootstrap,
           "control", url, "brokers", b->st.brokers, "topics", b->topics.n, "bootstrap_file", file);
    int sig = 0;
    sigwait(&stop, &sig);
    hs_log(HS_LOG_INFO, "broker stopping", "{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (file[0]) remove_if_ours(file, bootstrap);
    return 0;
}

int cmd_broker(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"topic", required_argument, 0, 't'},
                                         {"partitions", required_argument, 0, 'p'},
                                         {"bootstrap-file", required_argument, 0, 'f'},
                                         {"control", required_argument, 0, 'L'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    char *flags[MAX_TOPICS];
    int nflags = 0, opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:t:p:f:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 'b':
            cli_set(&common, "broker.count", optarg);
            break;
        case 'p':
            cli_set(&common, "kafka.partitions", optarg);
            break;
        case 'f':
            cli_set(&common, "broker.bootstrap_file", optarg);
            break;
        case 'L':
            cli_set(&common, "broker.control_listen", optarg);
            break;
        case 't':
            if (nflags == MAX_TOPICS) return cli_usage_error("broker");
            flags[nflags++] = optarg;
            break;
        default:
            return cli_usage_error("broker");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "broker");
    broker_t *b = calloc(1, sizeof *b);
    topics_collect(&b->topics, cfg, flags, nflags);
    int rc = broker_run(cfg, b);
    broker_stop(b);
    free(b);
    hs_config_destroy(cfg);
    if (rc == 0) hs_log(HS_LOG_INFO, "broker stopped", NULL);
    return rc;
}
