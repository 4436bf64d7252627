/* Consumer runtime every consumer service runs on: group membership (cooperative-sticky),
 * at-least-once processing with offsets stored only after a message's effect or its handoff to a
 * retry tier / DLQ topic, strict order per key and parallelism across keys inside a bounded
 * window per partition, delayed retry tiers (<group>.retry.<label>), <group>.dlq, graceful
 * shutdown within a deadline, and metrics. Semantics for service authors: docs/consumer.md. */
#ifndef HS_CONSUMER_H
#define HS_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct hs_consumer hs_consumer_t;
typedef struct hs_consumer_msg hs_consumer_msg_t; /* one message handed to the handler */

typedef enum { HS_CONSUMER_OK = 0, HS_CONSUMER_RETRY, HS_CONSUMER_FAIL } hs_consumer_verdict_t;

/* Called on the consumer's dispatch thread for each message whose key has no earlier message of
 * the same partition still in flight. Must not block long: start the work and return; call
 * hs_consumer_msg_done (from any thread) when finished. Synchronous handlers call it inline. */
typedef void (*hs_consumer_handler_fn)(hs_consumer_msg_t *m, void *opaque);

typedef struct {
    const char *service;       /* metrics/log label, e.g. "deliver" */
    const char *group;         /* group.id; also names the retry/DLQ topics */
    const char *const *topics; /* NULL-terminated; "^regex" entries allowed (librdkafka) */
    hs_consumer_handler_fn handler;
    void *opaque;
    int window;                    /* max in-flight messages per partition (0 = config) */
    const int64_t *retry_tiers_ms; /* ascending delays; topics <group>.retry.<label> */
    size_t n_retry_tiers;          /* 0 = config consumer.retry_tiers */
    int shutdown_deadline_ms;      /* 0 = config consumer.shutdown_deadline_ms */
    int keep_order;                /* 1: work unfinished at shutdown is not handed off; its
                                      offset stays uncommitted, so it is consumed again in key
                                      order after a restart (effects that must stay ordered) */
} hs_consumer_opts_t;

/* Most retry tiers a consumer has. */
#define HS_CONSUMER_MAX_TIERS 16
/* Most entries of a consumer's topic list. */
#define HS_CONSUMER_MAX_TOPICS 32

/* Splits spec, a comma-separated topic list ("hs.events.orders,^hs\.events\..*"), into
 * topics (room for HS_CONSUMER_MAX_TOPICS + 1; NULL-terminated; entries past the maximum are
 * ignored), copying the strings into buf (size bytes; a longer spec is cut). Returns the
 * number of topics. */
size_t hs_consumer_topics_split(const char *spec, char *buf, size_t size, const char **topics);

/* Returns a new consumer (creates missing retry/DLQ topics, joins nothing yet) or NULL with
 * errstr. cfg borrowed for the consumer's life; opts and the arrays it points to are copied. */
hs_consumer_t *hs_consumer_new(const hs_config_t *cfg, const hs_consumer_opts_t *opts, char *errstr,
                               size_t errstr_size);
/* Subscribes (main topics + its own retry tiers) and dispatches until hs_consumer_stop; then
 * shuts down gracefully (stop fetching, wait for in-flight work up to the deadline, hand the rest
 * to the first retry tier, store, commit, leave the group). Returns HS_OK after a clean shutdown.
 * Call once per consumer. */
hs_err_t hs_consumer_run(hs_consumer_t *c, char *errstr, size_t errstr_size);
/* Asks run() to shut down; safe from any thread and from a signal handler (only sets a flag the
 * dispatch loop checks at least every 100 ms). */
void hs_consumer_stop(hs_consumer_t *c);
/* Frees c (NULL: no-op). After run() returned; messages whose handler never called done are
 * freed here, so every handler must have stopped touching its messages. */
void hs_consumer_destroy(hs_consumer_t *c);
/* Returns 1 when the dispatch loop polled within consumer.max_poll_silence_ms (or the key is 0);
 * else 0 with the reason in why. For a service's /readyz; any thread. */
