#include "hs_whsig.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hs_b64.h"

#define PREFIX_LEN (sizeof HS_WHSIG_PREFIX - 1)

hs_err_t hs_whsig_secret_new(char *out, size_t n, char *errstr, size_t errstr_size) {
    unsigned char key[HS_WHSIG_SECRET_BYTES];
    if (n < HS_WHSIG_SECRET_LEN)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "secret buffer of %zu bytes < %d", n,
                       HS_WHSIG_SECRET_LEN);
    if (RAND_bytes(key, sizeof key) != 1)
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "RAND_bytes failed");
    memcpy(out, HS_WHSIG_PREFIX, PREFIX_LEN);
    hs_b64_encode(key, sizeof key, out + PREFIX_LEN, n - PREFIX_LEN);
    OPENSSL_cleanse(key, sizeof key);
    return HS_OK;
}

/* Decodes the key of a secret into key[HS_WHSIG_SECRET_MAX]; returns its length or -1 with
 * errstr. */
static long secret_key(const char *secret, unsigned char *key, char *errstr, size_t errstr_size) {
    if (!secret || strncmp(secret, HS_WHSIG_PREFIX, PREFIX_LEN) != 0) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "secret must start with \"whsec_\"");
        return -1;
    }
    const char *b64 = secret + PREFIX_LEN;
    size_t len = strnlen(b64, HS_B64_LEN(HS_WHSIG_SECRET_MAX) + 1);
    long n = hs_b64_decode(b64, len, key, HS_WHSIG_SECRET_MAX);
    if (n < 0) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                "secret after \"whsec_\" must be base64 of %d..%d bytes", HS_WHSIG_SECRET_BYTES,
                HS_WHSIG_SECRET_MAX);
        return -1;
    }
    if (n < HS_WHSIG_SECRET_BYTES) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "secret has %ld bytes of key, at least %d", n,
                HS_WHSIG_SECRET_BYTES);
        return -1;
    }
    return n;
}

hs_err_t hs_whsig_secret_check(const char *secret, char *errstr, size_t errstr_size) {
    unsigned char key[HS_WHSIG_SECRET_MAX];
    long n = secret_key(secret, key, errstr, errstr_size);
    OPENSSL_cleanse(key, sizeof key);
    return n < 0 ? HS_ERR_INVALID : HS_OK;
}

/* Each thread keeps one HMAC-SHA256 context and re-keys it per signature: fetching the HMAC
 * algorithm and the digest from OpenSSL's providers for every signature (their lookups take
 * global locks) cost more than hashing a webhook body. */
static EVP_MAC *hmac_alg;
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *ctx) {
    EVP_MAC_CTX_free(ctx);
}

static void ctx_setup(void) {
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (pthread_key_create(&ctx_key, ctx_free)) {
        EVP_MAC_free(hmac_alg);
        hmac_alg = NULL;
    }
}

static EVP_MAC_CTX *thread_ctx(void) {
    pthread_once(&ctx_once, ctx_setup);
    if (!hmac_alg) return NULL;
    EVP_MAC_CTX *ctx = pthread_getspecific(ctx_key);
    if (ctx) return ctx;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    ctx = EVP_MAC_CTX_new(hmac_alg);
    if (ctx && (!EVP_MAC_CTX_set_params(ctx, params) || pthread_setspecific(ctx_key, ctx))) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

static int hmac_sha256(const unsigned char *key, size_t key_len, const char *head, size_t head_len,
                       const void *body, size_t len, unsigned char out[32]) {
    EVP_MAC_CTX *ctx = thread_ctx();
    size_t n = 0;
    int ok = ctx && EVP_MAC_init(ctx, key, key_len, NULL) &&
             EVP_MAC_update(ctx, (const unsigned char *)head, head_len) &&
             (len == 0 || EVP_MAC_update(ctx, body, len)) && EVP_MAC_final(ctx, out, &n, 32);
    return ok && n == 32;
}

hs_err_t hs_whsig_sign(const char *const *secrets, size_t nsecrets, const char *msg_id,
                       int64_t timestamp_s, const void *body, size_t len, char *out,
                       size_t out_size, char *errstr, size_t errstr_size) {
    if (nsecrets == 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "no secret to sign with");
    if (!msg_id || !*msg_id)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "empty message id");
    if (out_size / HS_WHSIG_SIG_LEN < nsecrets)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, errstr_size,
                       "signature buffer of %zu bytes is too small for %zu signatures", out_size,
                       nsecrets);
    if (strnlen(msg_id, HS_WHSIG_MAX_ID + 1) > HS_WHSIG_MAX_ID)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, errstr_size, "message id longer than %d",
                       HS_WHSIG_MAX_ID);
    char head[HS_WHSIG_MAX_ID + 32];
    int hl = snprintf(head, sizeof head, "%s.%" PRId64 ".", msg_id, timestamp_s);
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nsecrets; i++) {
        unsigned char key[HS_WHSIG_SECRET_MAX], mac[32];
        long kn = secret_key(secrets[i], key, errstr, errstr_size);
        int ok = kn >= 0 && hmac_sha256(key, (size_t)kn, head, (size_t)hl, body, len, mac);
        OPENSSL_cleanse(key, sizeof key);
        if (kn < 0) return HS_ERR_INVALID;
        if (!ok) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "HMAC-SHA256 failed");
        memcpy(out + off, i ? " v1," : "v1,", i ? 4 : 3);
        off += i ? 4 : 3;
        off += hs_b64_encode(mac, sizeof mac, out + off, out_size - off);
    }
    return HS_OK;
}
