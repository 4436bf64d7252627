/* libFuzzer target for workflow templates and cron schedules. The input is a template and a
 * JSON context separated by a NUL byte: checking and rendering must agree (what renders passes
 * the check), a failure must say why, and the output stays within its bound. The template text
 * is also read as a cron schedule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_cron.h"
#include "wf_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    char *text = malloc(len + 1);
    if (!text) return 0;
    memcpy(text, data, len);
    text[len] = 0;
    json_t *ctx = nul ? json_loadb((const char *)nul + 1, size - len - 1, 0, NULL) : NULL;
    if (!ctx) ctx = json_pack("{s:{s:s, s:[i, {s:s}]}}", "event", "id", "e1", "items", 1, "a", "b");

    char err[512] = "";
    int ok = wf_template_check(text, err, sizeof err) == HS_OK;
    if (!ok && !err[0]) abort();
    err[0] = 0;
    json_t *v = wf_template_render(text, wf_template_resolve_json, ctx, err, sizeof err);
    if (v && !ok) abort();
    if (!v && !err[0]) abort();
    if (json_is_string(v) && json_string_length(v) > (1u << 20)) abort();
    json_decref(v);
    char *s = wf_template_render_str(text, wf_template_resolve_json, ctx, err, sizeof err);
    free(s);
    json_decref(ctx);

    wf_cron_t c;
    err[0] = 0;
    if (wf_cron_parse(text, &c, err, sizeof err) == HS_OK) {
        int64_t next = wf_cron_next(&c, 1700000000000);
        if (next != -1 && next <= 1700000000000) abort();
    } else if (!err[0]) {
        abort();
    }
    free(text);
    return 0;
}