int hs_consumer_ready(const hs_consumer_t *c, char *why, size_t n);
/* The producer the runtime uses for handoffs (borrowed): services may use it for their own
 * records (audit etc.) instead of making a second one. Their records must carry msg_opaque NULL
 * (the default): their delivery reports are not handed to the service. */
rd_kafka_t *hs_consumer_producer(hs_consumer_t *c);
/* Thread-safe request that the consumer seek its assigned partition topic/partition to offset
 * (used by replay's --force control path); applied on the dispatch thread, in-flight messages of
 * that partition are dropped from the window (their done calls are ignored) and offset is stored
 * as the partition's next commit. HS_ERR_NOT_FOUND when the partition is not assigned. */
hs_err_t hs_consumer_seek(hs_consumer_t *c, const char *topic, int32_t partition, int64_t offset,
                          char *errstr, size_t errstr_size);

/* Message accessors (borrowed, valid until hs_consumer_msg_done). For a message that came back
 * from a retry tier, topic/partition/offset are the ORIGIN's (from the hs_origin_* headers) and
 * attempt counts up (1 for a first delivery). */
const char *hs_consumer_msg_topic(const hs_consumer_msg_t *m);
int32_t hs_consumer_msg_partition(const hs_consumer_msg_t *m);
int64_t hs_consumer_msg_offset(const hs_consumer_msg_t *m);
const void *hs_consumer_msg_key(const hs_consumer_msg_t *m, size_t *len);
const void *hs_consumer_msg_value(const hs_consumer_msg_t *m, size_t *len);
int64_t hs_consumer_msg_timestamp_ms(const hs_consumer_msg_t *m);
int hs_consumer_msg_attempt(const hs_consumer_msg_t *m);
/* Header value (last one with that name) NUL-terminated copy kept with m; NULL if absent. */
const char *hs_consumer_msg_header(const hs_consumer_msg_t *m, const char *name);
/* The rd_kafka headers of the message as received (borrowed), for services that copy them. */
rd_kafka_headers_t *hs_consumer_msg_headers(const hs_consumer_msg_t *m);

typedef struct {
    const char *name;
    const char *value;
} hs_consumer_kv_t;
/* Hands a COPY of m to a retry tier (RETRY, due after after_ms: the largest tier <= after_ms,
 * first tier if none; header hs_due_at = now + after_ms, hs_attempt = attempt + 1) or to
 * <group>.dlq (FAIL; headers hs_error_class, hs_error_message, hs_origin_*), adding/replacing
 * the given headers (e.g. which endpoint the retry is for). Any thread, before done. m counts as
 * finished only when done was called AND every handoff is acknowledged by the broker (a failed
 * produce is re-sent; the offset never passes an unacknowledged handoff). OK is ignored. */
void hs_consumer_msg_handoff(hs_consumer_msg_t *m, hs_consumer_verdict_t v, int64_t after_ms,
                             const char *error_class, const char *reason,
                             const hs_consumer_kv_t *headers, size_t nheaders);
/* Finishes m: OK = effect done; RETRY/FAIL = handoff of the whole message (as above, no extra
 * headers) then finish. Any thread. m must not be used afterwards. */
void hs_consumer_msg_done(hs_consumer_msg_t *m, hs_consumer_verdict_t v, int64_t after_ms,
                          const char *error_class, const char *reason);

/* ---- retry tiers -------------------------------------------------------------------------- */

/* Writes the tier label of ms into buf: the largest unit that divides it exactly, "500ms", "5s",
 * "5m", "2h". Returns buf. */
char *hs_consumer_tier_label(int64_t ms, char *buf, size_t size);
/* Parses "5s,5m,30m,2h" (units ms, s, m, h, d; strictly ascending, each > 0) into tiers_ms (at
 * most max entries); *n = count. Bad spec → HS_ERR_INVALID naming the bad entry. */
hs_err_t hs_consumer_tiers_parse(const char *spec, int64_t *tiers_ms, size_t max, size_t *n,
                                 char *errstr, size_t errstr_size);
/* Index of the tier a retry due after after_ms goes to: the largest tier <= after_ms, 0 if none. */
size_t hs_consumer_tier_pick(const int64_t *tiers_ms, size_t n, int64_t after_ms);

#endif
