/* Standard Webhooks signing: the spec's published example, rotation (one signature per secret),
 * threads signing at once with keys of their own, generated secrets, and every bad secret or
 * argument. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "hs_whsig.h"

#define EX_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define EX_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define EX_TS 1614265330
#define EX_BODY "{\"test\": 2432232314}"
#define EX_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

Test(whsig, published_example) {
    const char *secrets[] = {EX_SECRET};
    char out[HS_WHSIG_SIG_LEN], err[128] = "";
    cr_assert_eq(hs_whsig_sign(secrets, 1, EX_ID, EX_TS, EX_BODY, strlen(EX_BODY), out, sizeof out,
                               err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_str_eq(out, EX_SIG);
}

Test(whsig, one_signature_per_secret_in_order) {
    char fresh[HS_WHSIG_SECRET_LEN], err[128] = "";
    cr_assert_eq(hs_whsig_secret_new(fresh, sizeof fresh, err, sizeof err), HS_OK, "%s", err);
    const char *secrets[] = {fresh, EX_SECRET};
    char out[2 * HS_WHSIG_SIG_LEN];
    cr_assert_eq(hs_whsig_sign(secrets, 2, EX_ID, EX_TS, EX_BODY, strlen(EX_BODY), out, sizeof out,
                               err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(strlen(out), 2 * HS_WHSIG_SIG_LEN - 1);
    cr_assert_str_eq(out + HS_WHSIG_SIG_LEN, EX_SIG);
    cr_assert_eq(out[HS_WHSIG_SIG_LEN - 1], ' ');
    cr_assert(strncmp(out, "v1,", 3) == 0 && strncmp(out, EX_SIG, HS_WHSIG_SIG_LEN - 1) != 0);
}

/* Each thread alternates the published secret with one of its own (its HMAC context is
 * re-keyed on every call): every published-example signature must still match. */
static void *sign_many(void *arg) {
    (void)arg;
    char fresh[HS_WHSIG_SECRET_LEN], out[HS_WHSIG_SIG_LEN], err[128];
    if (hs_whsig_secret_new(fresh, sizeof fresh, err, sizeof err)) return "secret";
    const char *mine[] = {fresh}, *published[] = {EX_SECRET};
    for (int i = 0; i < 2000; i++) {
        const char *const *secrets = i % 2 ? mine : published;
        if (hs_whsig_sign(secrets, 1, EX_ID, EX_TS, EX_BODY, strlen(EX_BODY), out, sizeof out, err,
                          sizeof err))
            return "sign failed";
        if ((i % 2 == 0) != (strcmp(out, EX_SIG) == 0)) return "wrong signature";
    }
    return NULL;
}

Test(whsig, threads_sign_at_once_with_their_own_keys) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, sign_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_assert_null(r, "thread %d: %s", i, (char *)r);
    }
}

Test(whsig, signature_depends_on_every_part) {
    const char *secrets[] = {EX_SECRET};
    char out[HS_WHSIG_SIG_LEN], err[128];
    hs_whsig_sign(secrets, 1, "msg_other", EX_TS, EX_BODY, strlen(EX_BODY), out, sizeof out, err,
                  sizeof err);
    cr_assert_str_neq(out, EX_SIG);
    hs_whsig_sign(secrets, 1, EX_ID, EX_TS + 1, EX_BODY, strlen(EX_BODY), out, sizeof out, err,
                  sizeof err);
    cr_assert_str_neq(out, EX_SIG);
    hs_whsig_sign(secrets, 1, EX_ID, EX_TS, EX_BODY, strlen(EX_BODY) - 1, out, sizeof out, err,
                  sizeof err);
    cr_assert_str_neq(out, EX_SIG);
    cr_assert_eq(hs_whsig_sign(secrets, 1, EX_ID, EX_TS, NULL, 0, out, sizeof out, err, sizeof err),
                 HS_OK, "an empty body is signed too");
}

Test(whsig, generated_secrets_are_valid_and_distinct) {
    char a[HS_WHSIG_SECRET_LEN], b[HS_WHSIG_SECRET_LEN], err[128] = "";
    cr_assert_eq(hs_whsig_secret_new(a, sizeof a, err, sizeof err), HS_OK);
    cr_assert_eq(hs_whsig_secret_new(b, sizeof b, err, sizeof err), HS_OK);
    cr_assert_eq(strlen(a), HS_WHSIG_SECRET_LEN - 1);
    cr_assert(strncmp(a, "whsec_", 6) == 0);
    cr_assert_str_neq(a, b);
    cr_assert_eq(hs_whsig_secret_check(a, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(hs_whsig_secret_new(a, HS_WHSIG_SECRET_LEN - 1, err, sizeof err), HS_ERR_INVALID);
}

Test(whsig, secret_check) {
    char err[128];
    cr_assert_eq(hs_whsig_secret_check(EX_SECRET, err, sizeof err), HS_OK);
    /* 64 bytes of key is the largest allowed, 65 is too many. */
    char big[6 + 88 + 1] = "whsec_";
    memset(big + 6, 'A', 86);
    memcpy(big + 6 + 86, "==", 3);
    cr_assert_eq(hs_whsig_secret_check(big, err, sizeof err), HS_OK, "%s", err);
    memcpy(big + 6 + 86, "AA", 3); /* 66 bytes */
    cr_assert_eq(hs_whsig_secret_check(big, err, sizeof err), HS_ERR_INVALID);
    static const struct {
        const char *secret, *why;
    } bad[] = {
        {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "start with"},
        {"whsec", "start with"},
        {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "start with"},
        {"whsec_", "at least 24"},
        {"whsec_c2hvcnQ=", "at least 24"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "base64"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa w", "base64"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8I-PZIo2LaLaSw", "base64"},
        {"whsec_"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "AAAA",
         "base64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(hs_whsig_secret_check(bad[i].secret, err, sizeof err), HS_ERR_INVALID, "%s",
                     bad[i].secret);
        cr_assert(strstr(err, bad[i].why), "%s: %s", bad[i].secret, err);
        cr_assert(strstr(err, "MfKQ9r8") == NULL, "never echoes the secret");
    }
    cr_assert_eq(hs_whsig_secret_check(NULL, err, sizeof err), HS_ERR_INVALID);
}

Test(whsig, sign_errors) {
    const char *good[] = {EX_SECRET}, *bad[] = {EX_SECRET, "whsec_nope"};
    char out[4 * HS_WHSIG_SIG_LEN], err[128];
    cr_assert_eq(hs_whsig_sign(good, 0, EX_ID, EX_TS, "x", 1, out, sizeof out, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(hs_whsig_sign(good, 1, "", EX_TS, "x", 1, out, sizeof out, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(hs_whsig_sign(good, 1, NULL, EX_TS, "x", 1, out, sizeof out, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(hs_whsig_sign(bad, 2, EX_ID, EX_TS, "x", 1, out, sizeof out, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_eq(
        hs_whsig_sign(good, 1, EX_ID, EX_TS, "x", 1, out, HS_WHSIG_SIG_LEN - 1, err, sizeof err),
        HS_ERR_TOO_LARGE);
    char id[HS_WHSIG_MAX_ID + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    cr_assert_eq(hs_whsig_sign(good, 1, id, EX_TS, "x", 1, out, sizeof out, err, sizeof err),
                 HS_ERR_TOO_LARGE);
    id[HS_WHSIG_MAX_ID] = '\0';
    cr_assert_eq(hs_whsig_sign(good, 1, id, EX_TS, "x", 1, out, sizeof out, err, sizeof err),
                 HS_OK);
}
