/* Secrets at rest: key formats, round trip, fresh nonces, and refusal on tampering, a wrong
 * key, a wrong context and malformed input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hs_secretbox.h"

#define HEX_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F"
#define B64_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* the same 32 bytes */

static hs_secretbox_key_t key_of(const char *master) {
    hs_secretbox_key_t k;
    char err[256] = "";
    cr_assert_eq(hs_secretbox_key_parse(master, &k, err, sizeof err), HS_OK, "%s", err);
    return k;
}

Test(secretbox, hex_and_base64_keys_are_the_same_key) {
    hs_secretbox_key_t a = key_of(HEX_KEY), b = key_of(B64_KEY);
    cr_assert(memcmp(a.key, b.key, 32) == 0);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(a.key[i], i);
}

Test(secretbox, bad_keys_are_refused_without_echo) {
    const char *bad[] = {"",
                         "00010203",
                         HEX_KEY "00",
                         "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_secretbox_key_t k;
        char err[256] = "";
        cr_assert_eq(hs_secretbox_key_parse(bad[i], &k, err, sizeof err), HS_ERR_INVALID, "%s",
                     bad[i]);
        cr_assert(strstr(err, "master key"), "%s", err);
        cr_assert(strstr(err, "0102") == NULL && strstr(err, "AAEC") == NULL, "no echo: %s", err);
    }
    hs_secretbox_key_t k;
    char err[256];
    cr_assert_eq(hs_secretbox_key_parse(NULL, &k, err, sizeof err), HS_ERR_INVALID);
}

Test(secretbox, round_trip_with_and_without_context) {
    hs_secretbox_key_t k = key_of(HEX_KEY);
    char err[256] = "";
    const char *plains[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", "x"};
    const char *aads[] = {NULL, "ep_123"};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 2; j++) {
            char *sealed = hs_secretbox_seal(&k, plains[i], aads[j], err, sizeof err);
            cr_assert_not_null(sealed, "%s", err);
            cr_assert(strncmp(sealed, "v1.", 3) == 0);
            cr_assert(strlen(plains[i]) < 8 || strstr(sealed, plains[i]) == NULL);
            char *plain = hs_secretbox_open(&k, sealed, aads[j], err, sizeof err);
            cr_assert_not_null(plain, "%s", err);
            cr_assert_str_eq(plain, plains[i]);
            free(plain);
            free(sealed);
        }
    }
}

Test(secretbox, null_and_empty_context_are_the_same) {
    hs_secretbox_key_t k = key_of(HEX_KEY);
    char err[256];
    char *sealed = hs_secretbox_seal(&k, "s", NULL, err, sizeof err);
    char *plain = hs_secretbox_open(&k, sealed, "", err, sizeof err);
    cr_assert_str_eq(plain, "s");
    free(plain);
    free(sealed);
}

Test(secretbox, each_seal_uses_a_fresh_nonce) {
    hs_secretbox_key_t k = key_of(HEX_KEY);
    char err[256];
    char *a = hs_secretbox_seal(&k, "same", "ep", err, sizeof err);
    char *b = hs_secretbox_seal(&k, "same", "ep", err, sizeof err);
    cr_assert_str_neq(a, b);
    free(a);
    free(b);
}

static void refused(const hs_secretbox_key_t *k, const char *sealed, const char *aad,
                    hs_err_t want_class) {
    char err[256] = "";
    char *plain = hs_secretbox_open(k, sealed, aad, err, sizeof err);
    cr_assert_null(plain, "\"%s\" opened", sealed ? sealed : "(null)");
    cr_assert(strlen(err) > 0);
    cr_assert(want_class != HS_ERR_AUTH || strstr(err, "does not open"), "%s", err);
    cr_assert(want_class != HS_ERR_INVALID || strstr(err, "sealed value"), "%s", err);
}

Test(secretbox, tampered_wrong_key_wrong_context) {
    hs_secretbox_key_t k = key_of(HEX_KEY),
                       other = key_of(
                           "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    char err[256];
    char *sealed = hs_secretbox_seal(&k, "whsec_secret_value_here", "ep_1", err, sizeof err);
    cr_assert_not_null(sealed);
    refused(&other, sealed, "ep_1", HS_ERR_AUTH);
    refused(&k, sealed, "ep_2", HS_ERR_AUTH);
    refused(&k, sealed, NULL, HS_ERR_AUTH);
    /* Flip one base64 character in the nonce, the ciphertext and the tag in turn. */
    size_t len = strlen(sealed);
    size_t where[] = {4, 20, len - 6};
    for (size_t i = 0; i < 3; i++) {
        char *t = strdup(sealed);
        t[where[i]] = t[where[i]] == 'A' ? 'B' : 'A';
        refused(&k, t, "ep_1", HS_ERR_AUTH);
        free(t);
    }
    /* Truncated by one group of 4 characters: still base64, but the tag no longer matches. */
    char *t = strdup(sealed);
    t[len - 4] = '\0';
    refused(&k, t, "ep_1", HS_ERR_AUTH);
    free(t);
    free(sealed);
}

Test(secretbox, malformed) {
    hs_secretbox_key_t k = key_of(HEX_KEY);
    const char *bad[] = {"",
                         "v1",
                         "v1.",
                         "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "v1.not base64!",
                         "v1.AAAA",
                         "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "plain text"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(&k, bad[i], NULL, HS_ERR_INVALID);
    refused(&k, NULL, NULL, HS_ERR_INVALID);
}

Test(secretbox, bounded_sizes) {
    hs_secretbox_key_t k = key_of(HEX_KEY);
    char err[256];
    char *big = malloc(HS_SECRETBOX_MAX_PLAIN + 2);
    memset(big, 'a', HS_SECRETBOX_MAX_PLAIN + 1);
    big[HS_SECRETBOX_MAX_PLAIN + 1] = '\0';
    cr_assert_null(hs_secretbox_seal(&k, big, NULL, err, sizeof err));
    cr_assert(strstr(err, "longer than"), "%s", err);
    big[HS_SECRETBOX_MAX_PLAIN] = '\0';
    char *sealed = hs_secretbox_seal(&k, big, NULL, err, sizeof err);
    cr_assert_not_null(sealed, "%s", err);
    char *plain = hs_secretbox_open(&k, sealed, NULL, err, sizeof err);
    cr_assert_not_null(plain, "%s", err);
    cr_assert_eq(strlen(plain), HS_SECRETBOX_MAX_PLAIN);
    free(plain);
    free(sealed);
    free(big);
}
