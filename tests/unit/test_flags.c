/* Feature flags: the data cases of tests/data/flags (flagd's own test vectors for fractional,
 * sem_ver, starts_with/ends_with, $ref and reasons: flags.json, context.json, expected.json, a
 * context and expectation each or arrays of them; rejected_* folders hold a document and a
 * part of the error it must get), evaluated with and without the compiled rollout path;
 * murmur3 reference vectors; rollout stability; documents as sources; the store's file reload. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_flags.h"
#include "hs_flags_internal.h"
#include "hs_log.h"
#include "hs_metrics.h"
#include "hs_murmur3.h"

#define DIR_ HS_TEST_DATA "/flags"

static json_t *load(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", DIR_, dir, name);
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(v, "%s: %s", path, jerr.text);
    return v;
}

static char *slurp(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", DIR_, dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[len] = 0;
    return buf;
}

/* JSON equality where 1 and 1.0 are the same number; NULL is JSON null. */
static int same(const json_t *a, const json_t *b) {
    if (!a) a = json_null();
    if (!b) b = json_null();
    if (json_is_number(a) && json_is_number(b))
        return fabs(json_number_value(a) - json_number_value(b)) < 1e-12;
    return json_equal((json_t *)a, (json_t *)b);
}

static void check_one(const char *dir, hs_flagset_t *set, const json_t *ctx, const json_t *want,
                      const char *path) {
    hs_flag_result_t r;
    const char *key = json_string_value(json_object_get(want, "flag"));
    hs_flagset_eval(set, key, ctx, &r);
    const json_t *wv = json_object_get(want, "variant");
    const char *werr = json_string_value(json_object_get(want, "error"));
    char *cs = json_dumps(ctx, JSON_COMPACT);
    cr_expect(json_is_null(wv) ? r.variant == NULL
                               : r.variant && !strcmp(r.variant, json_string_value(wv)),
              "%s (%s) %s: variant %s", dir, path, cs, r.variant ? r.variant : "NULL");
    cr_expect(same(r.value, json_object_get(want, "value")), "%s (%s) %s: value", dir, path, cs);
    cr_expect_str_eq(hs_flag_reason_str(r.reason),
                     json_string_value(json_object_get(want, "reason")), "%s (%s) %s: reason", dir,
                     path, cs);
    cr_expect_str_eq(hs_flag_error_str(r.error), werr ? werr : "", "%s (%s) %s: error", dir, path,
                     cs);
    free(cs);
}

/* Evaluates the case with the fast path on and off; returns the number of evaluations. */
static int run_case(const char *dir) {
    json_t *doc = load(dir, "flags.json"), *ctx = load(dir, "context.json");
    json_t *want = load(dir, "expected.json");
    char err[512] = "";
    int n = 0;
    for (int fast = 0; fast < 2; fast++) {
        hs_flagset_t *set = hs_flagset_new_ex(doc, fast, err, sizeof err);
        cr_assert_not_null(set, "%s: %s", dir, err);
        if (json_is_array(ctx)) {
            cr_assert_eq(json_array_size(ctx), json_array_size(want), "%s", dir);
            for (size_t i = 0; i < json_array_size(ctx); i++, n++)
                check_one(dir, set, json_array_get(ctx, i), json_array_get(want, i),
                          fast ? "fast" : "generic");
        } else {
            check_one(dir, set, ctx, want, fast ? "fast" : "generic");
            n++;
        }
        hs_flagset_release(set);
    }
    json_decref(doc);
    json_decref(ctx);
    json_decref(want);
    return n;
}

static void run_rejected(const char *dir) {
    char *text = slurp(dir, "flags.json"), *why = slurp(dir, "rejected"), err[512] = "";
    cr_assert(text && why, "%s", dir);
    why[strcspn(why, "\n")] = 0;
    hs_flagset_t *set = hs_flagset_parse(text, strlen(text), err, sizeof err);
    cr_expect_null(set, "%s: accepted", dir);
    cr_expect(strstr(err, why), "%s: \"%s\" lacks \"%s\"", dir, err, why);
    hs_flagset_release(set);
    free(text);
    free(why);
}

Test(flags, data_cases) {
    hs_log_init("test", HS_LOG_OFF);
    DIR *d = opendir(DIR_);
    cr_assert_not_null(d);
    struct dirent *e;
    int evals = 0, rejected = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!strncmp(e->d_name, "rejected_", 9)) {
            run_rejected(e->d_name);
            rejected++;
        } else {
            evals += run_case(e->d_name);
        }
    }
    closedir(d);
    cr_assert_geq(evals, 2 * 100, "only %d evaluations", evals);
    cr_assert_geq(rejected, 25, "only %d rejected documents", rejected);
}

