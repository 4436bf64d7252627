/* hs_redis without a server: url parsing (each bad form refused with the url named), and the
 * connect backoff against a closed port (fails fast while waiting, the wait doubles). The
 * server side (commands, scripts, pub/sub, outage and recovery) is tests/integration. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_redis.h"

static char err[512];

Test(redis, urls_accepted) {
    const char *ok[] = {"redis://127.0.0.1",       "redis://127.0.0.1:6380", "redis://h:1/3",
                        "redis://localhost:6379/", "redis://[::1]:6379/0",   NULL};
    const char *addr[] = {"127.0.0.1:6379", "127.0.0.1:6380", "h:1", "localhost:6379",
                          "[::1]:6379"};
    for (int i = 0; ok[i]; i++) {
        hs_redis_t *r = hs_redis_new(ok[i], 100, err, sizeof err);
        cr_assert_not_null(r, "%s: %s", ok[i], err);
        cr_assert_str_eq(hs_redis_addr(r), addr[i]);
        cr_assert_eq(hs_redis_up(r), 0, "not connected before the first command");
        hs_redis_destroy(r);
    }
    hs_redis_destroy(NULL);
}

Test(redis, urls_refused) {
    const char *bad[] = {"",
                         "http://h:1",
                         "redis://",
                         "redis://user:pw@h:1",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:x",
                         "redis://h:1x",
                         "redis://h:1/db",
                         "redis://h:1/-1",
                         "redis://[::1",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        cr_assert_null(hs_redis_new(bad[i], 100, err, sizeof err), "%s accepted", bad[i]);
        cr_assert(strstr(err, "redis url '") && strstr(err, bad[i]), "%s", err);
    }
    cr_assert_null(hs_redis_new(NULL, 100, err, sizeof err));
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int next_try_ms(const char *e) {
    const char *p = strstr(e, "next try in ");
    return p ? (int)strtol(p + 12, NULL, 10) : -1;
}

Test(redis, closed_port_fails_fast_with_doubling_backoff) {
    hs_redis_t *r = hs_redis_new("redis://127.0.0.1:1", 200, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    const char *ping[] = {"PING"};
    cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err));
    cr_assert(strstr(err, "redis 127.0.0.1:1: connect:"), "%s", err);
    cr_assert_eq(hs_redis_up(r), 0);
    double t0 = now_ms();
    cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err));
    cr_assert(now_ms() - t0 < 5, "fails fast while backing off");
    cr_assert(strstr(err, "redis 127.0.0.1:1 unavailable (next try in "), "%s", err);
    int first = next_try_ms(err);
    cr_assert(first > 0 && first <= 100, "first wait is 100 ms: %s", err);
    do /* past the first wait it connects again, fails, and waits 200 ms */
        cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err));
    while (!strstr(err, "connect:") && now_ms() - t0 < 2000);
    cr_assert(strstr(err, "connect:"), "tried again after the wait: %s", err);
    cr_assert_null(hs_redis_command(r, 1, ping, NULL, err, sizeof err));
    int second = next_try_ms(err);
    cr_assert(second > 100 && second <= 200, "the wait doubled: %s", err);
    const char *args[] = {"k"};
    cr_assert_null(hs_redis_eval(r, "return 1", 1, 1, args, NULL, err, sizeof err));
    cr_assert(strstr(err, "unavailable"), "%s", err);
    redisReply *rep = (redisReply *)1;
    cr_assert_eq(hs_redis_wait(r, 10, &rep, err, sizeof err), HS_ERR_UNAVAILABLE);
    cr_assert_null(rep);
    hs_redis_destroy(r);
}
