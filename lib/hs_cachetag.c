/* The cache's Redis data model (see hs_cachetag.h): key names, the store and invalidate Lua
 * scripts, and the invalidation message. */
#include "hs_cachetag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 512

/* KEYS[1] entry, KEYS[1+i] generation of tag i, KEYS[1+n+i] its tag set; ARGV[1] value,
 * ARGV[2] px, ARGV[3] n, ARGV[3+i] the generation read before the upstream call. */
static const char STORE_LUA[] =
    "local n = tonumber(ARGV[3])\n"
    "for i = 1, n do\n"
    "  if (redis.call('GET', KEYS[1 + i]) or '0') ~= ARGV[3 + i] then return 0 end\n"
    "end\n"
    "local px = tonumber(ARGV[2])\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', px)\n"
    "for i = 1, n do\n"
    "  local t = KEYS[1 + n + i]\n"
    "  redis.call('SADD', t, KEYS[1])\n"
    "  if redis.call('PTTL', t) < px then redis.call('PEXPIRE', t, px) end\n"
    "end\n"
    "return 1\n";

/* KEYS[1] generation, KEYS[2] tag set; ARGV channel, tenant, tag. Returns entries deleted. */
static const char INVALIDATE_LUA[] =
    "local gen = redis.call('INCR', KEYS[1])\n"
    "local n = 0\n"
    "for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do n = n + redis.call('DEL', k) end\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('PUBLISH', ARGV[1], ARGV[2] .. '\\t' .. ARGV[3] .. '\\t' .. gen)\n"
    "return n\n";

int hs_cachetag_tenant_ok(const char *tenant) {
    size_t n = 0;
    for (const char *p = tenant; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok) return 0;
    }
    return n <= HS_CACHETAG_TENANT_MAX;
}

int hs_cachetag_tag_ok(const char *tag) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)tag; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return n >= 1 && n <= HS_CACHETAG_TAG_MAX;
}

int hs_cachetag_key(char *out, size_t n, const char *prefix, hs_cachetag_kind_t kind,
                    const char *tenant, const char *name) {
    int len = snprintf(out, n, "%s%c:%s:%s", prefix, (char)kind, tenant, name);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

static hs_err_t check_names(const char *tenant, const char *tag, char *errstr, size_t errstr_size) {
    if (!hs_cachetag_tenant_ok(tenant))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "tenant '%.80s' is not up to %d characters of [A-Za-z0-9._-]", tenant,
                       HS_CACHETAG_TENANT_MAX);
    if (tag && !hs_cachetag_tag_ok(tag))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "tag '%.80s' is empty, longer than %d bytes or has control characters", tag,
                       HS_CACHETAG_TAG_MAX);
    return HS_OK;
}

/* Maps a NULL reply or an error reply to an error; HS_OK leaves the reply to the caller. */
static hs_err_t reply_err(redisReply *rep, const char *what, char *errstr, size_t errstr_size) {
    if (!rep) return HS_ERR_UNAVAILABLE; /* errstr filled by hs_redis */
    if (rep->type == REDIS_REPLY_ERROR)
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "redis %s: %s", what, rep->str);
    return HS_OK;
}

hs_err_t hs_cachetag_invalidate(hs_redis_t *r, const char *prefix, const char *channel,
                                const char *tenant, const char *tag, long long *deleted,
                                char *errstr, size_t errstr_size) {
    hs_err_t err = check_names(tenant, tag, errstr, errstr_size);
    if (err) return err;
    char g[KEY_MAX], t[KEY_MAX];
    if (hs_cachetag_key(g, sizeof g, prefix, HS_CACHETAG_GEN, tenant, tag) < 0 ||
        hs_cachetag_key(t, sizeof t, prefix, HS_CACHETAG_TAGSET, tenant, tag) < 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "cache key prefix is too long");
    const char *argv[] = {g, t, channel, tenant, tag};
    redisReply *rep = hs_redis_eval(r, INVALIDATE_LUA, 2, 5, argv, NULL, errstr, errstr_size);
    err = reply_err(rep, "invalidate", errstr, errstr_size);
    if (!err && rep->type != REDIS_REPLY_INTEGER)
        err = hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "redis invalidate: reply type %d",
                      rep->type);
    if (!err && deleted) *deleted = rep->integer;
    freeReplyObject(rep);
    return err;
}

static int parse_ll(const char *s, size_t len, long long *out) {
    char buf[32], *end;
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno || v < 0) return -1;
    *out = v;
    return 0;
}

