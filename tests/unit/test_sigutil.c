/* Signature building blocks: encodings, header splitting, timestamps and the tolerance window,
 * form bodies. The provider schemes built from them are tested in test_sources.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_sigutil.h"

static long b64(const char *s, unsigned char *out, size_t n) {
    return hs_sig_b64_decode(s, strlen(s), out, n);
}

Test(sigutil, base64_strict) {
    unsigned char out[64];
    cr_expect_eq(b64("", out, sizeof out), 0);
    cr_expect_eq(b64("Zg==", out, sizeof out), 1);
    cr_expect_eq(out[0], 'f');
    cr_expect_eq(b64("Zm8=", out, sizeof out), 2);
    cr_expect_eq(memcmp(out, "fo", 2), 0);
    cr_expect_eq(b64("Zm9v", out, sizeof out), 3);
    cr_expect_eq(b64("Zm9vYg==", out, sizeof out), 4);
    cr_expect_eq(memcmp(out, "foob", 4), 0);
    /* Refused: missing padding, padding inside, too much padding, whitespace, other alphabets. */
    const char *bad[] = {"Zg",   "Zg=",  "Z===", "Zg==Zg==", "Zm9v\n", " Zm9v",
                         "Zm-v", "Zm_v", "====", "Zm9vY",    "Zm9=v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(b64(bad[i], out, sizeof out), -1, "accepted '%s'", bad[i]);
}

Test(sigutil, base64_output_bound) {
    unsigned char out[4] = {0, 0, 0, 0x55};
    cr_expect_eq(b64("Zm9vYmFy", out, 3), -1); /* 6 bytes do not fit 3 */
    cr_expect_eq(b64("Zm9=", out, 2), 2);      /* padding bytes are not written */
    cr_expect_eq(out[2], 0);
    cr_expect_eq(out[3], 0x55);
}

Test(sigutil, base64_round_trip) {
    unsigned char in[64], back[64];
    char text[100];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n);
        size_t len = hs_sig_b64_encode(in, n, text, sizeof text);
        cr_assert_eq(len, (n + 2) / 3 * 4);
        cr_assert_eq(hs_sig_b64_decode(text, len, back, sizeof back), (long)n);
        cr_assert_eq(memcmp(in, back, n), 0);
    }
    cr_expect_eq(hs_sig_b64_encode(in, 3, text, 4), 0); /* no room for the NUL */
}

Test(sigutil, hex) {
    unsigned char out[4];
    char text[9];
    cr_expect_eq(hs_sig_hex_decode("00fFa9", 6, out, sizeof out), 3);
    cr_expect_eq(out[1], 0xff);
    cr_expect_eq(hs_sig_hex_decode("abc", 3, out, sizeof out), -1);
    cr_expect_eq(hs_sig_hex_decode("zz", 2, out, sizeof out), -1);
    cr_expect_eq(hs_sig_hex_decode("0011223344", 10, out, sizeof out), -1);
    cr_expect_eq(hs_sig_hex_encode(out, 3, text, sizeof text), 6);
    cr_expect_str_eq(text, "00ffa9");
    cr_expect_eq(hs_sig_hex_encode(out, 4, text, 8), 0);
}

