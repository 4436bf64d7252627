/* libFuzzer target for the small parsers of delivery settings an operator or API caller types:
 * retry policies, durations, the SSRF allow-list, sealed secrets. Any text must be accepted or
 * refused with a reason, never crash; an accepted policy must round-trip through its format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_backoff.h"
#include "hs_secretbox.h"
#include "hs_ssrf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char err[512] = "";
    hs_backoff_t b, again;
    if (hs_backoff_parse(text, &b, err, sizeof err) == HS_OK) {
        char spec[1024];
        hs_backoff_format(&b, spec, sizeof spec);
        if (hs_backoff_parse(spec, &again, err, sizeof err) != HS_OK) abort();
        uint64_t rng = 88172645463325252ULL;
        for (int attempt = 1; attempt <= 3; attempt++)
            if (hs_backoff_next_ms(&b, attempt, 1000, &rng) < -1) abort();
    } else if (!err[0]) {
        abort();
    }
    int64_t ms;
    hs_duration_parse(text, &ms);
    err[0] = 0;
    hs_ssrf_t *g = hs_ssrf_new(text, err, sizeof err);
    if (!g && !err[0]) abort();
    hs_ssrf_destroy(g);
    hs_secretbox_key_t key;
    memset(&key, 7, sizeof key);
    char *plain = hs_secretbox_open(&key, text, "ep_fuzz", err, sizeof err);
    free(plain);
    free(text);
    return 0;
}