/* ---- murmur3 ------------------------------------------------------------------------------- */

Test(flags, murmur3_reference_vectors) {
    static const struct {
        const char *key;
        uint32_t seed, hash;
    } v[] = {
        {"", 0, 0},
        {"", 1, 0x514E28B7},
        {"", 0xffffffff, 0x81F16F39},
        {"a", 0x9747b28c, 0x7FA09EA6},
        {"ab", 0x9747b28c, 0x74875592},
        {"abc", 0x9747b28c, 0xC84A62DD},
        {"abcd", 0x9747b28c, 0xF0478627},
        {"aaaa", 0x9747b28c, 0x5A97808A},
        {"Hello, world!", 0x9747b28c, 0x24884CBA},
        {"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2FA826CD},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_expect_eq(hs_murmur3_32(v[i].key, strlen(v[i].key), v[i].seed), v[i].hash,
                     "\"%s\" seed %x: %x", v[i].key, v[i].seed,
                     hs_murmur3_32(v[i].key, strlen(v[i].key), v[i].seed));
    uint8_t zeros[4] = {0};
    cr_expect_eq(hs_murmur3_32(zeros, 4, 0), 0x2362F9DE);
}

/* SMHasher's VerificationTest: hash keys {0}, {0,1}, ... {0..254} with seed 256 - len, then the
 * 256 little-endian hashes with seed 0. MurmurHash3_x86_32's value is 0xB0F57EE3. */
Test(flags, murmur3_smhasher_verification) {
    uint8_t key[256], hashes[256 * 4];
    for (int i = 0; i < 256; i++) {
        key[i] = (uint8_t)i;
        uint32_t h = hs_murmur3_32(key, (size_t)i, 256u - (uint32_t)i);
        for (int b = 0; b < 4; b++)
            hashes[i * 4 + b] = (uint8_t)(h >> (8 * b));
    }
    cr_assert_eq(hs_murmur3_32(hashes, sizeof hashes, 0), 0xB0F57EE3u);
}

/* ---- rollouts ------------------------------------------------------------------------------ */

static hs_flagset_t *rollout(int pct, int fast) {
    char text[512], err[512];
    snprintf(text, sizeof text,
             "{\"flags\": {\"new-checkout\": {\"state\": \"ENABLED\", \"defaultVariant\": \"off\","
             "\"variants\": {\"on\": true, \"off\": false}, \"targeting\": {\"fractional\": "
             "[[\"on\", %d], [\"off\", %d]]}}}}",
             pct, 100 - pct);
    json_t *doc = json_loads(text, 0, NULL);
    hs_flagset_t *s = hs_flagset_new_ex(doc, fast, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    json_decref(doc);
    return s;
}

static int on_for(hs_flagset_t *s, int user) {
    char id[32];
    snprintf(id, sizeof id, "user-%d", user);
    json_t *ctx = json_pack("{s:s}", "targetingKey", id);
    int on = hs_flagset_bool(s, "new-checkout", ctx, -1);
    cr_assert_neq(on, -1);
    json_decref(ctx);
    return on;
}

Test(flags, rollout_is_stable_and_only_grows) {
    enum { USERS = 20000 };
    hs_flagset_t *p10 = rollout(10, 1), *p20 = rollout(20, 1), *again = rollout(10, 0);
    int on10 = 0, on20 = 0;
    for (int u = 0; u < USERS; u++) {
        int a = on_for(p10, u), b = on_for(p20, u);
        cr_assert_eq(a, on_for(p10, u), "user-%d changed between two evaluations", u);
        cr_assert_eq(a, on_for(again, u), "user-%d: another set of the same flag differs", u);
        cr_assert(!a || b, "user-%d was on at 10%% and is off at 20%%", u);
        on10 += a;
        on20 += b;
    }
    cr_expect(on10 > USERS * 9 / 100 && on10 < USERS * 11 / 100, "10%%: %d of %d", on10, USERS);
    cr_expect(on20 > USERS * 19 / 100 && on20 < USERS * 21 / 100, "20%%: %d of %d", on20, USERS);
    hs_flagset_release(p10);
    hs_flagset_release(p20);
    hs_flagset_release(again);
}

/* The compiled path and JsonLogic agree on every rollout shape, for contexts that have the
 * bucketing value, lack it, or hold something else there. */
Test(flags, fast_path_matches_generic_path) {
    hs_log_init("test", HS_LOG_OFF);
    static const char *const targetings[] = {
        "{\"fractional\": [[\"a\", 10], [\"b\", 20], [\"c\", 70]]}",
        "{\"fractional\": [{\"var\": \"user.email\"}, [\"a\", 50], [\"b\", 50]]}",
        "{\"fractional\": [{\"var\": [\"email\"]}, [\"a\"], [true, 3], [\"nope\", 1]]}",
        "{\"fractional\": [{\"cat\": [{\"var\": \"$flagd.flagKey\"}, {\"var\": \"email\"}]}, "
        "[\"a\", 1], [\"b\", 1]]}",
        "{\"fractional\": [\"fixed\", [\"a\", 1], [\"b\", 1], [\"c\", 1]]}",
        "{\"fractional\": [[\"a\", 0], [\"b\", 0]]}",
    };
    static const char *const contexts[] = {
        "{\"targetingKey\": \"u-%d\", \"email\": \"e%d@x.io\", \"user\": {\"email\": \"e%d@y\"}}",
        "{\"targetingKey\": \"u-%d\"}",
        "{\"email\": %d, \"user\": [%d, %d]}",
        "{\"targetingKey\": %d, \"email\": null}",
        "{}",
    };
    for (size_t t = 0; t < sizeof targetings / sizeof *targetings; t++) {
        char text[1024], err[512];
        snprintf(text, sizeof text,
                 "{\"flags\": {\"k\": {\"state\": \"ENABLED\", \"defaultVariant\": \"a\", "
                 "\"variants\": {\"a\": 1, \"b\": 2, \"c\": 3, \"true\": 4}, \"targeting\": %s}}}",
                 targetings[t]);
        json_t *doc = json_loads(text, 0, NULL);
        hs_flagset_t *fast = hs_flagset_new_ex(doc, 1, err, sizeof err);
        hs_flagset_t *slow = hs_flagset_new_ex(doc, 0, err, sizeof err);
        cr_assert(fast && slow, "%s: %s", targetings[t], err);
        cr_expect_neq(fast->flags[0].fast.kind, HS_FAST_NONE, "%s is not compiled", targetings[t]);
        for (size_t c = 0; c < sizeof contexts / sizeof *contexts; c++)
            for (int i = 0; i < 500; i++) {
                char ctext[256];
                snprintf(ctext, sizeof ctext, contexts[c], i, i, i);
                json_t *ctx = json_loads(ctext, 0, NULL);
                hs_flag_result_t a, b;
                hs_flagset_eval(fast, "k", ctx, &a);
                hs_flagset_eval(slow, "k", ctx, &b);
                cr_assert(a.variant == b.variant ||
                              (a.variant && b.variant && !strcmp(a.variant, b.variant)),
                          "%s on %s: %s vs %s", targetings[t], ctext, a.variant, b.variant);
                cr_assert_eq(a.reason, b.reason, "%s on %s", targetings[t], ctext);
                cr_assert_eq(a.error, b.error, "%s on %s", targetings[t], ctext);
                json_decref(ctx);
            }
        hs_flagset_release(fast);
        hs_flagset_release(slow);
        json_decref(doc);
    }
}

/* ---- API ----------------------------------------------------------------------------------- */

static const char base_doc[] =
    "{\"flags\": {\"on\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},"
    " \"defaultVariant\": \"on\"}, \"color\": {\"state\": \"ENABLED\", \"variants\": {\"r\": "
    "\"red\"}, \"defaultVariant\": \"r\"}}}";

Test(flags, results_for_missing_flags_bad_contexts_and_types) {
    char err[256];
    hs_flagset_t *s = hs_flagset_parse(base_doc, strlen(base_doc), err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(hs_flagset_count(s), 2);
    hs_flag_result_t r;
    cr_assert_eq(hs_flagset_eval(s, "nope", NULL, &r), HS_FLAG_ERR_NOT_FOUND);
    cr_assert_eq(r.reason, HS_FLAG_REASON_ERROR);
    cr_assert_null(r.value);
    json_t *arr = json_array();
    cr_assert_eq(hs_flagset_eval(s, "on", arr, &r), HS_FLAG_ERR_INVALID_CONTEXT);
    cr_assert_str_eq(hs_flag_error_str(r.error), "INVALID_CONTEXT");
    json_decref(arr);
    cr_assert_eq(hs_flagset_bool(s, "on", NULL, 0), 1);
    cr_assert_eq(hs_flagset_bool(s, "color", NULL, 0), 0, "a string flag is no boolean");
    cr_assert_eq(hs_flagset_bool(s, "nope", NULL, 1), 1);
    cr_assert_str_eq(hs_flag_reason_str(HS_FLAG_REASON_TARGETING_MATCH), "TARGETING_MATCH");
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(hs_flagset_doc(s), "flags"), "color"),
                         "defaultVariant")),
                     "r");
    hs_flagset_release(hs_flagset_ref(s));
    hs_flagset_release(s);
    hs_flagset_release(NULL);
    cr_assert_null(hs_flagset_parse(NULL, 0, err, sizeof err));
}