hs_err_t hs_cachetag_generations(hs_redis_t *r, const char *prefix, const char *tenant,
                                 const char *const *tags, size_t ntags, long long *gens,
                                 char *errstr, size_t errstr_size) {
    if (ntags == 0) return HS_OK;
    if (ntags > HS_CACHETAG_MAX_TAGS)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "more than %d tags",
                       HS_CACHETAG_MAX_TAGS);
    char keys[HS_CACHETAG_MAX_TAGS][KEY_MAX];
    const char *argv[HS_CACHETAG_MAX_TAGS + 1] = {"MGET"};
    for (size_t i = 0; i < ntags; i++) {
        hs_err_t err = check_names(tenant, tags[i], errstr, errstr_size);
        if (err) return err;
        if (hs_cachetag_key(keys[i], KEY_MAX, prefix, HS_CACHETAG_GEN, tenant, tags[i]) < 0)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "cache key prefix is too long");
        argv[i + 1] = keys[i];
    }
    redisReply *rep = hs_redis_command(r, (int)ntags + 1, argv, NULL, errstr, errstr_size);
    hs_err_t err = reply_err(rep, "MGET", errstr, errstr_size);
    if (!err && (rep->type != REDIS_REPLY_ARRAY || rep->elements != ntags))
        err = hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "redis MGET: unexpected reply");
    for (size_t i = 0; !err && i < ntags; i++) {
        redisReply *e = rep->element[i];
        gens[i] = 0;
        if (e->type == REDIS_REPLY_STRING && parse_ll(e->str, e->len, &gens[i]))
            err = hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "generation of '%s' is '%.30s'",
                          tags[i], e->str);
    }
    freeReplyObject(rep);
    return err;
}

hs_err_t hs_cachetag_store(hs_redis_t *r, const char *prefix, const char *tenant, const char *key,
                           const void *value, size_t len, long long px_ms, const char *const *tags,
                           const long long *gens, size_t ntags, int *stored, char *errstr,
                           size_t errstr_size) {
    *stored = 0;
    if (ntags > HS_CACHETAG_MAX_TAGS)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "more than %d tags",
                       HS_CACHETAG_MAX_TAGS);
    enum { FIXED = 3 };
    char gkeys[HS_CACHETAG_MAX_TAGS][KEY_MAX], tkeys[HS_CACHETAG_MAX_TAGS][KEY_MAX];
    char gvals[HS_CACHETAG_MAX_TAGS][24], px[24], n[8];
    const char *argv[1 + 2 * HS_CACHETAG_MAX_TAGS + FIXED + HS_CACHETAG_MAX_TAGS];
    size_t argvlen[sizeof argv / sizeof *argv];
    size_t nk = 1 + 2 * ntags, i;
    argv[0] = key;
    for (i = 0; i < ntags; i++) {
        hs_err_t err = check_names(tenant, tags[i], errstr, errstr_size);
        if (err) return err;
        if (hs_cachetag_key(gkeys[i], KEY_MAX, prefix, HS_CACHETAG_GEN, tenant, tags[i]) < 0 ||
            hs_cachetag_key(tkeys[i], KEY_MAX, prefix, HS_CACHETAG_TAGSET, tenant, tags[i]) < 0)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "cache key prefix is too long");
        argv[1 + i] = gkeys[i];
        argv[1 + ntags + i] = tkeys[i];
        snprintf(gvals[i], sizeof gvals[i], "%lld", gens[i]);
        argv[nk + FIXED + i] = gvals[i];
    }
    snprintf(px, sizeof px, "%lld", px_ms > 0 ? px_ms : 1);
    snprintf(n, sizeof n, "%zu", ntags);
    argv[nk] = value, argv[nk + 1] = px, argv[nk + 2] = n;
    size_t argc = nk + FIXED + ntags;
    for (i = 0; i < argc; i++)
        argvlen[i] = i == nk ? len : strlen(argv[i]);
    redisReply *rep =
        hs_redis_eval(r, STORE_LUA, (int)nk, (int)argc, argv, argvlen, errstr, errstr_size);
    hs_err_t err = reply_err(rep, "store", errstr, errstr_size);
    if (!err && rep->type != REDIS_REPLY_INTEGER)
        err =
            hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "redis store: reply type %d", rep->type);
    if (!err) *stored = rep->integer == 1;
    freeReplyObject(rep);
    return err;
}

int hs_cachetag_parse_message(const char *msg, size_t len, char *tenant, char *tag,
                              long long *generation) {
    const char *t1 = memchr(msg, '\t', len);
    if (!t1) return -1;
    const char *t2 = memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - msg));
    if (!t2) return -1;
    size_t tlen = (size_t)(t1 - msg), glen = (size_t)(t2 - t1 - 1);
    if (tlen > HS_CACHETAG_TENANT_MAX || glen > HS_CACHETAG_TAG_MAX) return -1;
    memcpy(tenant, msg, tlen);
    tenant[tlen] = 0;
    memcpy(tag, t1 + 1, glen);
    tag[glen] = 0;
    if (memchr(tenant, 0, tlen) || memchr(tag, 0, glen)) return -1;
    if (!hs_cachetag_tenant_ok(tenant) || !hs_cachetag_tag_ok(tag)) return -1;
    return parse_ll(t2 + 1, len - (size_t)(t2 + 1 - msg), generation);
}
