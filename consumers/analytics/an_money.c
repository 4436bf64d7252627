/* Fixed-point amounts (see an_money.h). */
#include "an_money.h"

#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

/* ISO 4217 currencies whose minor unit is not 1/100 (Stripe's zero-decimal list and the
 * three-decimal dinars). */
static const struct {
    const char *code;
    int exponent;
} exponents[] = {
    {"BIF", 0}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"ISK", 0}, {"JPY", 0}, {"KMF", 0}, {"KRW", 0},
    {"MGA", 0}, {"PYG", 0}, {"RWF", 0}, {"UGX", 0}, {"VND", 0}, {"VUV", 0}, {"XAF", 0}, {"XOF", 0},
    {"XPF", 0}, {"BHD", 3}, {"IQD", 3}, {"JOD", 3}, {"KWD", 3}, {"LYD", 3}, {"OMR", 3}, {"TND", 3},
};

int an_money_parse(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    int neg = len > 0 && s[0] == '-';
    i += (size_t)neg;
    int64_t v = 0;
    size_t digits = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        v = v * 10 + (s[i] - '0');
        if (v > AN_MONEY_MAX / AN_MONEY_SCALE) return -1;
    }
    if (!digits) return -1;
    v *= AN_MONEY_SCALE;
    if (i < len && s[i] == '.') {
        i++;
        int64_t unit = AN_MONEY_SCALE / 10;
        size_t frac = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, frac++, unit /= 10) {
            if (frac == 4) return -1;
            v += (s[i] - '0') * unit;
        }
        if (!frac) return -1;
    }
    if (i != len || v > AN_MONEY_MAX) return -1;
    *out = neg ? -v : v;
    return 0;
}

int an_money_from_minor(int64_t minor, const char *currency, int64_t *out) {
    int exponent = 2;
    for (size_t i = 0; i < sizeof exponents / sizeof exponents[0]; i++)
        if (!strcasecmp(currency, exponents[i].code)) exponent = exponents[i].exponent;
    int64_t mul = exponent == 0 ? 10000 : exponent == 2 ? 100 : 10;
    if (minor > AN_MONEY_MAX / mul || minor < -AN_MONEY_MAX / mul) return -1;
    *out = minor * mul;
    return 0;
}

void an_money_format(int64_t v, char *out, size_t n) {
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(out, n, "%s%" PRIu64 ".%04" PRIu64, v < 0 ? "-" : "", a / AN_MONEY_SCALE,
             a % AN_MONEY_SCALE);
}
