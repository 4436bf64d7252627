/* libFuzzer target for feature flags: any input is parsed as a flags document (hs_flagset_parse
 * must accept it or say why), and every flag of an accepted set is evaluated on a fixed context
 * with the compiled rollout path on and off, which must agree. Never a crash, a leak or a
 * runaway: documents, $ref expansion and JsonLogic depth are bounded. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_flags.h"
#include "hs_flags_internal.h"
#include "hs_log.h"

static const char context[] =
    "{\"targetingKey\": \"user-42\", \"email\": \"ada@faas.com\", \"version\": \"1.2.3-rc.1\", "
    "\"plan\": \"pro\", \"n\": 3, \"user\": {\"id\": \"u1\", \"tags\": [\"a\", \"b\"]}}";

static int same_result(const hs_flag_result_t *a, const hs_flag_result_t *b) {
    return a->reason == b->reason && a->error == b->error &&
           (a->variant == b->variant ||
            (a->variant && b->variant && !strcmp(a->variant, b->variant)));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    hs_log_init("fuzz", HS_LOG_OFF); /* failed evaluations are logged: not the point here */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    hs_flagset_t *fast = hs_flagset_parse((const char *)data, size, err, sizeof err);
    if (!fast) {
        if (!err[0]) abort(); /* a rejection must say why */
        return 0;
    }
    hs_flagset_t *slow = hs_flagset_new_ex(hs_flagset_doc(fast), 0, err, sizeof err);
    if (!slow) abort(); /* the same document cannot be valid once and invalid once */
    json_t *ctx = json_loads(context, 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(hs_flagset_doc(fast), "flags"), key, v) {
        hs_flag_result_t a, b;
        hs_flagset_eval(fast, key, ctx, &a);
        hs_flagset_eval(slow, key, ctx, &b);
        if (!same_result(&a, &b)) abort();
        hs_flagset_eval(fast, key, NULL, &a);
        hs_flagset_eval(slow, key, NULL, &b);
        if (!same_result(&a, &b)) abort();
    }
    json_decref(ctx);
    hs_flagset_release(slow);
    hs_flagset_release(fast);
    return 0;
}
