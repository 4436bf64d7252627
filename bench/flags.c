/* hookstream-bench-flags: flag evaluations per second on one thread (bench/flags.sh runs it).
 * Scenarios: a 10 % rollout (fractional on/off by targetingKey, which varies) through the
 * compiled path and through JsonLogic, a static flag, a starts_with targeting rule, and the
 * rollout through the live store (hs_flags_bool: snapshot reference per call). Contexts are
 * built before timing, as a service has its request's context at hand.
 * Usage: hookstream-bench-flags [SECONDS per scenario, default 1]. Prints "NAME EVALS_PER_S". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_flags.h"
#include "hs_flags_internal.h"
#include "hs_log.h"

#define CONTEXTS 4096

static const char doc[] =
    "{\"flags\": {"
    "\"rollout\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},"
    " \"defaultVariant\": \"off\", \"targeting\": {\"fractional\": [[\"on\", 10], [\"off\", 90]]}},"
    "\"static\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},"
    " \"defaultVariant\": \"on\"},"
    "\"staff\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},"
    " \"defaultVariant\": \"off\", \"targeting\": {\"if\": [{\"starts_with\": [{\"var\": "
    "\"email\"}, \"admin@\"]}, \"on\", \"off\"]}}}}";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*eval_fn)(void *target, const char *key, const json_t *ctx);

static int eval_set(void *target, const char *key, const json_t *ctx) {
    return hs_flagset_bool(target, key, ctx, 0);
}

static int eval_store(void *target, const char *key, const json_t *ctx) {
    return hs_flags_bool(target, key, ctx, 0);
}

/* Evaluates key over the contexts for about seconds; prints and returns evaluations/s. */
static double run(const char *name, eval_fn fn, void *target, const char *key, json_t **ctx,
                  double seconds) {
    long long n = 0, on = 0;
    double start = now_s(), elapsed;
    do {
        for (int i = 0; i < CONTEXTS; i++)
            on += fn(target, key, ctx[i]);
        n += CONTEXTS;
    } while ((elapsed = now_s() - start) < seconds);
    printf("%-16s %.0f\n", name, (double)n / elapsed);
    fprintf(stderr, "%-16s %lld evaluations in %.2f s, %.1f%% on\n", name, n, elapsed,
            100.0 * (double)on / (double)n);
    return (double)n / elapsed;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    char err[512], path[] = "/tmp/bench_flags_XXXXXX";
    hs_log_init("bench", HS_LOG_ERROR);
    json_t *parsed = json_loads(doc, 0, NULL);
    hs_flagset_t *fast = hs_flagset_new(parsed, err, sizeof err);
    hs_flagset_t *slow = hs_flagset_new_ex(parsed, 0, err, sizeof err);
    if (!fast || !slow) return fprintf(stderr, "flags: %s\n", err), 1;
    json_t *ctx[CONTEXTS];
    for (int i = 0; i < CONTEXTS; i++) {
        char id[32], email[64];
        snprintf(id, sizeof id, "user-%d", i * 7919);
        snprintf(email, sizeof email, "%s%d@example.com", i % 10 ? "user" : "admin@", i);
        ctx[i] = json_pack("{s:s, s:s, s:s}", "targetingKey", id, "email", email, "plan", "pro");
    }
    run("rollout", eval_set, fast, "rollout", ctx, seconds);
    run("rollout-jsonlogic", eval_set, slow, "rollout", ctx, seconds);
    run("static", eval_set, fast, "static", ctx, seconds);
    run("starts_with", eval_set, fast, "staff", ctx, seconds);

    int fd = mkstemp(path);
    if (fd < 0 || write(fd, doc, strlen(doc)) != (ssize_t)strlen(doc)) return perror(path), 1;
    close(fd);
    hs_config_t *cfg = hs_config_new();
    hs_config_set(cfg, "flags.file", path, "--set", err, sizeof err);
    hs_config_set(cfg, "flags.topic", "", "--set", err, sizeof err);
    hs_flags_t *store = hs_flags_new(cfg, err, sizeof err);
    if (!store) return fprintf(stderr, "store: %s\n", err), 1;
    run("rollout-store", eval_store, store, "rollout", ctx, seconds);
    hs_flags_destroy(store);
    hs_config_destroy(cfg);
    unlink(path);
    for (int i = 0; i < CONTEXTS; i++)
        json_decref(ctx[i]);
    hs_flagset_release(fast);
    hs_flagset_release(slow);
    json_decref(parsed);
    return 0;
}
