/* hs_redis against real servers: commands on the stack's Redis (HS_REDIS_URL), scripts by SHA
 * with the NOSCRIPT fallback, pub/sub waits, and an outage of a private redis-server the test
 * starts and stops itself: I/O error, fail fast while backing off, recovery once it is back. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hs_redis.h"

static char err[512];

static hs_redis_t *stack_redis(void) {
    const char *url = getenv("HS_REDIS_URL");
    if (!url) cr_skip_test("HS_REDIS_URL is not set (run against hookstream dev up)");
    hs_redis_t *r = hs_redis_new(url, 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    return r;
}

static redisReply *cmd(hs_redis_t *r, int argc, const char **argv) {
    redisReply *rep = hs_redis_command(r, argc, argv, NULL, err, sizeof err);
    cr_assert_not_null(rep, "%s: %s", argv[0], err);
    return rep;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

Test(redis, binary_safe_commands_and_error_replies) {
    hs_redis_t *r = stack_redis();
    char key[64];
    snprintf(key, sizeof key, "it:redis:%d", (int)getpid());
    const char *set[] = {"SET", key, "a\0b", "PX", "10000"};
    size_t setlen[] = {3, strlen(key), 3, 2, 5};
    redisReply *rep = hs_redis_command(r, 5, set, setlen, err, sizeof err);
    cr_assert(rep && rep->type == REDIS_REPLY_STATUS, "%s", err);
    freeReplyObject(rep);
    cr_assert_eq(hs_redis_up(r), 1);
    const char *get[] = {"GET", key};
    rep = cmd(r, 2, get);
    cr_assert(rep->type == REDIS_REPLY_STRING && rep->len == 3 && memcmp(rep->str, "a\0b", 3) == 0);
    freeReplyObject(rep);
    const char *bad[] = {"INCR", key}; /* not an integer: an error reply, not an I/O error */
    rep = cmd(r, 2, bad);
    cr_assert_eq(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    cr_assert_eq(hs_redis_up(r), 1);
    hs_redis_destroy(r);
}

Test(redis, eval_loads_the_script_once_then_runs_it_by_sha) {
    hs_redis_t *r = stack_redis();
    char script[128], key[64];
    /* a script text no one loaded before: the first call gets NOSCRIPT and falls back */
    snprintf(script, sizeof script, "-- %d %ld\nreturn {KEYS[1], ARGV[1]}", (int)getpid(),
             (long)time(NULL));
    snprintf(key, sizeof key, "it:redis:eval:%d", (int)getpid());
    const char *argv[] = {key, "v1"};
    for (int i = 0; i < 2; i++) {
        redisReply *rep = hs_redis_eval(r, script, 1, 2, argv, NULL, err, sizeof err);
        cr_assert_not_null(rep, "%s", err);
        cr_assert_eq(rep->type, REDIS_REPLY_ARRAY, "call %d: %s", i, rep->str ? rep->str : "");
        cr_assert_eq(rep->elements, 2);
        cr_assert_str_eq(rep->element[0]->str, key);
        cr_assert_str_eq(rep->element[1]->str, "v1");
        freeReplyObject(rep);
    }
    redisReply *rep =
        hs_redis_eval(r, "return redis.call('NOPE')", 0, 0, NULL, NULL, err, sizeof err);
    cr_assert(rep && rep->type == REDIS_REPLY_ERROR, "a failing script is an error reply");
    freeReplyObject(rep);
    hs_redis_destroy(r);
}

Test(redis, wait_returns_published_messages_and_times_out_empty) {
    hs_redis_t *sub = stack_redis(), *pub = stack_redis();
    char ch[64];
    snprintf(ch, sizeof ch, "it:redis:ch:%d", (int)getpid());
    const char *subscribe[] = {"SUBSCRIBE", ch};
    freeReplyObject(cmd(sub, 2, subscribe));
    redisReply *rep = (redisReply *)1;
    double t0 = now_ms();
    cr_assert_eq(hs_redis_wait(sub, 50, &rep, err, sizeof err), HS_OK, "%s", err);
    cr_assert_null(rep, "nothing published yet");
    cr_assert(now_ms() - t0 >= 45, "waited");
    const char *publish[] = {"PUBLISH", ch, "hello"};
    for (int i = 0; i < 2; i++)
        freeReplyObject(cmd(pub, 3, publish));
    for (int i = 0; i < 2; i++) { /* the second may already sit in the reader's buffer */
        cr_assert_eq(hs_redis_wait(sub, 2000, &rep, err, sizeof err), HS_OK, "%s", err);
        cr_assert_not_null(rep, "message %d arrived", i);
        cr_assert_eq(rep->type, REDIS_REPLY_ARRAY);
        cr_assert_str_eq(rep->element[0]->str, "message");
        cr_assert_str_eq(rep->element[2]->str, "hello");
        freeReplyObject(rep);
    }
    hs_redis_disconnect(sub);
    const char *ping[] = {"PING"};
    rep = cmd(sub, 1, ping); /* reconnected at once, no longer subscribed */
    cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    hs_redis_destroy(sub);
    hs_redis_destroy(pub);
}

/* ---- a private server the test stops and starts -------------------------------------- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t start_server(int port) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion ends the test: the server too */
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop_server(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Polls PING until it answers or deadline_ms passes; returns the reply time or -1. */
static int ping_until(hs_redis_t *r, double deadline_ms) {
    const char *ping[] = {"PING"};
    while (now_ms() < deadline_ms) {
        redisReply *rep = hs_redis_command(r, 1, ping, NULL, err, sizeof err);
        if (rep) {
            freeReplyObject(rep);
            return 0;
        }
        usleep(10000);
    }
    return -1;
}

Test(redis, outage_fails_fast_then_recovers) {
    if (!getenv("HS_REDIS_URL")) cr_skip_test("HS_REDIS_URL is not set");
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    pid_t pid = start_server(port);
    hs_redis_t *r = hs_redis_new(url, 500, err, sizeof err), *sub = hs_redis_new(url, 500, NULL, 0);
    cr_assert(r && sub);
    cr_assert_eq(ping_until(r, now_ms() + 5000), 0, "server started: %s", err);
    const char *subscribe[] = {"SUBSCRIBE", "c"};
    freeReplyObject(cmd(sub, 2, subscribe));
    stop_server(pid);

    redisReply *rep = (redisReply *)1;
    cr_assert_eq(hs_redis_wait(sub, 2000, &rep, err, sizeof err), HS_ERR_UNAVAILABLE,
                 "the subscriber sees the connection go");
    cr_assert_null(rep);
    const char *ping[] = {"PING"};
    cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err), "I/O error");
    cr_assert_eq(hs_redis_up(r), 0);
    cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err), "connect refused");
    double t0 = now_ms();
    for (int i = 0; i < 100; i++)
        cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err));
    cr_assert(now_ms() - t0 < 50, "100 calls fail fast while backing off");
    cr_assert(strstr(err, "unavailable (next try in"), "%s", err);

    pid = start_server(port);
    cr_assert_eq(ping_until(r, now_ms() + 10000), 0, "recovered: %s", err);
    cr_assert_eq(hs_redis_up(r), 1);
    stop_server(pid);
    hs_redis_destroy(r);
    hs_redis_destroy(sub);
}
