/* The Redis data model of the cache, shared by cache-proxy (stores, L1 invalidation) and the
 * invalidator (invalidates): key names, the tag generations, the guarded store script and the
 * invalidate script with its pub/sub message "<tenant>\t<tag>\t<generation>". With prefix P:
 *   P e:T:<fingerprint>  an entry (value format owned by the proxy), PX set by the proxy
 *   P t:T:<tag>          SET of the entry keys carrying the tag (expires after its entries)
 *   P g:T:<tag>          the tag's generation, INCR'd by every invalidation (absent = 0)
 * Stateless functions; the hs_redis_t handle passed in follows its own threading rule. */
#ifndef HS_CACHETAG_H
#define HS_CACHETAG_H

#include <stddef.h>

#include "hs_err.h"
#include "hs_redis.h"

#define HS_CACHETAG_PREFIX_DEFAULT "hs:cache:"
#define HS_CACHETAG_CHANNEL_DEFAULT "hs:cache:invalidate"
#define HS_CACHETAG_TENANT_MAX 64 /* bytes of a tenant name */
#define HS_CACHETAG_TAG_MAX 256   /* bytes of a tag */
#define HS_CACHETAG_MAX_TAGS 16   /* tags of one entry */

typedef enum {
    HS_CACHETAG_ENTRY = 'e',
    HS_CACHETAG_TAGSET = 't',
    HS_CACHETAG_GEN = 'g',
} hs_cachetag_kind_t;

/* Returns 1 when tenant can be part of a key and a message: at most HS_CACHETAG_TENANT_MAX
 * bytes of [A-Za-z0-9._-] ("" is the tenant of requests and events that name none). */
int hs_cachetag_tenant_ok(const char *tenant);

/* Returns 1 when tag is 1..HS_CACHETAG_TAG_MAX bytes without control characters. */
int hs_cachetag_tag_ok(const char *tag);

/* Writes "<prefix><kind>:<tenant>:<name>" into out (NUL-terminated); returns its length, or -1
 * when it does not fit in n bytes. name is a fingerprint (ENTRY) or a tag. */
int hs_cachetag_key(char *out, size_t n, const char *prefix, hs_cachetag_kind_t kind,
                    const char *tenant, const char *name);

/* Invalidates (tenant, tag) with one script: INCR its generation, DEL every entry in its tag
 * set and the set, PUBLISH "<tenant>\t<tag>\t<generation>" on channel. *deleted (may be NULL)
 * = entries deleted. HS_ERR_UNAVAILABLE on an I/O error, HS_ERR_INTERNAL on an error reply,
 * HS_ERR_INVALID on a bad tenant or tag (errstr says which). */
hs_err_t hs_cachetag_invalidate(hs_redis_t *r, const char *prefix, const char *channel,
                                const char *tenant, const char *tag, long long *deleted,
                                char *errstr, size_t errstr_size);

/* Reads the generations of ntags tags (MGET; absent = 0) into gens. Errors as above. */
hs_err_t hs_cachetag_generations(hs_redis_t *r, const char *prefix, const char *tenant,
                                 const char *const *tags, size_t ntags, long long *gens,
                                 char *errstr, size_t errstr_size);

/* Stores an entry unless an invalidation came first: the script compares every tag's current
 * generation with gens (read by hs_cachetag_generations before the upstream call) and only if
 * all are equal SETs key = value with PX px_ms and SADDs key into each tag set (whose expiry
 * it raises to px_ms when lower). *stored = 1 when stored, 0 when the guard refused. key is a
 * full entry key (hs_cachetag_key ENTRY). */
hs_err_t hs_cachetag_store(hs_redis_t *r, const char *prefix, const char *tenant, const char *key,
                           const void *value, size_t len, long long px_ms, const char *const *tags,
                           const long long *gens, size_t ntags, int *stored, char *errstr,
                           size_t errstr_size);

/* Parses a message of the channel into tenant (>= HS_CACHETAG_TENANT_MAX + 1 bytes), tag
 * (>= HS_CACHETAG_TAG_MAX + 1 bytes) and *generation; returns 0, or -1 when malformed. */
int hs_cachetag_parse_message(const char *msg, size_t len, char *tenant, char *tag,
                              long long *generation);

#endif
