/* Control messages to the running members of a consumer group, on the topic hs.control (key =
 * group, JSON value). Today one operation: seek, which `hookstream replay --group G --force`
 * sends so the members rewind themselves instead of being stopped first. Every instance of a
 * service follows the topic from its end and applies what is addressed to its group to the
 * partitions it owns. */
#ifndef HS_CONTROL_H
#define HS_CONTROL_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_err.h"

#define HS_CONTROL_TOPIC "hs.control"

typedef struct hs_control hs_control_t;

/* Called on the follower's thread for each partition of a seek addressed to the group. */
typedef void (*hs_control_seek_fn)(void *opaque, const char *topic, int32_t partition,
                                   int64_t offset);

/* Starts following hs.control (created when missing) from its end on a thread of its own.
 * Returns NULL with errstr when the broker cannot be reached. cfg borrowed for its life. */
hs_control_t *hs_control_follow(const hs_config_t *cfg, const char *group, hs_control_seek_fn fn,
                                void *opaque, char *errstr, size_t errstr_size);
/* Stops the thread and frees c; NULL is a no-op. */
void hs_control_destroy(hs_control_t *c);

/* Sends a seek of topic's partitions 0..n-1 to offsets[i] (negative: leave that partition) to
 * the members of group and waits for the broker's acknowledgement. */
hs_err_t hs_control_send_seek(rd_kafka_t *producer, const char *group, const char *topic,
                              const int64_t *offsets, int n, char *errstr, size_t errstr_size);

#endif
