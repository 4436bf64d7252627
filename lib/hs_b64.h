/* Standard base64 (RFC 4648, padded) over OpenSSL's block coder, with a strict decoder: the
 * alphabet A-Z a-z 0-9 + /, a length that is a multiple of 4, at most two '=' and only at the
 * end, no whitespace. Used for webhook secrets, signatures and sealed values. No allocation. */
#ifndef HS_B64_H
#define HS_B64_H

#include <stddef.h>

/* Length of the base64 text of n bytes, without the NUL. */
#define HS_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes the base64 of in[0..n) and a NUL to out; returns its length, or 0 when out_size is
 * less than HS_B64_LEN(n) + 1. */
size_t hs_b64_encode(const unsigned char *in, size_t n, char *out, size_t out_size);

/* Decodes in[0..n) strictly (see above) into out; returns the byte count, or -1 when malformed
 * or when the result does not fit out_size. */
long hs_b64_decode(const char *in, size_t n, unsigned char *out, size_t out_size);

#endif