Test(flags, documents_merge_and_records_apply) {
    hs_log_init("test", HS_LOG_OFF);
    char err[512];
    json_t *base = json_loads(base_doc, 0, NULL), *state = json_pack("{s:{}}", "flags");
    const char *off = "{\"state\": \"DISABLED\", \"variants\": {\"on\": true}}";
    cr_assert_eq(hs_flags_doc_apply(state, base, "on", off, strlen(off), err, sizeof err), HS_OK,
                 "%s", err);
    json_t *m = hs_flags_doc_merge(base, state);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(m, "flags"), "on"), "state")),
                     "DISABLED", "the topic's definition wins over the file's");
    cr_assert_not_null(json_object_get(json_object_get(m, "flags"), "color"));
    json_decref(m);
    const char *bad = "{\"state\": \"ENABLED\", \"variants\": {\"on\": true}, \"defaultVariant\": "
                      "\"x\"}";
    cr_assert_eq(hs_flags_doc_apply(state, base, "on", bad, strlen(bad), err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "flag 'on': defaultVariant 'x'"), "%s", err);
    cr_assert_eq(hs_flags_doc_apply(state, base, "on", "{nope", 5, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(state, "flags"), "on"), "state")),
                     "DISABLED", "a rejected record leaves the previous definition");
    const char *uses = "{\"state\": \"ENABLED\", \"variants\": {\"on\": true}, \"targeting\": "
                       "{\"if\": [{\"$ref\": \"staff\"}, \"on\", null]}}";
    cr_assert_eq(hs_flags_doc_apply(state, base, "ref", uses, strlen(uses), err, sizeof err),
                 HS_ERR_INVALID, "unknown $ref accepted");
    const char *ev = "{\"staff\": {\"ends_with\": [{\"var\": \"email\"}, \"@us\"]}}";
    cr_assert_eq(hs_flags_doc_apply(state, base, "$evaluators", ev, strlen(ev), err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(hs_flags_doc_apply(state, base, "ref", uses, strlen(uses), err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(hs_flags_doc_apply(state, base, "$evaluators", NULL, 0, err, sizeof err),
                 HS_ERR_INVALID, "evaluators in use dropped");
    cr_assert(strstr(err, "flag 'ref': targeting: unknown $ref 'staff'"), "%s", err);
    cr_assert_eq(hs_flags_doc_apply(state, base, "on", NULL, 0, err, sizeof err), HS_OK);
    cr_assert_null(json_object_get(json_object_get(state, "flags"), "on"), "tombstone kept it");
    cr_assert_eq(hs_flags_doc_apply(state, base, "", "{}", 2, err, sizeof err), HS_ERR_INVALID);
    json_decref(base);
    json_decref(state);
}

/* ---- the store ----------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text) {
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

/* A started store of the file alone; *cfg is its config, freed after the store. */
static hs_flags_t *file_store(const char *path, hs_config_t **cfgp) {
    char err[512];
    hs_config_t *cfg = *cfgp = hs_config_new();
    cr_assert_eq(hs_config_set(cfg, "flags.file", path, "--set", err, sizeof err), HS_OK);
    cr_assert_eq(hs_config_set(cfg, "flags.topic", "", "--set", err, sizeof err), HS_OK);
    cr_assert_eq(hs_config_set(cfg, "flags.poll_ms", "10", "--set", err, sizeof err), HS_OK);
    hs_flags_t *f = hs_flags_new(cfg, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(hs_flags_start(f, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(hs_flags_wait_ready(f, 1000, err, sizeof err), HS_OK, "%s", err);
    return f;
}

static int wait_bool(hs_flags_t *f, const char *key, int want) {
    for (int i = 0; i < 300; i++) {
        if (hs_flags_bool(f, key, NULL, -1) == want) return 1;
        usleep(10000);
    }
    return 0;
}

static long long reloads(const char *result) {
    char *text = hs_metrics_render(), needle[128];
    snprintf(needle, sizeof needle, "hs_flag_reloads_total{source=\"file\",result=\"%s\"} ",
             result);
    char *at = strstr(text, needle);
    long long v = at ? strtoll(at + strlen(needle), NULL, 10) : 0;
    free(text);
    return v;
}

#define KILL_SWITCH(state, def)                                                                    \
    "{\"flags\": {\"integration.shopify.enabled\": {\"state\": \"" state "\", \"variants\": "      \
    "{\"on\": true, \"off\": false}, \"defaultVariant\": \"" def "\"}}}"

Test(flags, store_reloads_the_file_and_keeps_flags_on_a_bad_one) {
    hs_log_init("test", HS_LOG_OFF);
    char path[] = "/tmp/test_flags_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_file(path, KILL_SWITCH("ENABLED", "on"));
    hs_config_t *cfg;
    hs_flags_t *f = file_store(path, &cfg);
    cr_assert_eq(hs_flags_integration_enabled(f, "shopify", NULL), 1);
    cr_assert_eq(hs_flags_integration_enabled(f, "stripe", NULL), 1, "no flag: enabled");
    long long rejected = reloads("rejected");

    write_file(path, "{\"flags\": {\"integration.shopify.enabled\": {\"state\": \"ON\"}}}");
    for (int i = 0; i < 300 && reloads("rejected") == rejected; i++)
        usleep(10000);
    cr_assert_eq(reloads("rejected"), rejected + 1, "the bad file was not counted as rejected");
    cr_assert_eq(hs_flags_integration_enabled(f, "shopify", NULL), 1, "previous flags lost");

    write_file(path, "{\"flags\": ");
    usleep(100000);
    cr_assert_eq(hs_flags_bool(f, "integration.shopify.enabled", NULL, -1), 1);

    write_file(path, KILL_SWITCH("ENABLED", "off"));
    cr_assert(wait_bool(f, "integration.shopify.enabled", 0), "good file not reloaded");
    cr_assert_eq(hs_flags_integration_enabled(f, "shopify", NULL), 0);
    write_file(path, KILL_SWITCH("DISABLED", "on"));
    for (int i = 0; i < 300 && hs_flags_integration_enabled(f, "shopify", NULL); i++)
        usleep(10000);
    cr_assert_eq(hs_flags_integration_enabled(f, "shopify", NULL), 0, "DISABLED kill switch");

    hs_flagset_t *snap = hs_flags_snapshot(f);
    hs_flags_destroy(f);
    hs_config_destroy(cfg);
    cr_assert_eq(hs_flagset_count(snap), 1, "a snapshot outlives its store");
    hs_flagset_release(snap);
    unlink(path);
}

Test(flags, store_refuses_a_bad_file_at_start_and_counts_evaluations) {
    hs_log_init("test", HS_LOG_OFF);
    char err[512], path[] = "/tmp/test_flags_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_file(path, "{\"flags\": {\"x\": {\"state\": \"ENABLED\", \"variants\": {}}}}");
    hs_config_t *cfg = hs_config_new();
    hs_config_set(cfg, "flags.file", path, "--set", err, sizeof err);
    cr_assert_null(hs_flags_new(cfg, err, sizeof err));
    cr_assert(strstr(err, path) && strstr(err, "flag 'x': variants"), "%s", err);
    hs_config_set(cfg, "flags.file", "/nonexistent/flags.json", "--set", err, sizeof err);
    cr_assert_null(hs_flags_new(cfg, err, sizeof err));
    cr_assert(strstr(err, "/nonexistent/flags.json"), "%s", err);

    write_file(path, KILL_SWITCH("ENABLED", "off"));
    hs_config_t *store_cfg;
    hs_flags_t *f = file_store(path, &store_cfg);
    for (int i = 0; i < 5; i++)
        hs_flags_integration_enabled(f, "shopify", NULL);
    hs_flags_destroy(f);
    hs_config_destroy(store_cfg);
    char *text = hs_metrics_render();
    cr_assert(strstr(text, "hs_flag_evaluations_total{flag=\"integration.shopify.enabled\","
                           "variant=\"off\",reason=\"STATIC\"} 5"),
              "%s", text);
    cr_assert(strstr(text, "hs_flags_loaded 1"), "%s", text);
    free(text);
    hs_config_destroy(cfg);
    unlink(path);
}
