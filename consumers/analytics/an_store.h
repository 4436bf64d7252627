/* The Postgres side of analytics: one connection (re-established after a failure), the
 * migrations at start, the group's stored offsets, and the flush: offsets, minute and hour
 * windows and low-stock levels in ONE transaction, so a flush is either wholly visible with the
 * offsets it moved or not at all (exactly once in effect: after a crash the group resumes at
 * the stored offsets, which match the stored windows).
 * @locality: the consumer thread. */
#ifndef AN_STORE_H
#define AN_STORE_H

#include <stddef.h>

#include "an_agg.h"
#include "an_sql.h"
#include "hs_err.h"

typedef struct an_store an_store_t;

/* Returns a new store connected to dsn with migrations applied, or NULL with errstr. The DSN is
 * copied; a failed statement later drops the connection and the next call reconnects. */
an_store_t *an_store_new(const char *dsn, int connect_timeout_s, char *errstr, size_t errstr_size);
void an_store_destroy(an_store_t *s);
/* Fills offs[i].expected with the stored next offset of group for offs[i].topic/partition, -1
 * where none is stored. HS_ERR_UNAVAILABLE when Postgres cannot answer. */
hs_err_t an_store_offsets(an_store_t *s, const char *group, an_offset_t *offs, size_t n,
                          char *errstr, size_t errstr_size);
/* Writes agg and moves the n offsets in one transaction. HS_ERR_CONFLICT (nothing written): an
 * offset was not at its expected value any more (another member of the group committed it).
 * HS_ERR_UNAVAILABLE (nothing written): Postgres failed; try again later. */
hs_err_t an_store_flush(an_store_t *s, const char *group, const an_agg_t *agg,
                        const an_offset_t *offs, size_t n, char *errstr, size_t errstr_size);

#endif
