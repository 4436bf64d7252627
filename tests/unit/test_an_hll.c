/* analytics' HyperLogLog sketches: estimates within the documented error at
 * several sizes, nearly exact small counts, merge = union, the bit-plane text
 * Postgres reads and its parser's refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "an_hll.h"

static void fill(uint8_t *regs, int from, int to) {
    char key[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(key, sizeof key, "customer-%d", i);
        an_hll_add(regs, an_hll_hash(key, (size_t)n));
    }
}

Test(an_hll, empty_is_zero) {
    uint8_t regs[AN_HLL_M] = {0};
    cr_assert_eq(an_hll_estimate(regs), 0.0);
}

Test(an_hll, small_counts_nearly_exact) {
    static const int sizes[] = {1, 2, 10, 100, 500};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint8_t regs[AN_HLL_M] = {0};
        fill(regs, 0, sizes[s]);
        double e = an_hll_estimate(regs);
        cr_assert(fabs(e - sizes[s]) <= 0.02 * sizes[s] + 1, "%d distinct -> %.1f", sizes[s], e);
    }
}

Test(an_hll, large_counts_within_three_standard_errors) {
    static const int sizes[] = {5000, 50000, 1000000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint8_t regs[AN_HLL_M] = {0};
        fill(regs, 0, sizes[s]);
        double e = an_hll_estimate(regs);
        cr_assert(fabs(e - sizes[s]) <= 3 * 0.0325 * sizes[s], "%d distinct -> %.0f", sizes[s], e);
    }
}

Test(an_hll, duplicates_do_not_count) {
    uint8_t regs[AN_HLL_M] = {0};
    for (int round = 0; round < 50; round++)
        fill(regs, 0, 100);
    double e = an_hll_estimate(regs);
    cr_assert(fabs(e - 100) <= 3, "100 distinct added 50 times -> %.1f", e);
}

Test(an_hll, merge_is_the_union) {
    uint8_t a[AN_HLL_M] = {0}, b[AN_HLL_M] = {0}, both[AN_HLL_M] = {0};
    fill(a, 0, 3000);
    fill(b, 2000, 6000);
    fill(both, 0, 6000);
    an_hll_merge(a, b);
    cr_assert_eq(memcmp(a, both, AN_HLL_M), 0, "merge must equal the sketch of the union");
}

Test(an_hll, ranks_are_capped) {
    uint8_t regs[AN_HLL_M] = {0};
    an_hll_add(regs, 0); /* register 0, no 1 bit at all */
    cr_assert_eq(regs[0], AN_HLL_PLANES);
    an_hll_add(regs, UINT64_C(1) << 53); /* register 0, first bit of the rest set: rank 1 */
    cr_assert_eq(regs[0], AN_HLL_PLANES, "a lower rank never lowers a register");
}

Test(an_hll, text_round_trip) {
    uint8_t regs[AN_HLL_M] = {0}, back[AN_HLL_M];
    fill(regs, 0, 20000);
    char text[AN_HLL_TEXT_LEN + 1];
    an_hll_text(regs, text);
    cr_assert_eq(strlen(text), AN_HLL_TEXT_LEN);
    cr_assert_eq(text[0], 'x');
    cr_assert_eq(an_hll_parse(text, back), 0);
    cr_assert_eq(memcmp(regs, back, AN_HLL_M), 0);
}

Test(an_hll, text_planes) {
    uint8_t regs[AN_HLL_M] = {0};
    regs[0] = 3; /* planes 1, 2, 3 have register 0 */
    regs[5] = 1; /* plane 1 has register 5 */
    char text[AN_HLL_TEXT_LEN + 1];
    an_hll_text(regs, text);
    const char *plane1 = text + 1, *plane2 = plane1 + AN_HLL_M / 4,
               *plane4 = plane1 + 3 * AN_HLL_M / 4;
    cr_assert_eq(strncmp(plane1, "84", 2), 0, "plane 1 starts %.4s", plane1);
    cr_assert_eq(strncmp(plane2, "80", 2), 0, "plane 2 starts %.4s", plane2);
    cr_assert_eq(plane4[0], '0');
}

Test(an_hll, parse_refuses_bad_text) {
    uint8_t regs[AN_HLL_M];
    char text[AN_HLL_TEXT_LEN + 2];
    memset(text, '0', sizeof text);
    text[0] = 'x';
    text[AN_HLL_TEXT_LEN] = '\0';
    cr_assert_eq(an_hll_parse(text, regs), 0, "all zero is a sketch");
    text[0] = 'b';
    cr_assert_eq(an_hll_parse(text, regs), -1, "no x prefix");
    text[0] = 'x';
    text[7] = 'g';
    cr_assert_eq(an_hll_parse(text, regs), -1, "not hex");
    text[7] = '0';
    text[1 + AN_HLL_M / 4] = '8'; /* plane 2 claims register 0, plane 1 does not */
    cr_assert_eq(an_hll_parse(text, regs), -1, "a plane above an empty one");
    text[1 + AN_HLL_M / 4] = '0';
    text[AN_HLL_TEXT_LEN - 1] = '\0';
    cr_assert_eq(an_hll_parse(text, regs), -1, "too short");
    text[AN_HLL_TEXT_LEN - 1] = '0';
    text[AN_HLL_TEXT_LEN] = '0';
    text[AN_HLL_TEXT_LEN + 1] = '\0';
    cr_assert_eq(an_hll_parse(text, regs), -1, "too long");
}
