/* The provider table: adding a provider is one row here and one source_<provider>.c file. */
#include <stdio.h>
#include <string.h>

#include "hs_source_impl.h"

static const struct {
    const char *type;
    const hs_source_t *src;
} sources[] = {
    {"shopify", &hs_source_shopify},
    {"stripe", &hs_source_stripe},
    {"github", &hs_source_github},
    {"slack", &hs_source_slack},
    {"standard-webhooks", &hs_source_standard_webhooks},
    {"svix", &hs_source_svix},
    {"zendesk", &hs_source_zendesk},
    {"twilio", &hs_source_twilio},
    {"chatwoot", &hs_source_chatwoot},
    {"generic-hmac", &hs_source_generic_hmac},
};

const hs_source_t *hs_source_find(const char *type) {
    for (size_t i = 0; type && i < sizeof sources / sizeof sources[0]; i++)
        if (strcmp(sources[i].type, type) == 0) return sources[i].src;
    return NULL;
}

const hs_source_t *hs_source_at(size_t i) {
    return i < sizeof sources / sizeof sources[0] ? sources[i].src : NULL;
}

void hs_source_list(char *out, size_t out_size) {
    size_t k = 0;
    if (out_size) out[0] = '\0';
    for (size_t i = 0; i < sizeof sources / sizeof sources[0] && k < out_size; i++) {
        int n = snprintf(out + k, out_size - k, "%s%s", i ? ", " : "", sources[i].type);
        if (n < 0) break;
        k += (size_t)n;
    }
}
