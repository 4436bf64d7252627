/* A small hiredis wrapper: one Redis connection per handle, connected lazily, reconnected on
 * the next call after an I/O error, and backed off after a failed connect (100 ms doubling to
 * 5 s, failing fast meanwhile) so a caller that talks to Redis on every request stays fast
 * while Redis is down. Lua scripts run by SHA1 with a fallback to EVAL.
 * @locality: not thread-safe; a handle belongs to one thread at a time (caller locks or keeps
 * one handle per thread). The wrapper never logs: callers decide what an outage means. */
#ifndef HS_REDIS_H
#define HS_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "hs_err.h"

typedef struct hs_redis hs_redis_t;

/* url "redis://host:port[/db]" (host may be "[v6addr]"; port defaults to 6379, db to 0;
 * credentials refused); timeout_ms (<= 0: 1000) bounds connect and each command. Does not
 * connect yet. Sets SIGPIPE to ignored when it has the default action (hiredis writes with
 * write(2): a server gone away is an error, not a signal). Returns a new handle (free with
 * hs_redis_destroy), NULL + errstr on a bad url. */
hs_redis_t *hs_redis_new(const char *url, int timeout_ms, char *errstr, size_t errstr_size);
void hs_redis_destroy(hs_redis_t *r);

/* One command in argv form (binary safe; argvlen NULL = strlen). Connects/reconnects as needed;
 * after a failed connect it backs off (100 ms doubling to 5 s) and fails fast meanwhile with
 * "redis 127.0.0.1:6379 unavailable (next try in N ms)". Returns the reply (caller frees with
 * freeReplyObject) or NULL + errstr on an I/O error (the connection is dropped). An error reply
 * is returned as a reply. A connection the server closed while it sat idle (a Redis restart)
 * is noticed before sending and replaced, so the command still goes through. After SUBSCRIBE,
 * read with hs_redis_wait only. */
redisReply *hs_redis_command(hs_redis_t *r, int argc, const char **argv, const size_t *argvlen,
                             char *errstr, size_t errstr_size);

/* Runs a Lua script: EVALSHA of its SHA1, EVAL (which also loads it) on NOSCRIPT. argv = nkeys
 * keys then the args (argc in all). Returns like hs_redis_command. */
redisReply *hs_redis_eval(hs_redis_t *r, const char *script, int nkeys, int argc, const char **argv,
                          const size_t *argvlen, char *errstr, size_t errstr_size);

/* Waits up to wait_ms for one more reply the server pushes unasked (pub/sub messages after
 * SUBSCRIBE). HS_OK with *reply set (caller frees), HS_OK with *reply NULL when nothing came in
 * time, HS_ERR_UNAVAILABLE + errstr when the connection is gone (it is dropped; the next
 * hs_redis_command reconnects, so subscribe again). */
hs_err_t hs_redis_wait(hs_redis_t *r, int wait_ms, redisReply **reply, char *errstr,
                       size_t errstr_size);

/* Closes the connection now (e.g. to leave subscribed mode); the next command reconnects
 * without waiting for a backoff. */
void hs_redis_disconnect(hs_redis_t *r);

/* 1 when the last command or connect succeeded (0 before the first). */
int hs_redis_up(const hs_redis_t *r);

/* Returns "host:port" for log lines; borrowed, valid until hs_redis_destroy. */
const char *hs_redis_addr(const hs_redis_t *r);

#endif
