/* libFuzzer target for workflow definitions: any bytes must either load or fail with a message
 * naming the file, never crash, hang or leak. A definition that loads is walked like the engine
 * walks it: every step found by id, wait types listed, and its params rendered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_def.h"
#include "wf_template.h"

static void walk(const wf_def_t *d, const wf_steps_t *s, json_t *ctx) {
    for (size_t i = 0; i < s->n; i++) {
        const wf_step_t *st = &s->items[i];
        if (wf_def_step(d, st->id) != st) abort(); /* ids are unique */
        char err[512] = "";
        json_t *r = wf_template_render_json(st->params, wf_template_resolve_json, ctx, err,
                                            sizeof err);
        if (!r && !err[0]) abort();
        json_decref(r);
        walk(d, &st->then_steps, ctx);
        walk(d, &st->else_steps, ctx);
        walk(d, &st->on_error, ctx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024] = "";
    wf_def_t *d = wf_def_parse((const char *)data, size, "fuzz.yaml", err, sizeof err);
    if (!d) {
        if (strncmp(err, "fuzz.yaml:", 10) != 0) abort(); /* a failure names the file */
        return 0;
    }
    json_t *ctx = json_pack("{s:{s:s, s:s, s:{s:i}}}", "event", "id", "e1", "subject", "s1",
                            "data", "total", 5);
    walk(d, &d->steps, ctx);
    const char *types[8];
    if (wf_def_wait_types(d, types, 0, 8) > 8) abort();
    (void)wf_def_matches_type(d, "order.placed");
    if (d->schedule && d->cron.every_ms == 0) (void)wf_cron_next(&d->cron, 0);
    json_decref(ctx);
    wf_def_free(d);
    return 0;
}
