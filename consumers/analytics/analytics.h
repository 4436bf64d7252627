/* `hookstream analytics`: consumes the typed event topics in its own poll loop (not on
 * hs_consumer: its offsets live in Postgres, written in the same transaction as the windows they
 * account for, which makes every event count exactly once however the process dies), keeps
 * 1-minute and hourly windows per event type, source, tenant and currency, low-stock levels and
 * the business views of schemas/sql/006_analytics.sql, dead-letters malformed events, and serves
 * /metrics, /healthz and /readyz. docs/analytics.md says how it works. */
#ifndef ANALYTICS_H
#define ANALYTICS_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct analytics analytics_t;

/* Returns a new service (Postgres migrated, DLQ topic present, HTTP listening, nothing consumed
 * yet) or NULL with errstr. cfg borrowed for the service's life. */
analytics_t *analytics_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);
/* The bound HTTP port. */
int analytics_port(const analytics_t *a);
/* Consumes and aggregates until analytics_stop; then flushes what it holds (within
 * consumer.shutdown_deadline_ms), leaves the group and returns HS_OK. */
hs_err_t analytics_run(analytics_t *a, char *errstr, size_t errstr_size);
/* Asks analytics_run to return; safe from any thread. */
void analytics_stop(analytics_t *a);
void analytics_destroy(analytics_t *a);

#endif
