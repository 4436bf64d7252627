/* HyperLogLog with bit-plane text for Postgres (see an_hll.h). */
#include "an_hll.h"

#include <math.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t an_hll_hash(const void *s, size_t len) {
    return XXH3_64bits(s, len);
}

void an_hll_add(uint8_t *regs, uint64_t h) {
    uint32_t idx = (uint32_t)(h >> (64 - AN_HLL_P));
    uint64_t rest = h << AN_HLL_P;
    /* rank = position of the first 1 bit of the remaining 54 bits */
    int rank = rest ? __builtin_clzll(rest) + 1 : AN_HLL_PLANES;
    if (rank > AN_HLL_PLANES) rank = AN_HLL_PLANES;
    if (regs[idx] < rank) regs[idx] = (uint8_t)rank;
}

void an_hll_merge(uint8_t *dst, const uint8_t *src) {
    for (uint32_t i = 0; i < AN_HLL_M; i++)
        if (src[i] > dst[i]) dst[i] = src[i];
}

double an_hll_estimate(const uint8_t *regs) {
    double m = AN_HLL_M, sum = 0;
    uint32_t zeros = 0;
    for (uint32_t i = 0; i < AN_HLL_M; i++) {
        sum += ldexp(1.0, -regs[i]);
        zeros += regs[i] == 0;
    }
    double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros) e = m * log(m / zeros); /* linear counting */
    return e;
}

void an_hll_text(const uint8_t *regs, char *out) {
    static const char hex[] = "0123456789abcdef";
    /* plane k-1 (bit 7 of byte 0 is register 0): registers >= k; most registers of most
     * windows are 0, so only the set ones cost more than the final hex pass */
    uint8_t planes[AN_HLL_PLANES][AN_HLL_M / 8];
    memset(planes, 0, sizeof planes);
    for (uint32_t i = 0; i < AN_HLL_M; i++)
        for (int k = 0; k < regs[i] && k < AN_HLL_PLANES; k++)
            planes[k][i >> 3] |= (uint8_t)(0x80u >> (i & 7));
    const uint8_t *b = &planes[0][0];
    char *o = out;
    *o++ = 'x';
    for (size_t i = 0; i < sizeof planes; i++) {
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int an_hll_parse(const char *text, uint8_t *regs) {
    if ((text[0] != 'x' && text[0] != 'X') || strlen(text) != AN_HLL_TEXT_LEN) return -1;
    memset(regs, 0, AN_HLL_M);
    const char *t = text + 1;
    for (int k = 1; k <= AN_HLL_PLANES; k++)
        for (uint32_t i = 0; i < AN_HLL_M; i += 4) {
            int v = hexval(*t++);
            if (v < 0) return -1;
            for (int b = 0; b < 4; b++) {
                if (!(v & (8 >> b))) continue;
                if (regs[i + (uint32_t)b] != k - 1) return -1;
                regs[i + (uint32_t)b] = (uint8_t)k;
            }
        }
    return 0;
}
