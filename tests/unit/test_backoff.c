/* Retry schedules: duration text, policy parsing and its errors, every family's sequence and
 * bounds, jitter ranges over many draws, exhaustion. */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_backoff.h"

static hs_backoff_t parse_ok(const char *spec) {
    hs_backoff_t b;
    char err[256] = "";
    cr_assert_eq(hs_backoff_parse(spec, &b, err, sizeof err), HS_OK, "%s: %s", spec, err);
    return b;
}

Test(backoff, durations_parse) {
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {{"250ms", 250},  {"5s", 5000},     {"5m", 300000},
                 {"2h", 7200000}, {"1d", 86400000}, {"0ms", 0},
                 {"0s", 0},       {"10ms", 10},     {"365d", INT64_C(31536000000)}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        cr_assert_eq(hs_duration_parse(cases[i].s, &ms), 0, "%s", cases[i].s);
        cr_assert_eq(ms, cases[i].ms, "%s -> %lld", cases[i].s, (long long)ms);
    }
}

Test(backoff, bad_durations) {
    const char *bad[] = {"",
                         "5",
                         "s",
                         "5x",
                         "-5s",
                         "+5s",
                         " 5s",
                         "5s ",
                         "5 s",
                         "1.5s",
                         "5sec",
                         "366d",
                         "99999999999999999999ms",
                         "5S"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        cr_assert_eq(hs_duration_parse(bad[i], &ms), -1, "\"%s\" should fail", bad[i]);
    }
    int64_t ms;
    cr_assert_eq(hs_duration_parse(NULL, &ms), -1);
}

