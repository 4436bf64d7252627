#include "hs_b64.h"

#include <openssl/evp.h>
#include <string.h>

size_t hs_b64_encode(const unsigned char *in, size_t n, char *out, size_t out_size) {
    if (n > ((size_t)1 << 30) || out_size < HS_B64_LEN(n) + 1) return 0;
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int b64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

long hs_b64_decode(const char *in, size_t n, unsigned char *out, size_t out_size) {
    if (n % 4 || n > (size_t)1 << 30) return -1;
    if (n == 0) return 0;
    size_t pad = 0;
    while (pad < 2 && in[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!b64_char(in[i])) return -1;
    size_t len = n / 4 * 3 - pad;
    if (len > out_size) return -1;
    /* EVP_DecodeBlock writes whole 3-byte groups, padding included, so the last group goes
     * through a scratch buffer and only its real bytes reach out. */
    size_t head = n - 4;
    unsigned char last[3];
    if (head && EVP_DecodeBlock(out, (const unsigned char *)in, (int)head) != (int)(head / 4 * 3))
        return -1;
    if (EVP_DecodeBlock(last, (const unsigned char *)in + head, 4) != 3) return -1;
    memcpy(out + head / 4 * 3, last, 3 - pad);
    return (long)len;
}
