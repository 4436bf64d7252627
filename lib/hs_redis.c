/* Redis connection handle (see hs_redis.h): url parsing, lazy connect with backoff, argv
 * commands, scripts by SHA1, and waiting for pushed replies with poll(2). */
#include "hs_redis.h"

#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct hs_redis {
    char host[256];
    char addr[300]; /* "host:port" for messages */
    int port, db, timeout_ms;
    redisContext *rc;
    double retry_at; /* monotonic ms before which connecting is not tried again */
    int backoff_ms;  /* wait after the next failed connect */
    int up;
};

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* host part: "name" or "[v6]"; sets *rest to what follows it. */
static int parse_host(const char *p, char *host, size_t host_size, const char **rest) {
    size_t hlen;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close) return -1;
        hlen = (size_t)(close - p - 1);
        p++;
        *rest = close + 1;
    } else {
        hlen = strcspn(p, ":/");
        *rest = p + hlen;
    }
    if (hlen == 0 || hlen >= host_size) return -1;
    memcpy(host, p, hlen);
    host[hlen] = 0;
    return 0;
}

static int parse_num(const char *s, char stop, long lo, long hi, long *out, const char **end) {
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (e == s || errno || v < lo || v > hi || (*e && *e != stop)) return -1;
    *out = v;
    *end = e;
    return 0;
}

static int parse_url(hs_redis_t *r, const char *url) {
    if (!url || strncmp(url, "redis://", 8) != 0) return -1;
    const char *p = url + 8;
    if (strchr(p, '@')) return -1; /* credentials are not supported: refuse them */
    if (parse_host(p, r->host, sizeof r->host, &p)) return -1;
    long port = 6379, db = 0;
    if (*p == ':' && parse_num(p + 1, '/', 1, 65535, &port, &p)) return -1;
    if (*p == '/' && p[1] && parse_num(p + 1, 0, 0, 1000000, &db, &p)) return -1;
    if (*p && strcmp(p, "/") != 0) return -1;
    r->port = (int)port;
    r->db = (int)db;
    return 0;
}

hs_redis_t *hs_redis_new(const char *url, int timeout_ms, char *errstr, size_t errstr_size) {
    hs_redis_t *r = calloc(1, sizeof *r);
    if (!r) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    if (parse_url(r, url)) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                "redis url '%s' is not redis://HOST[:PORT][/DB] (no credentials)", url ? url : "");
        free(r);
        return NULL;
    }
    /* hiredis writes with write(2): a server gone away must be an error, not a SIGPIPE */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    r->backoff_ms = BACKOFF_MIN_MS;
    snprintf(r->addr, sizeof r->addr, strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host, r->port);
    return r;
}

void hs_redis_destroy(hs_redis_t *r) {
    if (!r) return;
    if (r->rc) redisFree(r->rc);
    free(r);
}

void hs_redis_disconnect(hs_redis_t *r) {
    if (r->rc) redisFree(r->rc);
    r->rc = NULL;
}

int hs_redis_up(const hs_redis_t *r) {
    return r->up;
}

const char *hs_redis_addr(const hs_redis_t *r) {
    return r->addr;
}

/* Drops the connection after an I/O error; the next call reconnects at once. */
static void io_failed(hs_redis_t *r, const char *what, char *errstr, size_t errstr_size) {
    hs_fail(HS_ERR_UNAVAILABLE, errstr, errstr_size, "redis %s: %s: %s", r->addr, what,
            r->rc && r->rc->errstr[0] ? r->rc->errstr : "connection lost");
    hs_redis_disconnect(r);
    r->up = 0;
}

static int select_db(hs_redis_t *r, char *errstr, size_t errstr_size) {
    char db[16];
    snprintf(db, sizeof db, "%d", r->db);
    redisReply *rep = redisCommand(r->rc, "SELECT %s", db);
    int ok = rep && rep->type == REDIS_REPLY_STATUS;
    if (!ok)
        hs_fail(HS_ERR_UNAVAILABLE, errstr, errstr_size, "redis %s: SELECT %d: %s", r->addr, r->db,
                rep ? rep->str : r->rc->errstr);
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* An idle connection with something to read was closed by the server (a restart, a timeout):
 * found before a command is sent, it is replaced instead of failing the command. */
static int closed_while_idle(const redisContext *c) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) != 0;
}

