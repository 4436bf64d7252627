/* Amounts of analytics windows as exact fixed-point integers: ten-thousandths of the currency's
 * major unit (199.00 EUR = 1990000), so sums never drift and Postgres gets exact numerics.
 * Orders carry decimal strings in major units ("199.00"), payments integers in the currency's
 * minor unit (Stripe: 1999 USD = 19.99, 500 JPY = 500): both end up in the same unit. */
#ifndef AN_MONEY_H
#define AN_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define AN_MONEY_SCALE 10000
/* Largest magnitude of one amount: 10^14 major units (sums of many stay far from overflow). */
#define AN_MONEY_MAX (100000000000000LL * AN_MONEY_SCALE)

/* Parses a decimal in major units: optional '-', digits, optional '.' and 1-4 digits
 * ("199", "199.5", "-0.0001"). Returns 0 with *out, -1 for anything else (empty, spaces,
 * exponent, more than 4 decimals, above AN_MONEY_MAX). */
int an_money_parse(const char *s, size_t len, int64_t *out);
/* Converts minor units of ISO 4217 currency (3 letters, any case) into *out; the exponent is 2
 * unless the currency has 0 (JPY, KRW, ...) or 3 (BHD, KWD, ...). Returns -1 past AN_MONEY_MAX. */
int an_money_from_minor(int64_t minor, const char *currency, int64_t *out);
/* Writes v as a decimal with 4 decimals ("199.0000", "-0.0001") into out (at least 32 bytes). */
void an_money_format(int64_t v, char *out, size_t n);

#endif
