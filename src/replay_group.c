/* `hookstream replay --group G --topic T --to-offset N | --to-time T | --by-duration D`:
 * rewinds (or forwards) a consumer group's committed offsets on one topic. The group must have
 * no active member: the command joins G itself, subscribed to every topic, and only commits when
 * it was given every partition of every topic (any other member would keep a share). With --force
 * it asks the running members to seek themselves through a control message on hs.control instead.
 */
#include "replay_group.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_control.h"
#include "hs_kafka.h"

#define JOIN_TIMEOUT_MS 30000

static int say(int rc, const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "hookstream replay: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return rc;
}

/* Fills target[p] for every partition: the offset to resume from. */
static hs_err_t targets(const hs_config_t *cfg, rd_kafka_t *rk, const replay_group_t *r, int parts,
                        int64_t *target, char *errstr, size_t n) {
    int timeout = (int)hs_config_int(cfg, "kafka.timeout_ms");
    for (int p = 0; p < parts; p++) {
        int64_t low, high;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, r->topic, p, &low, &high, timeout);
        if (e)
            return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "%s [%d]: %s", r->topic, p,
                           rd_kafka_err2str(e));
        if (r->to_time_ms < 0) {
            target[p] = r->to_offset < low ? low : r->to_offset > high ? high : r->to_offset;
            continue;
        }
        hs_err_t he = hs_kafka_offset_for_time(rk, r->topic, p, r->to_time_ms, &target[p], timeout,
                                               errstr, n);
        if (he) return he;
    }
    return HS_OK;
}

typedef struct {
    int assigned;
} probe_t;

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
    probe_t *pr = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_incremental_assign(rk, parts);
        pr->assigned += parts->cnt;
    } else {
        rd_kafka_incremental_unassign(rk, parts);
        pr->assigned -= parts->cnt;
    }
}

#define EVERY_TOPIC "^[^_].*" /* every topic but the broker's internal ones */

/* Counts the partitions of the topics EVERY_TOPIC matches. */
static int every_partition(rd_kafka_t *rk, int timeout_ms) {
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms)) return -1;
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (md->topics[i].topic[0] != '_' && !md->topics[i].err) n += md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

/* Joins the group subscribed to every topic; commits target when this member got every
 * partition, that is when no other member is active. */
static int commit_as_member(const hs_config_t *cfg, const replay_group_t *r, int parts,
                            const int64_t *target) {
    char err[512];
    probe_t pr = {0};
    rd_kafka_conf_t *conf = hs_kafka_consumer_conf(cfg, r->group, err, sizeof err);
    if (!conf) return say(1, "%s%s", err, "");
    rd_kafka_conf_set_rebalance_cb(conf, rebalance);
    rd_kafka_conf_set_opaque(conf, &pr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_t *rk = hs_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) return say(1, "%s%s", err, "");
    int all = every_partition(rk, (int)hs_config_int(cfg, "kafka.timeout_ms"));
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, EVERY_TOPIC, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) rd_kafka_message_destroy(m);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (pr.assigned == 0 &&
             (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < JOIN_TIMEOUT_MS);
    int rc = 0;
    if (all < 0 || pr.assigned < all) {
        char got[64];
        snprintf(got, sizeof got, "%d of %d", pr.assigned, all);
        rc = say(1,
                 "group %s has active members (joining it gave %s partitions): stop them "
                 "first, or use --force to have them seek themselves",
                 r->group, got);
    } else {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
            rd_kafka_topic_partition_list_add(list, r->topic, p)->offset = target[p];
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, list, 0);
        rd_kafka_topic_partition_list_destroy(list);
        if (e) rc = say(1, "commit: %s%s", rd_kafka_err2str(e), "");
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

int replay_group_run(const hs_config_t *cfg, const replay_group_t *r) {
    char err[600];
    rd_kafka_t *rk = hs_kafka_producer_new(cfg, NULL, err, sizeof err);
    if (!rk) return say(1, "%s%s", err, "");
    int parts = 0, rc = 0;
    int64_t *target = NULL;
    hs_err_t e = hs_kafka_topic_partitions(
        rk, r->topic, &parts, (int)hs_config_int(cfg, "kafka.timeout_ms"), err, sizeof err);
    if (!e && !(target = calloc((size_t)parts, sizeof *target)))
        e = hs_fail(HS_ERR_INTERNAL, err, sizeof err, "out of memory");
    if (!e) e = targets(cfg, rk, r, parts, target, err, sizeof err);
    if (e)
        rc = say(e == HS_ERR_NOT_FOUND ? 4 : 1, "%s%s", err, "");
    else if (r->force &&
             (e = hs_control_send_seek(rk, r->group, r->topic, target, parts, err, sizeof err)))
        rc = say(1, "%s%s", err, "");
    else if (!r->force)
        rc = commit_as_member(cfg, r, parts, target);
    for (int p = 0; !rc && p < parts; p++)
        printf("%s [%d] -> %" PRId64 "\n", r->topic, p, target[p]);
    if (!rc)
        printf(r->force ? "asked the members of %s to seek (hs.control)\n"
                        : "committed for %s: its members start there\n",
               r->group);
    free(target);
    rd_kafka_destroy(rk);
    return rc;
}
