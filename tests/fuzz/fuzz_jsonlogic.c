/* libFuzzer target for the JsonLogic evaluator (delivery filters, later flag targeting). The
 * input is a rule and a data document separated by a NUL byte; any JSON must give a result or
 * an error that says why, never crash or run away (depth and size are bounded). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_jsonlogic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t rule_len = nul ? (size_t)(nul - data) : size;
    json_t *rule = json_loadb((const char *)data, rule_len, JSON_DECODE_ANY, NULL);
    json_t *doc =
        nul ? json_loadb((const char *)nul + 1, size - rule_len - 1, JSON_DECODE_ANY, NULL) : NULL;
    if (rule) {
        char err[256] = "";
        json_t *r = hs_jsonlogic_apply(rule, doc ? doc : json_null(), err, sizeof err);
        if (!r && !err[0]) abort(); /* a failure must say why */
        if (r) hs_jsonlogic_truthy(r);
        json_decref(r);
        err[0] = 0;
        if (hs_jsonlogic_check(rule, err, sizeof err) != HS_OK && !err[0]) abort();
    }
    json_decref(rule);
    json_decref(doc);
    return 0;
}
