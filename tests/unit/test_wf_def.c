/* Workflow definitions: the data cases of tests/data/workflows (a folder per case with
 * workflow.yaml and expected.txt: "ok" or the exact error), the parsed tree of a full
 * definition, defaults and versions, lookups, and loading a directory where one bad file does
 * not stop the others. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_def.h"

#define DIR_ HS_TEST_DATA "/workflows"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    buf[size] = 0;
    if (len) *len = (size_t)size;
    return buf;
}

/* Parses tests/data/workflows/<name>/workflow.yaml, named "workflow.yaml" in errors. */
static wf_def_t *parse_case(const char *name, char *err, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/workflow.yaml", DIR_, name);
    size_t len;
    char *text = slurp(path, &len);
    wf_def_t *d = wf_def_parse(text, len, "workflow.yaml", err, n);
    free(text);
    return d;
}

static void run_case(const char *name) {
    char path[512], err[1024] = "";
    snprintf(path, sizeof path, "%s/%s/expected.txt", DIR_, name);
    char *want = slurp(path, NULL);
    want[strcspn(want, "\n")] = 0;
    wf_def_t *d = parse_case(name, err, sizeof err);
    if (!strcmp(want, "ok"))
        cr_expect_not_null(d, "%s: %s", name, err);
    else
        cr_expect(!d && !strcmp(err, want), "%s:\n  got  %s\n  want %s", name, d ? "(loaded)" : err,
                  want);
    wf_def_free(d);
    free(want);
}

Test(wf_def, data_cases) {
    DIR *dp = opendir(DIR_);
    cr_assert_not_null(dp);
    struct dirent *de;
    int cases = 0;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        run_case(de->d_name);
        cases++;
    }
    closedir(dp);
    cr_expect_geq(cases, 40);
}

Test(wf_def, full_definition) {
    char err[1024];
    wf_def_t *d = parse_case("ok_full", err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_expect_str_eq(d->name, "order-welcome");
    cr_expect_str_eq(d->version, "3");
    cr_expect_str_eq(d->file, "workflow.yaml");
    cr_expect_eq(d->nevents, 2);
    cr_expect_str_eq(d->events[1], "customer.*");
    cr_expect_null(d->schedule);
    cr_expect_not_null(d->condition);
    cr_expect_str_eq(d->key, "{{ event.subject }}");
    cr_expect_eq(d->max_runs, 100);
    cr_expect_eq(d->max_per_key, 1);
    cr_expect_eq(d->timeout_ms, 7 * 86400000LL);
    cr_assert_eq(d->steps.n, 8);

    const wf_step_t *s = &d->steps.items[0];
    cr_expect_str_eq(s->id, "create_contact");
    cr_expect_eq(s->kind, WF_STEP_HTTP);
    cr_expect_eq(s->line, 11);
    cr_expect_str_eq(s->integration, "crm");
    cr_expect_eq(s->timeout_ms, 10000);
    cr_expect_eq(s->deadline_ms, 2 * 3600000);
    cr_expect_eq(s->retry.initial_ms, 2000);
    cr_expect_float_eq(s->retry.coefficient, 1.5, 1e-9);
    cr_expect_eq(s->retry.max_interval_ms, 60000);
    cr_expect_eq(s->retry.max_attempts, 4);
    cr_expect_eq(s->retry.n_non_retryable, 4);
    cr_expect_eq(s->retry.non_retryable[3], 422);
    cr_expect_eq(s->retry.retry_4xx, 1);
    cr_assert_eq(s->on_error.n, 1);
    cr_expect_str_eq(s->on_error.items[0].id, "alert");
    json_t *want =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:f, s:i, s:b, s:s, s:n}, s:[i, i]}", "method",
                  "POST", "url", "{{ env.CRM_URL }}/api/profiles", "headers", "Authorization",
                  "Bearer {{ secrets.crm }}", "body", "email", "{{ event.data.customer.email }}",
                  "first_name", "{{ event.data.customer.first_name }}", "score", 2.5, "count", 3,
                  "vip", 1, "zip", "01234", "none", "expect", 200, 201);
    char *got = json_dumps(s->params, JSON_SORT_KEYS);
    cr_expect(json_equal(s->params, want), "params %s", got);
    free(got);
    json_decref(want);

    s = &d->steps.items[3];
    cr_expect_eq(s->kind, WF_STEP_BRANCH);
    cr_expect_eq(json_object_size(s->params), 0);
    cr_expect_eq(s->then_steps.n, 1);
    cr_expect_eq(s->else_steps.n, 1);
    cr_expect_eq(s->then_steps.items[0].kind, WF_STEP_SLACK);
    s = &d->steps.items[4];
    cr_expect_eq(s->kind, WF_STEP_WAIT_FOR_EVENT);
    cr_expect_eq(s->timeout_ms, 3600000);
    cr_expect_str_eq(json_string_value(json_object_get(s->params, "timeout")), "1h");
    /* defaults of a step without the keys */
    s = &d->steps.items[1];
    cr_expect_eq(s->timeout_ms, 30000);
    cr_expect_eq(s->deadline_ms, 24 * 3600000LL);
    cr_expect_eq(s->retry.initial_ms, 1000);
    cr_expect_eq(s->retry.max_interval_ms, 100000);
    cr_expect_eq(s->retry.max_attempts, 5);
    cr_expect_null(s->integration);
    wf_def_free(d);
}

