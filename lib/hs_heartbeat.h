/* Liveness of a consumer instance: the time of its last poll and its lag per partition, as
 * metrics every service exports the same way, and the /readyz check that fails when the
 * consumer has not polled for too long (a stuck dispatch loop, a handler that never returns).
 * The consumer runtime (hs_consumer) keeps one per consumer; services with their own poll loop
 * (analytics) use it directly.
 *
 * Metrics:
 *   hs_consumer_last_poll_timestamp_seconds{service,group,instance}  gauge, unix seconds
 *   hs_consumer_lag{service,group,topic,partition}                   gauge, messages
 * instance is "<hostname>:<pid>".
 * @locality: beat and lag from the polling thread; ready from any thread. */
#ifndef HS_HEARTBEAT_H
#define HS_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

typedef struct hs_heartbeat hs_heartbeat_t;

/* Returns a new heartbeat for service/group (strings copied); its first beat is now. */
hs_heartbeat_t *hs_heartbeat_new(const char *service, const char *group);
void hs_heartbeat_destroy(hs_heartbeat_t *hb);
/* Records a poll: call after every poll of the consumer, whether it returned a message or not. */
void hs_heartbeat_beat(hs_heartbeat_t *hb);
/* Sets the lag gauge of topic/partition (messages behind the partition's end; < 0: unknown,
 * the label set is left as it was). */
void hs_heartbeat_lag(hs_heartbeat_t *hb, const char *topic, int32_t partition, int64_t lag);
/* Returns 1 when the last beat is at most max_silence_ms old (<= 0: always 1); else 0 with
 * "consumer <group> has not polled for N ms" in why. Thread-safe. */
int hs_heartbeat_ready(const hs_heartbeat_t *hb, int64_t max_silence_ms, char *why,
                       size_t why_size);

#endif
