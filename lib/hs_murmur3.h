/* MurmurHash3_x86_32 (Austin Appleby's public-domain reference, SMHasher): the 32-bit hash flagd
 * buckets fractional rollouts with (Go's twmb/murmur3 StringSum32 is this with seed 0), so the
 * same user lands in the same bucket here as in flagd. Not a cryptographic hash. Bytes are read
 * little-endian whatever the host, as the reference does on x86. Pure function, thread-safe. */
#ifndef HS_MURMUR3_H
#define HS_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

/* Returns the hash of len bytes at key (may be NULL when len is 0) with seed. */
uint32_t hs_murmur3_32(const void *key, size_t len, uint32_t seed);

#endif