Test(backoff, durations_format_shortest_exact) {
    static const struct {
        int64_t ms;
        const char *s;
    } cases[] = {{500, "500ms"},    {5000, "5s"},    {300000, "5m"},   {7200000, "2h"},
                 {86400000, "1d"},  {0, "0s"},       {1500, "1500ms"}, {90000, "90s"},
                 {172800000, "2d"}, {5400000, "90m"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        hs_duration_format(cases[i].ms, out, sizeof out);
        cr_assert_str_eq(out, cases[i].s);
    }
}

Test(backoff, default_schedule) {
    hs_backoff_t b = parse_ok(HS_BACKOFF_DEFAULT);
    cr_assert_eq(b.kind, HS_BACKOFF_SCHEDULE);
    cr_assert_eq(b.nschedule, 7);
    cr_assert_eq(b.max_attempts, 8);
    const int64_t want[] = {5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};
    uint64_t rng = 1;
    for (int a = 1; a <= 7; a++)
        cr_assert_eq(hs_backoff_next_ms(&b, a, 0, &rng), want[a - 1], "attempt %d", a);
    cr_assert_eq(hs_backoff_next_ms(&b, 8, 0, &rng), -1);
    cr_assert_eq(hs_backoff_next_ms(&b, 100, 0, &rng), -1);
    cr_assert_eq(b.max_ms, 36000000);
}

Test(backoff, millisecond_schedule_for_tests) {
    hs_backoff_t b = parse_ok("10ms,20ms");
    uint64_t rng = 1;
    cr_assert_eq(hs_backoff_next_ms(&b, 1, 0, &rng), 10);
    cr_assert_eq(hs_backoff_next_ms(&b, 2, 0, &rng), 20);
    cr_assert_eq(hs_backoff_next_ms(&b, 3, 0, &rng), -1);
}

Test(backoff, exponential_capped_at_max) {
    hs_backoff_t b = parse_ok("exponential:initial=1s,max=10s,factor=2,attempts=8");
    const int64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
    for (int a = 1; a <= 7; a++)
        cr_assert_eq(hs_backoff_next_ms(&b, a, 0, NULL), want[a - 1], "attempt %d", a);
    cr_assert_eq(hs_backoff_next_ms(&b, 8, 0, NULL), -1);
}

Test(backoff, exponential_huge_attempts_do_not_overflow) {
    hs_backoff_t b = parse_ok("exponential:initial=1s,max=1h,factor=100,attempts=1000");
    cr_assert_eq(hs_backoff_next_ms(&b, 999, 0, NULL), 3600000);
}

Test(backoff, fibonacci_sequence) {
    hs_backoff_t b = parse_ok("fibonacci:initial=100ms,max=1s,attempts=10");
    const int64_t want[] = {100, 100, 200, 300, 500, 800, 1000, 1000, 1000};
    for (int a = 1; a <= 9; a++)
        cr_assert_eq(hs_backoff_next_ms(&b, a, 0, NULL), want[a - 1], "attempt %d", a);
    cr_assert_eq(hs_backoff_next_ms(&b, 10, 0, NULL), -1);
    b = parse_ok("fibonacci:initial=1ms,max=1d,attempts=1000");
    cr_assert_eq(hs_backoff_next_ms(&b, 999, 0, NULL), 86400000);
}

Test(backoff, defaults_of_a_family) {
    hs_backoff_t b = parse_ok("exponential");
    cr_assert_eq(b.initial_ms, 1000);
    cr_assert_eq(b.max_ms, 3600000);
    cr_assert_float_eq(b.factor, 2.0, 1e-12);
    cr_assert_eq(b.max_attempts, 8);
}

Test(backoff, full_jitter_within_bounds) {
    hs_backoff_t b = parse_ok("full-jitter:initial=100ms,max=5s,attempts=20");
    uint64_t rng = 42;
    for (int a = 1; a < 20; a++) {
        int64_t cap = 100;
        for (int i = 1; i < a && cap < 5000; i++)
            cap *= 2;
        if (cap > 5000) cap = 5000;
        int64_t lo = cap, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t d = hs_backoff_next_ms(&b, a, 0, &rng);
            cr_assert(d >= 0 && d <= cap, "attempt %d: %lld not in [0,%lld]", a, (long long)d,
                      (long long)cap);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        /* Uniform over the range: 2000 draws reach near both ends. */
        cr_assert(lo <= cap / 10 && hi >= cap - cap / 10, "attempt %d spread %lld..%lld", a,
                  (long long)lo, (long long)hi);
    }
    cr_assert_eq(hs_backoff_next_ms(&b, 20, 0, &rng), -1);
}

Test(backoff, decorrelated_jitter_within_bounds) {
    hs_backoff_t b = parse_ok("decorrelated-jitter:initial=100ms,max=10s,attempts=50");
    uint64_t rng = 7;
    int64_t prev = 0, top = 0;
    for (int round = 0; round < 200; round++) {
        prev = 0;
        for (int a = 1; a < 50; a++) {
            int64_t d = hs_backoff_next_ms(&b, a, prev, &rng);
            int64_t hi = (prev > 0 ? prev : 100) * 3;
            if (hi > 10000) hi = 10000;
            cr_assert(d >= 100 && d <= hi, "attempt %d after %lld: %lld", a, (long long)prev,
                      (long long)d);
            if (d > top) top = d;
            prev = d;
        }
    }
    cr_assert_geq(top, 9000, "the cap is reached over many draws, top %lld", (long long)top);
}

Test(backoff, jitter_is_reproducible_with_the_same_seed) {
    hs_backoff_t b = parse_ok("full-jitter:initial=1s,max=1h,attempts=10");
    uint64_t r1 = 99, r2 = 99, r0 = 0;
    for (int a = 1; a < 10; a++)
        cr_assert_eq(hs_backoff_next_ms(&b, a, 0, &r1), hs_backoff_next_ms(&b, a, 0, &r2));
    /* A zero seed would stick at zero in xorshift: it is replaced, not an endless 0. */
    int64_t d1 = hs_backoff_next_ms(&b, 9, 0, &r0), d2 = hs_backoff_next_ms(&b, 9, 0, &r0);
    cr_assert(r0 != 0 && (d1 != d2 || d1 != 0));
}

Test(backoff, attempts_one_means_no_retry) {
    hs_backoff_t b = parse_ok("exponential:attempts=1");
    cr_assert_eq(hs_backoff_next_ms(&b, 1, 0, NULL), -1);
}

Test(backoff, parse_errors_name_the_bad_part) {
    static const struct {
        const char *spec, *part;
    } cases[] = {
        {"", "empty"},
        {"5s,5x", "\"5x\""},
        {"5s,,5m", "bad step"},
        {"5s,", "bad step"},
        {"linear:initial=1s", "\"linear\""},
        {"exponential:initial=1s,foo=2", "\"foo\""},
        {"exponential:initial=soon", "initial=\"soon\""},
        {"exponential:max=1s,initial=2s", "max is less than initial"},
        {"exponential:initial=0ms", "initial must be > 0"},
        {"exponential:factor=0.5", "factor \"0.5\""},
        {"exponential:factor=abc", "factor \"abc\""},
        {"exponential:attempts=0", "attempts \"0\""},
        {"exponential:attempts=1001", "attempts \"1001\""},
        {"exponential:attempts=3x", "attempts \"3x\""},
        {"exponential:initial", "needs =value"},
        {"exponential:attempts=3,", "trailing comma"},
        {"fibonacci:,attempts=3", "bad parameter list"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hs_backoff_t b;
        char err[256] = "";
        cr_assert_eq(hs_backoff_parse(cases[i].spec, &b, err, sizeof err), HS_ERR_INVALID, "%s",
                     cases[i].spec);
        cr_assert(strstr(err, cases[i].part), "\"%s\": error \"%s\" lacks \"%s\"", cases[i].spec,
                  err, cases[i].part);
    }
    hs_backoff_t b;
    char err[256];
    cr_assert_eq(hs_backoff_parse(NULL, &b, err, sizeof err), HS_ERR_INVALID);
}

Test(backoff, too_many_steps) {
    char spec[512] = "";
    size_t off = 0;
    for (int i = 0; i < HS_BACKOFF_MAX_STEPS + 1; i++)
        off += (size_t)snprintf(spec + off, sizeof spec - off, "%s1s", i ? "," : "");
    hs_backoff_t b;
    char err[256] = "";
    cr_assert_eq(hs_backoff_parse(spec, &b, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "more than 32 steps"), "%s", err);
    spec[off - 3] = '\0'; /* exactly 32 steps is fine */
    b = parse_ok(spec);
    cr_assert_eq(b.max_attempts, HS_BACKOFF_MAX_STEPS + 1);
}

Test(backoff, format_round_trips) {
    const char *specs[] = {HS_BACKOFF_DEFAULT,
                           "10ms,20ms,1500ms",
                           "exponential:initial=1s,max=1h,factor=2,attempts=8",
                           "fibonacci:initial=250ms,max=10m,factor=2,attempts=5",
                           "full-jitter:initial=1s,max=1d,factor=3,attempts=12",
                           "decorrelated-jitter:initial=5s,max=2h,factor=2,attempts=4"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        hs_backoff_t b = parse_ok(specs[i]);
        char out[512];
        hs_backoff_format(&b, out, sizeof out);
        cr_assert_str_eq(out, specs[i]);
    }
}
