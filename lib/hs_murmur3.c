/* MurmurHash3_x86_32, as in SMHasher's MurmurHash3.cpp (see hs_murmur3.h). */
#include "hs_murmur3.h"

static uint32_t rotl32(uint32_t x, int r) {
    return (x << r) | (x >> (32 - r));
}

static uint32_t mix_k1(uint32_t k1) {
    k1 *= 0xcc9e2d51u;
    k1 = rotl32(k1, 15);
    return k1 * 0x1b873593u;
}

uint32_t hs_murmur3_32(const void *key, size_t len, uint32_t seed) {
    const uint8_t *p = key;
    uint32_t h1 = seed;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++, p += 4) {
        uint32_t k1 =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        h1 ^= mix_k1(k1);
        h1 = rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64u;
    }
    uint32_t k1 = 0;
    switch (len & 3) {
    case 3:
        k1 ^= (uint32_t)p[2] << 16;
        /* fall through */
    case 2:
        k1 ^= (uint32_t)p[1] << 8;
        /* fall through */
    case 1:
        k1 ^= p[0];
        h1 ^= mix_k1(k1);
    }
    /* The reference takes len as an int: only its low 32 bits enter the hash. */
    h1 ^= (uint32_t)len;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6bu;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35u;
    h1 ^= h1 >> 16;
    return h1;
}
