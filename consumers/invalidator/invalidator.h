/* `hookstream invalidator`: consumes the typed event topics and, for each event a rule maps to
 * cache tags (inv_rules.h), invalidates those tags in Redis for the event's tenant: bumps the
 * tag's generation, deletes the entries the cache proxies stored under it and tells every
 * proxy's L1 over pub/sub (hs_cachetag.h). An event's offset is stored only after Redis
 * confirmed all its tags; while Redis is down events wait in place (offsets held) and are
 * retried with backoff, so the invalidations replay once it is back. docs/cache.md. */
#ifndef INVALIDATOR_H
#define INVALIDATOR_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct invalidator invalidator_t;

/* Returns a new service (rules validated, metrics port listening, nothing consumed yet) or NULL
 * with errstr (a bad rule names its pattern and template). cfg borrowed for the service's
 * life. */
invalidator_t *invalidator_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);
/* The bound /metrics port. */
int invalidator_port(const invalidator_t *v);
/* Consumes until invalidator_stop; then stops fetching, lets in-flight events finish within the
 * shutdown deadline and commits what is done (unfinished events are consumed again later). */
hs_err_t invalidator_run(invalidator_t *v, char *errstr, size_t errstr_size);
/* Asks invalidator_run to return; safe from any thread. */
void invalidator_stop(invalidator_t *v);
/* Frees v (NULL: no-op); after invalidator_run returned, or instead of it. */
void invalidator_destroy(invalidator_t *v);

#endif