Test(wf_def, lookups) {
    char err[1024];
    wf_def_t *d = parse_case("ok_full", err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_expect_eq(wf_def_step(d, "notify"), &d->steps.items[3].then_steps.items[0]);
    cr_expect_eq(wf_def_step(d, "alert"), &d->steps.items[0].on_error.items[0]);
    cr_expect_null(wf_def_step(d, "nope"));
    cr_expect(wf_def_matches_type(d, "order.placed"));
    cr_expect(wf_def_matches_type(d, "customer.created"));
    cr_expect(!wf_def_matches_type(d, "order.paid"));
    cr_expect(!wf_def_matches_type(d, "customer"));
    const char *types[4] = {"order.paid"};
    cr_expect_eq(wf_def_wait_types(d, types, 1, 4), 1); /* already listed */
    cr_expect_eq(wf_def_wait_types(d, types, 0, 4), 1);
    cr_expect_str_eq(types[0], "order.paid");
    cr_expect_eq(wf_def_wait_types(d, types, 0, 0), 0);
    cr_expect_str_eq(wf_step_kind_str(WF_STEP_WAIT_FOR_EVENT), "wait_for_event");
    wf_def_free(d);
}

Test(wf_def, defaults_and_versions) {
    const char *text = "name: a\ntrigger: {schedule: '@every 30s'}\nsteps: [{id: x, type: log, "
                       "message: hi}]\n";
    char err[512];
    wf_def_t *d = wf_def_parse(text, strlen(text), NULL, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_expect_str_eq(d->file, "<text>");
    cr_expect_str_eq(d->text, text);
    cr_expect_str_eq(d->schedule, "@every 30s");
    cr_expect_eq(d->cron.every_ms, 30000);
    cr_expect_eq(d->nevents, 0);
    cr_expect_eq(d->timeout_ms, 7 * 86400000LL);
    cr_expect_eq(d->max_runs, 0);
    cr_expect_eq(strlen(d->version), 16);
    cr_expect_eq(strncmp(d->version, "sha-", 4), 0);
    cr_expect_eq(strspn(d->version + 4, "0123456789abcdef"), 12);
    wf_def_t *same = wf_def_parse(text, strlen(text), "other.yaml", err, sizeof err);
    cr_expect_str_eq(same->version, d->version);
    const char *text2 = "name: a\ntrigger: {schedule: '@every 31s'}\nsteps: [{id: x, type: log, "
                        "message: hi}]\n";
    wf_def_t *other = wf_def_parse(text2, strlen(text2), NULL, err, sizeof err);
    cr_expect_str_neq(other->version, d->version);
    wf_def_free(d);
    wf_def_free(same);
    wf_def_free(other);
    wf_def_free(NULL);
}

Test(wf_def, input_bounds) {
    char err[512];
    const char bad[] = "name: a\ntrigger: {events: [order.placed]}\n\x01steps: []\n";
    cr_expect_null(wf_def_parse(bad, sizeof bad - 1, "w.yaml", err, sizeof err));
    cr_expect_str_eq(err, "w.yaml:3: not UTF-8 text");
    const char latin1[] = "name: caf\xe9\n";
    cr_expect_null(wf_def_parse(latin1, sizeof latin1 - 1, "w.yaml", err, sizeof err));
    cr_expect_str_eq(err, "w.yaml:1: not UTF-8 text");
    size_t big = (1 << 20) + 1;
    char *text = malloc(big);
    memset(text, '#', big);
    cr_expect_null(wf_def_parse(text, big, "w.yaml", err, sizeof err));
    cr_expect(strstr(err, "larger than"), "%s", err);
    free(text);
    cr_expect_null(wf_def_parse("", 0, "w.yaml", err, sizeof err));
    cr_expect_str_eq(err, "w.yaml:1: empty, expected a mapping with name, trigger and steps");
    cr_expect_null(wf_def_parse(" \n\n", 3, "w.yaml", err, sizeof err));
    cr_expect_str_eq(err, "w.yaml:1: empty, expected a mapping with name, trigger and steps");
    cr_expect_null(wf_def_parse("hello", 5, "w.yaml", err, sizeof err));
    cr_expect_str_eq(err, "w.yaml:1: expected a mapping with name, trigger and steps");
}

/* ---- directories ---------------------------------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static const char *good(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "name: %s\ntrigger: {events: [order.placed]}\nsteps:\n  - {id: a, type: log, "
             "message: x}\n",
             name);
    return buf;
}

Test(wf_def, load_directory) {
    char dir[] = "/tmp/test_wf_def_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    put(dir, "b.yaml", good("zeta"));
    put(dir, "a.yml", good("alpha"));
    put(dir, "c.yaml",
        "name: bad\ntrigger: {events: [order.placed]}\nsteps:\n  - {id: a, "
        "type: nope}\n");
    put(dir, "d.yaml", good("alpha"));
    put(dir, "notes.txt", "not yaml: [");
    put(dir, ".hidden.yaml", "not yaml: [");
    char err[512], sub[600];
    snprintf(sub, sizeof sub, "%s/dir.yaml", dir);
    cr_assert_eq(mkdir(sub, 0700), 0); /* a directory named *.yaml is not a file */

    wf_defs_t *s = wf_defs_load(dir, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(s->n, 2);
    cr_expect_str_eq(s->defs[0]->name, "alpha");
    cr_expect_str_eq(s->defs[1]->name, "zeta");
    cr_assert_eq(s->nerrors, 2);
    char want[1024];
    snprintf(want, sizeof want,
             "%s/c.yaml:4: step a: unknown step type `nope` (types: http, slack, email, emit, "
             "delay, branch, log, wait_for_event)",
             dir);
    cr_expect_str_eq(s->errors[0], want);
    snprintf(want, sizeof want, "%s/d.yaml:1: workflow alpha is already defined in %s/a.yml", dir,
             dir);
    cr_expect_str_eq(s->errors[1], want);
    cr_expect_eq(wf_defs_find(s, "zeta"), s->defs[1]);
    cr_expect_null(wf_defs_find(s, "bad"));
    wf_defs_free(s);
    wf_defs_free(NULL);

    const char *files[] = {"a.yml", "b.yaml", "c.yaml", "d.yaml", "notes.txt", ".hidden.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, files[i]);
        unlink(sub);
    }
    snprintf(sub, sizeof sub, "%s/dir.yaml", dir);
    rmdir(sub);
    s = wf_defs_load(dir, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_expect_eq(s->n + s->nerrors, 0);
    wf_defs_free(s);
    rmdir(dir);
    cr_expect_null(wf_defs_load(dir, err, sizeof err));
    cr_expect(strstr(err, "cannot read the directory"), "%s", err);
}

Test(wf_def, fingerprint_changes_with_the_files) {
    char dir[] = "/tmp/test_wf_fp_XXXXXX", path[600];
    cr_assert_not_null(mkdtemp(dir));
    uint64_t empty = wf_defs_fingerprint(dir);
    put(dir, "a.yaml", good("alpha"));
    uint64_t one = wf_defs_fingerprint(dir);
    cr_expect_neq(one, empty);
    cr_expect_eq(wf_defs_fingerprint(dir), one);
    put(dir, "notes.txt", "ignored");
    cr_expect_eq(wf_defs_fingerprint(dir), one);
    put(dir, "a.yaml", good("alphabet")); /* new size */
    uint64_t changed = wf_defs_fingerprint(dir);
    cr_expect_neq(changed, one);
    put(dir, "b.yaml", good("beta"));
    cr_expect_neq(wf_defs_fingerprint(dir), changed);
    snprintf(path, sizeof path, "%s/b.yaml", dir);
    unlink(path);
    cr_expect_eq(wf_defs_fingerprint(dir), changed);
    snprintf(path, sizeof path, "%s/a.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    unlink(path);
    rmdir(dir);
    cr_expect_eq(wf_defs_fingerprint(dir), 0);
}

Test(wf_def, templated_values_and_normalized_params) {
    char err[1024];
    wf_def_t *d = parse_case("ok_templated_values", err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_expect_str_eq(d->version, "v2.1-beta");
    cr_expect(wf_def_matches_type(d, "support.ticket.created"));
    cr_expect_eq(d->max_per_key, 2);
    const wf_step_t *call = wf_def_step(d, "call");
    json_t *want = json_pack("[i]", 200);
    cr_expect(json_equal(json_object_get(call->params, "expect"), want), "expect: a list");
    json_decref(want);
    cr_expect_str_eq(json_string_value(json_object_get(call->params, "method")), "post");
    cr_expect_str_eq(json_string_value(json_object_get(wf_def_step(d, "out")->params, "data")),
                     "{{ event.data }}");
    cr_expect_not_null(wf_def_step(d, "deep"));
    wf_def_free(d);
}
