/* Standard Webhooks signing, the outbound side: endpoint secrets ("whsec_" + base64 of 24..64
 * random bytes) and the webhook-signature header, "v1,<base64 HMAC-SHA256>" over
 * "msg_id.timestamp.body", one signature per active secret so receivers keep verifying during
 * a rotation. Spec: github.com/standard-webhooks/standard-webhooks. No allocation. */
#ifndef HS_WHSIG_H
#define HS_WHSIG_H

#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

#define HS_WHSIG_PREFIX "whsec_"
#define HS_WHSIG_SECRET_BYTES 24 /* of a generated secret */
#define HS_WHSIG_SECRET_MAX 64   /* bytes of key a secret may carry */
/* Room for a generated secret and its NUL: "whsec_" + 32 base64 characters. */
#define HS_WHSIG_SECRET_LEN 39
#define HS_WHSIG_MAX_ID 256 /* longest message id signed */
/* Room per signature in the header: "v1," + 44 base64 characters + a separating space. */
#define HS_WHSIG_SIG_LEN 48

/* Writes a new secret "whsec_" + base64(24 random bytes, RAND_bytes) and a NUL to out (n >=
 * HS_WHSIG_SECRET_LEN). HS_ERR_INVALID when out is too small, HS_ERR_INTERNAL when the random
 * generator fails. */
hs_err_t hs_whsig_secret_new(char *out, size_t n, char *errstr, size_t errstr_size);

/* Checks a user-given secret: "whsec_" + strict base64 of 24..64 bytes. HS_ERR_INVALID naming
 * what is wrong (never echoing the secret). */
hs_err_t hs_whsig_secret_check(const char *secret, char *errstr, size_t errstr_size);

/* Writes the webhook-signature header value and a NUL to out: "v1,<b64> v1,<b64>" one per
 * secret, in order, each base64(HMAC-SHA256(key = base64-decoded secret after "whsec_",
 * "msg_id.timestamp_s.body")). HS_ERR_INVALID for a bad secret, no secret or an empty msg_id;
 * HS_ERR_TOO_LARGE when msg_id is longer than HS_WHSIG_MAX_ID or out_size is less than
 * nsecrets * HS_WHSIG_SIG_LEN. */
hs_err_t hs_whsig_sign(const char *const *secrets, size_t nsecrets, const char *msg_id,
                       int64_t timestamp_s, const void *body, size_t len, char *out,
                       size_t out_size, char *errstr, size_t errstr_size);

#endif
