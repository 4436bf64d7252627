#include "hs_secretbox.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "hs_b64.h"

#define NONCE 12
#define TAG 16
#define VERSION "v1."
#define VERSION_LEN (sizeof VERSION - 1)

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

hs_err_t hs_secretbox_key_parse(const char *master, hs_secretbox_key_t *key, char *errstr,
                                size_t n) {
    size_t len = master ? strnlen(master, 65) : 0;
    int ok = 0;
    if (len == 64) {
        ok = 1;
        for (size_t i = 0; ok && i < 32; i++) {
            int hi = hexval(master[2 * i]), lo = hexval(master[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            key->key[i] = (unsigned char)(ok ? hi << 4 | lo : 0);
        }
    } else if (len == 44) {
        ok = hs_b64_decode(master, len, key->key, sizeof key->key) == 32;
    }
    if (ok) return HS_OK;
    OPENSSL_cleanse(key->key, sizeof key->key);
    return hs_fail(HS_ERR_INVALID, errstr, n,
                   "master key must be 32 bytes as 64 hex characters or 44 base64 characters "
                   "(got %zu%s characters)",
                   len, len > 64 ? " or more" : "");
}

/* Runs AES-256-GCM one way over in[0..len) into out; tag is written (enc) or checked (dec). */
static int gcm(int enc, const hs_secretbox_key_t *key, const unsigned char *nonce, const char *aad,
               const unsigned char *in, int len, unsigned char *out, unsigned char *tag) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    int ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) &&
             EVP_CipherInit_ex(ctx, NULL, NULL, key->key, nonce, enc);
    if (ok && aad && *aad)
        ok = EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad));
    if (ok && len) ok = EVP_CipherUpdate(ctx, out, &outl, in, len);
    if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag);
    if (ok) ok = EVP_CipherFinal_ex(ctx, out + outl, &finl) == 1;
    if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, tag);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

char *hs_secretbox_seal(const hs_secretbox_key_t *key, const char *plaintext, const char *aad,
                        char *errstr, size_t n) {
    size_t len = strnlen(plaintext, HS_SECRETBOX_MAX_PLAIN + 1);
    if (len > HS_SECRETBOX_MAX_PLAIN) {
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "plaintext longer than %d bytes",
                HS_SECRETBOX_MAX_PLAIN);
        return NULL;
    }
    size_t raw_len = NONCE + len + TAG;
    unsigned char *raw = malloc(raw_len);
    size_t text_size = VERSION_LEN + HS_B64_LEN(raw_len) + 1;
    char *text = malloc(text_size);
    int ok = raw && text && RAND_bytes(raw, NONCE) == 1 &&
             gcm(1, key, raw, aad, (const unsigned char *)plaintext, (int)len, raw + NONCE,
                 raw + NONCE + len);
    if (ok) {
        memcpy(text, VERSION, VERSION_LEN);
        hs_b64_encode(raw, raw_len, text + VERSION_LEN, text_size - VERSION_LEN);
    }
    if (raw) OPENSSL_cleanse(raw, raw_len);
    free(raw);
    if (!ok) {
        free(text);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "sealing failed (out of memory or OpenSSL error)");
        return NULL;
    }
    return text;
}

char *hs_secretbox_open(const hs_secretbox_key_t *key, const char *sealed, const char *aad,
                        char *errstr, size_t n) {
    size_t max_text = VERSION_LEN + HS_B64_LEN(NONCE + HS_SECRETBOX_MAX_PLAIN + TAG);
    size_t len = sealed ? strnlen(sealed, max_text + 1) : 0;
    if (len < VERSION_LEN || memcmp(sealed, VERSION, VERSION_LEN) != 0 || len > max_text) {
        hs_fail(HS_ERR_INVALID, errstr, n, "sealed value is not \"v1.\" + base64 of bounded size");
        return NULL;
    }
    size_t b64_len = len - VERSION_LEN;
    size_t cap = b64_len / 4 * 3;
    unsigned char *raw = malloc(cap ? cap : 1);
    long raw_len = raw ? hs_b64_decode(sealed + VERSION_LEN, b64_len, raw, cap) : -1;
    if (raw_len < NONCE + TAG) {
        free(raw);
        hs_fail(HS_ERR_INVALID, errstr, n, "sealed value is malformed (bad base64 or too short)");
        return NULL;
    }
    size_t plen = (size_t)raw_len - NONCE - TAG;
    char *plain = malloc(plen + 1);
    int ok = plain && gcm(0, key, raw, aad, raw + NONCE, (int)plen, (unsigned char *)plain,
                          raw + NONCE + plen);
    free(raw);
    if (ok && memchr(plain, '\0', plen)) ok = 0; /* sealed from a C string: cannot hold NUL */
    if (!ok) {
        if (plain) OPENSSL_cleanse(plain, plen + 1);
        free(plain);
        hs_fail(HS_ERR_AUTH, errstr, n,
                "sealed value does not open: wrong master key, wrong context, or tampered");
        return NULL;
    }
    plain[plen] = '\0';
    return plain;
}