/* Returns 0 with r->rc connected, or -1 + errstr (backing off). */
static int ensure_conn(hs_redis_t *r, char *errstr, size_t errstr_size) {
    if (r->rc && closed_while_idle(r->rc)) hs_redis_disconnect(r);
    if (r->rc) return 0;
    double now = mono_ms();
    if (now < r->retry_at) {
        hs_fail(HS_ERR_UNAVAILABLE, errstr, errstr_size, "redis %s unavailable (next try in %d ms)",
                r->addr, (int)(r->retry_at - now + 0.5));
        r->up = 0;
        return -1;
    }
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    r->rc = redisConnectWithTimeout(r->host, r->port, tv);
    int ok = r->rc && !r->rc->err && redisSetTimeout(r->rc, tv) == REDIS_OK;
    if (!ok)
        hs_fail(HS_ERR_UNAVAILABLE, errstr, errstr_size, "redis %s: connect: %s", r->addr,
                r->rc ? r->rc->errstr : "out of memory");
    else if (r->db && select_db(r, errstr, errstr_size))
        ok = 0;
    if (ok) {
        r->backoff_ms = BACKOFF_MIN_MS;
        r->up = 1;
        return 0;
    }
    hs_redis_disconnect(r);
    r->up = 0;
    r->retry_at = now + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
    return -1;
}

redisReply *hs_redis_command(hs_redis_t *r, int argc, const char **argv, const size_t *argvlen,
                             char *errstr, size_t errstr_size) {
    if (ensure_conn(r, errstr, errstr_size)) return NULL;
    redisReply *rep = redisCommandArgv(r->rc, argc, argv, argvlen);
    if (!rep) {
        io_failed(r, argc > 0 ? argv[0] : "command", errstr, errstr_size);
        return NULL;
    }
    r->up = 1;
    return rep;
}

static void sha1_hex(const char *s, char hex[41]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(s, strlen(s), md, &len, EVP_sha1(), NULL);
    for (unsigned int i = 0; i < len && i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[40] = 0;
}

redisReply *hs_redis_eval(hs_redis_t *r, const char *script, int nkeys, int argc, const char **argv,
                          const size_t *argvlen, char *errstr, size_t errstr_size) {
    const char **av = malloc(((size_t)argc + 3) * sizeof *av);
    size_t *al = malloc(((size_t)argc + 3) * sizeof *al);
    if (!av || !al) {
        free(av);
        free(al);
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    }
    char sha[41], nk[16];
    sha1_hex(script, sha);
    snprintf(nk, sizeof nk, "%d", nkeys);
    av[0] = "EVALSHA", av[1] = sha, av[2] = nk;
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    for (int i = 0; i < 3; i++)
        al[i] = strlen(av[i]);
    redisReply *rep = hs_redis_command(r, argc + 3, av, al, errstr, errstr_size);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        av[0] = "EVAL", av[1] = script;
        al[0] = 4, al[1] = strlen(script);
        rep = hs_redis_command(r, argc + 3, av, al, errstr, errstr_size);
    }
    free(av);
    free(al);
    return rep;
}

hs_err_t hs_redis_wait(hs_redis_t *r, int wait_ms, redisReply **reply, char *errstr,
                       size_t errstr_size) {
    *reply = NULL;
    if (!r->rc)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, errstr_size, "redis %s: not connected", r->addr);
    void *rep = NULL;
    if (redisGetReplyFromReader(r->rc, &rep) != REDIS_OK) goto lost;
    if (!rep) {
        struct pollfd pfd = {.fd = r->rc->fd, .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno != EINTR) goto lost;
        if (n <= 0) return HS_OK;
        if (redisBufferRead(r->rc) != REDIS_OK) goto lost;
        if (redisGetReplyFromReader(r->rc, &rep) != REDIS_OK) goto lost;
    }
    *reply = rep;
    r->up = 1;
    return HS_OK;
lost:
    io_failed(r, "read", errstr, errstr_size);
    return HS_ERR_UNAVAILABLE;
}
