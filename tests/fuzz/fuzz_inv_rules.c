/* libFuzzer target for the invalidator's rules: the input is an `invalidations` tree (JSON) and
 * an event's data separated by a NUL byte. Any tree is accepted or refused with a reason; the
 * tags of any event render within their bounds, never crash. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_catalog.h"
#include "inv_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t tree_len = nul ? (size_t)(nul - data) : size;
    json_t *tree = json_loadb((const char *)data, tree_len, JSON_DECODE_ANY, NULL);
    json_t *doc =
        nul ? json_loadb((const char *)nul + 1, size - tree_len - 1, JSON_DECODE_ANY, NULL) : NULL;
    char err[512] = "";
    inv_rules_t *r = tree ? inv_rules_new(tree, NULL, err, sizeof err) : NULL;
    if (tree && !r && !err[0]) abort(); /* a refusal must say why */
    static inv_tags_t tags;
    for (size_t i = 0; r && i < hs_catalog_count(); i++) {
        const char *type = hs_catalog_at(i)->type;
        json_t *event =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O?}", "id", "e", "type", type, "source",
                      "/f", "subject", "s", "time", "t", "tenant", "acme", "data", doc);
        inv_rules_render(r, type, event, &tags);
        if (tags.n > INV_MAX_TAGS) abort();
        for (size_t k = 0; k < tags.n; k++)
            if (!tags.tags[k][0] || strlen(tags.tags[k]) >= INV_TAG_MAX) abort();
        json_decref(event);
    }
    inv_rules_destroy(r);
    json_decref(tree);
    json_decref(doc);
    return 0;
}
