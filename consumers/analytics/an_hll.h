/* HyperLogLog sketches of the distinct entities (and customers) of an analytics window: 2^10
 * one-byte registers (standard error 1.04/sqrt(1024) = 3.25 %; small counts use linear counting
 * and are nearly exact), ranks capped at 16 (accurate up to about 10 million distinct values per
 * window). Postgres keeps a sketch as bit(16384) in 16 bit planes of 1024 bits, plane k holding
 * "register >= k", so a merge there is a plain bitwise OR (`|`, bit_or) and an estimate needs
 * only bit_count per plane (schemas/sql/006_analytics.sql); this module writes that text form.
 * Pure functions over caller-owned register arrays. */
#ifndef AN_HLL_H
#define AN_HLL_H

#include <stddef.h>
#include <stdint.h>

#define AN_HLL_P 10
#define AN_HLL_M (1u << AN_HLL_P) /* registers */
#define AN_HLL_PLANES 16          /* largest rank kept */
/* Length of the text form: "x" + one hex digit per 4 bits of the 16 planes, NUL excluded. */
#define AN_HLL_TEXT_LEN (1 + AN_HLL_M * AN_HLL_PLANES / 4)

/* Returns the 64-bit hash sketches are fed with (XXH3) of len bytes at s. */
uint64_t an_hll_hash(const void *s, size_t len);
/* Records hash h in regs (AN_HLL_M registers). */
void an_hll_add(uint8_t *regs, uint64_t h);
/* dst = register-wise max of dst and src. */
void an_hll_merge(uint8_t *dst, const uint8_t *src);
/* Returns the estimated number of distinct values recorded in regs. */
double an_hll_estimate(const uint8_t *regs);
/* Writes the Postgres bit(16384) input text of regs ("x" + 4096 hex digits, plane 1 first) and a
 * NUL into out (at least AN_HLL_TEXT_LEN + 1 bytes). */
void an_hll_text(const uint8_t *regs, char *out);
/* Reads that text back into regs; returns 0, or -1 when text is not such a sketch (a plane
 * claims a register the plane below does not). */
int an_hll_parse(const char *text, uint8_t *regs);

#endif
