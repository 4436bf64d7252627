/* `hookstream deliver`: outbound webhook delivery. Consumes the typed event topics on the
 * consumer runtime, POSTs every event to each subscribed endpoint as a signed Standard Webhooks
 * message (libcurl multi), retries through the runtime's retry tiers on each endpoint's policy,
 * dead-letters after the last attempt, guards endpoints with a circuit breaker, token bucket
 * and bulkhead, logs every attempt in Postgres, runs replays, and serves the admin API. */
#ifndef DELIVER_H
#define DELIVER_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct deliver deliver_t;

/* Returns a new service (store opened and migrated, admin API listening, nothing consumed yet)
 * or NULL with errstr. cfg borrowed for the service's life. */
deliver_t *deliver_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);
/* The bound admin/metrics port. */
int deliver_port(const deliver_t *d);
/* Consumes and delivers until deliver_stop, then shuts down gracefully. */
hs_err_t deliver_run(deliver_t *d, char *errstr, size_t errstr_size);
/* Asks deliver_run to return; safe from any thread. */
void deliver_stop(deliver_t *d);
void deliver_destroy(deliver_t *d);

#endif
