/* The webhook front door (`hookstream ingest`): POST /webhooks/{source}[/{tenant}] is checked
 * (size, source, method, content type, signature, rate limit, duplicate), the raw body goes to
 * hs.inbox.<source> and each typed event to its catalog topic, and the provider gets 2xx only
 * after the broker acknowledged every record (503 + Retry-After when it does not in time).
 * Requests wait suspended, not on a thread; delivery reports answer them. */
#ifndef HS_INGEST_H
#define HS_INGEST_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"
#include "ingest_sources.h"

typedef struct hs_ingest hs_ingest_t;

/* Builds and starts the service from cfg (ingest.*, kafka.*, registry, redis.*): connects the
 * producer (the broker must answer), registers every catalog schema, makes sure each source's
 * inbox topic exists, then listens on ingest.listen. sources and cfg are borrowed and must
 * outlive the service. NULL with errstr when anything fails. */
hs_ingest_t *hs_ingest_new(const hs_config_t *cfg, const hs_ingest_sources_t *sources, char *errstr,
                           size_t errstr_size);

/* Returns the bound HTTP port. */
int hs_ingest_port(const hs_ingest_t *ing);

/* Graceful stop: refuses new requests (503), answers every request in flight once its
 * delivery reports arrive, flushes the producer and frees. NULL: no-op. */
void hs_ingest_destroy(hs_ingest_t *ing);

#endif
