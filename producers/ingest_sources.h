/* The webhook sources ingest serves: from the `sources:` section of the configuration (each a
 * name bound to a provider type, secrets, tenant and rate-limit tier) and from quick-start
 * `--source NAME=TYPE:SECRET` flags. Every source is checked with its provider's rules before
 * the service starts, so a typo is a start-up error naming FILE:LINE and the key. */
#ifndef HS_INGEST_SOURCES_H
#define HS_INGEST_SOURCES_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"
#include "hs_source.h"

#define HS_INGEST_MAX_SOURCES 256

typedef enum { HS_TIER_FREE, HS_TIER_PRO, HS_TIER_ENTERPRISE, HS_TIER_DEFAULT } hs_tier_t;

/* One source; every string is owned by the set and lives until hs_ingest_sources_destroy. */
typedef struct {
    const char *name;       /* route segment and hs.inbox.<name> */
    const hs_source_t *src; /* provider connector */
    hs_source_cfg_t cfg;    /* what the connector reads */
    hs_tier_t tier;         /* HS_TIER_DEFAULT: ingest.default_tier */
    const char *public_url; /* URL the provider calls (Twilio signs it); NULL when unset */
} hs_ingest_source_t;

typedef struct hs_ingest_sources hs_ingest_sources_t;

/* Returns an empty set (NULL when out of memory). Free with hs_ingest_sources_destroy. */
hs_ingest_sources_t *hs_ingest_sources_new(void);
void hs_ingest_sources_destroy(hs_ingest_sources_t *s);

/* Adds the sources of cfg's `sources:` section (none is fine). Errors read
 * "FILE:LINE: sources.NAME.KEY: reason" → HS_ERR_INVALID. */
hs_err_t hs_ingest_sources_load(hs_ingest_sources_t *s, const hs_config_t *cfg, char *errstr,
                                size_t errstr_size);

/* Adds one "NAME=TYPE:SECRET" quick-start source (tenant = NAME, default tier). Errors read
 * "--source 'x': reason" → HS_ERR_INVALID. */
hs_err_t hs_ingest_sources_add_spec(hs_ingest_sources_t *s, const char *spec, char *errstr,
                                    size_t errstr_size);

/* Returns the number of sources, the i-th (NULL past the end) or the one named name (NULL when
 * unknown). Borrowed from the set. */
size_t hs_ingest_sources_count(const hs_ingest_sources_t *s);
const hs_ingest_source_t *hs_ingest_sources_at(const hs_ingest_sources_t *s, size_t i);
const hs_ingest_source_t *hs_ingest_sources_find(const hs_ingest_sources_t *s, const char *name);

/* Parses "free" | "pro" | "enterprise"; returns -1 when it is none of them. */
int hs_tier_parse(const char *text);

#endif
