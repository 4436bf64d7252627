/* Secrets at rest (endpoint signing secrets in Postgres): AES-256-GCM under a master key from
 * config or env, sealed as "v1." + base64(nonce 12 | ciphertext | tag 16) with a fresh random
 * nonce each time. An optional context (the endpoint id) is bound as additional data, so a
 * sealed value copied to another row does not open. Errors never echo keys or plaintexts. */
#ifndef HS_SECRETBOX_H
#define HS_SECRETBOX_H

#include <stddef.h>

#include "hs_err.h"

#define HS_SECRETBOX_MAX_PLAIN 65536 /* longest plaintext sealed or opened */

typedef struct {
    unsigned char key[32];
} hs_secretbox_key_t;

/* Parses master: 32 bytes as 64 hex chars (either case) or base64 (44 chars). HS_ERR_INVALID
 * otherwise; errors never echo the key. */
hs_err_t hs_secretbox_key_parse(const char *master, hs_secretbox_key_t *key, char *errstr,
                                size_t n);

/* Returns a new string "v1." + base64(nonce12 | ciphertext | tag16) (caller frees) or NULL
 * with errstr (plaintext longer than HS_SECRETBOX_MAX_PLAIN, OpenSSL failure). aad (may be
 * NULL, same as "") binds the ciphertext to a context, e.g. the endpoint id. */
char *hs_secretbox_seal(const hs_secretbox_key_t *key, const char *plaintext, const char *aad,
                        char *errstr, size_t n);

/* Returns the new plaintext (caller frees; wipe with OPENSSL_cleanse before free is the
 * caller's choice) or NULL with errstr when tampered, wrong key, wrong aad, malformed. */
char *hs_secretbox_open(const hs_secretbox_key_t *key, const char *sealed, const char *aad,
                        char *errstr, size_t n);

#endif
