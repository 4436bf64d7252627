/* Strict base64: RFC 4648 vectors, round trips of every length, and every malformed shape. */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_b64.h"

Test(b64, rfc4648_vectors) {
    static const char *const v[][2] = {{"", ""},
                                       {"f", "Zg=="},
                                       {"fo", "Zm8="},
                                       {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="},
                                       {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[32];
        size_t n = strlen(v[i][0]);
        cr_assert_eq(hs_b64_encode((const unsigned char *)v[i][0], n, out, sizeof out),
                     strlen(v[i][1]));
        cr_assert_str_eq(out, v[i][1]);
        unsigned char dec[32];
        cr_assert_eq(hs_b64_decode(v[i][1], strlen(v[i][1]), dec, sizeof dec), (long)n);
        cr_assert(memcmp(dec, v[i][0], n) == 0);
    }
}

Test(b64, round_trip_every_length) {
    unsigned char in[64], dec[64];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 255);
    for (size_t n = 0; n <= sizeof in; n++) {
        char text[HS_B64_LEN(64) + 1];
        size_t len = hs_b64_encode(in, n, text, sizeof text);
        cr_assert_eq(len, HS_B64_LEN(n));
        cr_assert_eq(hs_b64_decode(text, len, dec, n), (long)n, "n=%zu exact room", n);
        cr_assert(memcmp(in, dec, n) == 0);
        if (n) cr_assert_eq(hs_b64_decode(text, len, dec, n - 1), -1, "one byte short");
    }
}

Test(b64, encode_needs_room) {
    char out[5];
    cr_assert_eq(hs_b64_encode((const unsigned char *)"foo", 3, out, 4), 0);
    cr_assert_eq(hs_b64_encode((const unsigned char *)"foo", 3, out, 5), 4);
}

Test(b64, malformed) {
    const char *bad[] = {"Zg=",  "Zg",   "Z===", "Zm9v Yg==", "Zm9v\nYg==", "Zm-v",
                         "Zm_v", "=Zm9", "Zg=a", "Zm9vYg=A",  "Z=g=",       "===="};
    unsigned char out[32];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hs_b64_decode(bad[i], strlen(bad[i]), out, sizeof out), -1, "\"%s\"", bad[i]);
}