Test(sigutil, hmac_rfc4231_case2) {
    /* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?". */
    unsigned char mac[HS_SIG_MAX_DIGEST];
    char hex[2 * HS_SIG_MAX_DIGEST + 1];
    hs_sig_part_t parts[] = {{"what do ya ", 11}, {"want for nothing?", 17}};
    size_t n = hs_sig_hmac(HS_SIG_SHA256, "Jefe", 4, parts, 2, mac);
    cr_assert_eq(n, 32);
    hs_sig_hex_encode(mac, n, hex, sizeof hex);
    cr_expect_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    n = hs_sig_hmac(HS_SIG_SHA512, "Jefe", 4, parts, 2, mac);
    cr_assert_eq(n, 64);
    hs_sig_hex_encode(mac, n, hex, sizeof hex);
    cr_expect_str_eq(hex, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                          "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    cr_expect_eq(hs_sig_hmac(HS_SIG_SHA1, "", 0, NULL, 0, mac), 20); /* empty key and data */
}

Test(sigutil, alg_names) {
    hs_sig_alg_t a;
    cr_expect_eq(hs_sig_alg_parse("sha512", &a), 0);
    cr_expect_eq(a, HS_SIG_SHA512);
    cr_expect_eq(hs_sig_alg_size(a), 64);
    cr_expect_eq(hs_sig_alg_parse("SHA256", &a), -1);
    cr_expect_eq(hs_sig_alg_parse("md5", &a), -1);
    cr_expect_eq(hs_sig_alg_parse(NULL, &a), -1);
}

Test(sigutil, equal) {
    cr_expect(hs_sig_equal("abc", 3, "abc", 3));
    cr_expect(!hs_sig_equal("abc", 3, "abd", 3));
    cr_expect(!hs_sig_equal("abc", 3, "abcd", 4));
    cr_expect(hs_sig_equal("", 0, "", 0));
}

Test(sigutil, split_stripe_style) {
    hs_sig_item_t it[HS_SIG_MAX_ITEMS];
    size_t n;
    char err[128];
    cr_assert_eq(
        hs_sig_split("t=12,v1=ab,,v1=c=d,x", ',', '=', it, HS_SIG_MAX_ITEMS, &n, err, sizeof err),
        HS_OK);
    cr_assert_eq(n, 4);
    cr_expect(hs_sig_item_is(&it[0], "t"));
    cr_expect_eq(it[0].val_len, 2);
    cr_expect(hs_sig_item_is(&it[2], "v1"));
    cr_expect_eq(strncmp(it[2].val, "c=d", it[2].val_len), 0);
    cr_expect_eq(it[3].key_len, 0); /* no '=': all value */
    cr_expect(!hs_sig_item_is(&it[3], "x"));
}

Test(sigutil, split_bounds) {
    hs_sig_item_t it[4];
    size_t n;
    char err[128], big[HS_SIG_MAX_HEADER + 2];
    cr_expect_eq(hs_sig_split("v1,a v1,b v1,c v1,d v1,e", ' ', ',', it, 4, &n, err, sizeof err),
                 HS_ERR_TOO_LARGE);
    cr_expect_str_eq(err, "more than 4 items");
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_expect_eq(hs_sig_split(big, ' ', ',', it, 4, &n, err, sizeof err), HS_ERR_TOO_LARGE);
    cr_expect_str_eq(err, "longer than 4096 bytes");
    big[HS_SIG_MAX_HEADER] = '\0';
    cr_expect_eq(hs_sig_split(big, ' ', ',', it, 4, &n, err, sizeof err), HS_OK);
    cr_expect_eq(hs_sig_split("", ' ', ',', it, 4, &n, err, sizeof err), HS_OK);
    cr_expect_eq(n, 0);
}

Test(sigutil, parse_uint) {
    int64_t v;
    cr_expect_eq(hs_sig_parse_uint("1700000000", 10, &v), 0);
    cr_expect_eq(v, 1700000000);
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1.5", "0x10", "1234567890123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(hs_sig_parse_uint(bad[i], strlen(bad[i]), &v), -1, "accepted '%s'", bad[i]);
}

Test(sigutil, iso8601) {
    int64_t t;
    cr_expect_eq(hs_sig_parse_iso8601("2021-03-25T05:09:27Z", &t), 0);
    cr_expect_eq(t, 1616648967);
    cr_expect_eq(hs_sig_parse_iso8601("2021-03-25T07:09:27+02:00", &t), 0);
    cr_expect_eq(t, 1616648967);
    cr_expect_eq(hs_sig_parse_iso8601("2021-03-25T01:09:27-0400", &t), 0);
    cr_expect_eq(t, 1616648967);
    cr_expect_eq(hs_sig_parse_iso8601_ms("2025-01-08T10:12:07.672717030Z", &t), 0);
    cr_expect_eq(t, 1736331127672);
    cr_expect_eq(hs_sig_parse_iso8601_ms("1970-01-01T00:00:00.5Z", &t), 0);
    cr_expect_eq(t, 500);
    cr_expect_eq(hs_sig_parse_iso8601("2024-02-29T00:00:00Z", &t), 0);
    cr_expect_eq(t, 1709164800);
    const char *bad[] = {
        "2021-03-25T05:09:27",   "2021-03-25",           "2021-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",  "2021-03-25T24:00:00Z", "2021-03-25T05:09:27.Z",
        "2021-03-25T05:09:27Zx", "1616648967",           "2021-03-25T05:09:27+25:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(hs_sig_parse_iso8601(bad[i], &t), -1, "accepted '%s'", bad[i]);
}

Test(sigutil, http_date) {
    int64_t t;
    cr_expect_eq(hs_sig_parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT", &t), 0);
    cr_expect_eq(t, 1700000000);
    const char *bad[] = {"Tue, 14 Nov 2023 22:13:20 UTC", "Tue, 14 Nov 2023 22:13:20",
                         "Xyz, 14 Nov 2023 22:13:20 GMT", "Tue, 14 Nox 2023 22:13:20 GMT",
                         "Tue, 31 Nov 2023 22:13:20 GMT", "Tuesday, 14-Nov-23 22:13:20 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(hs_sig_parse_http_date(bad[i], &t), -1, "accepted '%s'", bad[i]);
}

Test(sigutil, retry_after) {
    int64_t ms;
    cr_expect_eq(hs_sig_retry_after_ms("120", 1700000000, &ms), 0);
    cr_expect_eq(ms, 120000);
    cr_expect_eq(hs_sig_retry_after_ms("Tue, 14 Nov 2023 22:13:50 GMT", 1700000000, &ms), 0);
    cr_expect_eq(ms, 30000);
    cr_expect_eq(hs_sig_retry_after_ms("Tue, 14 Nov 2023 22:13:00 GMT", 1700000000, &ms), 0);
    cr_expect_eq(ms, 0, "a date in the past is now");
    const char *bad[] = {"", "-1", "1.5", " 5", "soon", "Tue, 14 Nov 2023"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(hs_sig_retry_after_ms(bad[i], 1700000000, &ms), -1, "accepted '%s'", bad[i]);
}

Test(sigutil, tolerance_window) {
    char err[128];
    cr_expect_eq(hs_sig_check_time(1000, 1300, 300, HS_SIG_WINDOW_SYMMETRIC, err, sizeof err),
                 HS_OK);
    cr_expect_eq(hs_sig_check_time(1000, 1301, 300, HS_SIG_WINDOW_SYMMETRIC, err, sizeof err),
                 HS_ERR_AUTH);
    cr_expect_str_eq(err, "timestamp 1000 is 301 s old (tolerance 300 s)");
    cr_expect_eq(hs_sig_check_time(1000, 700, 300, HS_SIG_WINDOW_SYMMETRIC, err, sizeof err),
                 HS_OK);
    cr_expect_eq(hs_sig_check_time(1000, 699, 300, HS_SIG_WINDOW_SYMMETRIC, err, sizeof err),
                 HS_ERR_AUTH);
    cr_expect_str_eq(err, "timestamp 1000 is 301 s in the future (tolerance 300 s)");
    cr_expect_eq(hs_sig_check_time(1000, 0, 300, HS_SIG_WINDOW_PAST, err, sizeof err), HS_OK);
    cr_expect_eq(hs_sig_check_time(0, 1000000, -1, HS_SIG_WINDOW_SYMMETRIC, err, sizeof err),
                 HS_OK);
}

Test(sigutil, form) {
    const char body[] = "a=1&&b=x+y%2Bz&flag&c=%zz";
    size_t pos = 0;
    hs_sig_form_pair_t p;
    char out[32];
    cr_assert_eq(hs_sig_form_next(body, strlen(body), &pos, &p), 1);
    cr_expect_eq(p.name_len, 1);
    cr_assert_eq(hs_sig_form_next(body, strlen(body), &pos, &p), 1);
    cr_expect_eq(strncmp(p.name, "b", p.name_len), 0);
    long n = hs_sig_form_decode(p.value, p.value_len, out);
    cr_expect_eq(n, 5);
    cr_expect_eq(memcmp(out, "x y+z", 5), 0);
    cr_assert_eq(hs_sig_form_next(body, strlen(body), &pos, &p), 1);
    cr_expect_eq(p.value_len, 0);
    cr_assert_eq(hs_sig_form_next(body, strlen(body), &pos, &p), 1);
    cr_expect_eq(hs_sig_form_decode(p.value, p.value_len, out), -1);
    cr_expect_eq(hs_sig_form_next(body, strlen(body), &pos, &p), 0);
    cr_expect_eq(hs_sig_form_decode("%4", 2, out), -1);
    cr_expect_eq(hs_sig_form_get(body, strlen(body), "b", out, sizeof out), 1);
    cr_expect_str_eq(out, "x y+z");
    cr_expect_eq(hs_sig_form_get(body, strlen(body), "nope", out, sizeof out), 0);
    cr_expect_eq(hs_sig_form_get(body, strlen(body), "c", out, sizeof out), -1);
    cr_expect_eq(hs_sig_form_get(body, strlen(body), "b", out, 5), -1); /* no room */
}
