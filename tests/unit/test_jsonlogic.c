/* JsonLogic: the data cases of tests/data/jsonlogic (folders of [logic, data, expected] in the
 * style of the official tests.json, and error_* folders with logic, data and the error),
 * truthiness, well-formedness checks, the depth bound, and extra operators. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_jsonlogic.h"

#define DIR_ HS_TEST_DATA "/jsonlogic"

/* JSON equality where 1 and 1.0 are the same number. */
static int same(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b))
        return fabs(json_number_value(a) - json_number_value(b)) <= 1e-12;
    if (json_typeof(a) != json_typeof(b)) return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b)) return 0;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !same(v, w)) return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static json_t *load(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", DIR_, dir, name);
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(v, "%s: %s", path, jerr.text);
    return v;
}

static int run_cases(const char *dir) {
    json_t *cases = load(dir, "cases.json");
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        char err[256] = "", *logic = json_dumps(json_array_get(c, 0), JSON_ENCODE_ANY);
        json_t *got =
            hs_jsonlogic_apply(json_array_get(c, 0), json_array_get(c, 1), err, sizeof err);
        char *gs = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        cr_expect(got && same(got, json_array_get(c, 2)), "%s #%zu %s: got %s %s", dir, i, logic,
                  gs ? gs : "NULL", err);
        free(gs);
        free(logic);
        json_decref(got);
    }
    size_t n = json_array_size(cases);
    json_decref(cases);
    return (int)n;
}

static void run_error(const char *dir) {
    json_t *logic = load(dir, "logic.json"), *data = load(dir, "data.json");
    char path[512], want[256] = "", err[256] = "";
    snprintf(path, sizeof path, "%s/%s/error", DIR_, dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    cr_assert_not_null(fgets(want, sizeof want, f));
    fclose(f);
    want[strcspn(want, "\n")] = '\0';
    json_t *got = hs_jsonlogic_apply(logic, data, err, sizeof err);
    cr_expect_null(got, "%s applied", dir);
    cr_expect(strstr(err, want), "%s: \"%s\" lacks \"%s\"", dir, err, want);
    json_decref(got);
    json_decref(logic);
    json_decref(data);
}

Test(jsonlogic, data_cases) {
    DIR *d = opendir(DIR_);
    cr_assert_not_null(d);
    struct dirent *e;
    int cases = 0, errors = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (strncmp(e->d_name, "error_", 6) == 0) {
            run_error(e->d_name);
            errors++;
        } else {
            cases += run_cases(e->d_name);
        }
    }
    closedir(d);
    cr_assert_geq(cases, 200, "only %d cases found", cases);
    cr_assert_geq(errors, 5);
}

static json_t *parse(const char *text) {
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(v, "%s: %s", text, jerr.text);
    return v;
}

Test(jsonlogic, truthiness) {
    const char *falsy[] = {"0", "0.0", "\"\"", "[]", "null", "false"};
    const char *truthy[] = {"1", "-1", "0.5", "\"0\"", "\"a\"", "[0]", "[[]]", "{}", "true"};
    for (size_t i = 0; i < sizeof falsy / sizeof falsy[0]; i++) {
        json_t *v = parse(falsy[i]);
        cr_assert_not(hs_jsonlogic_truthy(v), "%s", falsy[i]);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
        json_t *v = parse(truthy[i]);
        cr_assert(hs_jsonlogic_truthy(v), "%s", truthy[i]);
        json_decref(v);
    }
}

Test(jsonlogic, check_accepts_good_logic_and_literals) {
    const char *good[] = {
        "{\"and\":[{\"==\":[{\"var\":\"type\"},\"order.placed\"]},{\">\":[{\"var\":\"x\"},1]}]}",
        "{\"map\":[{\"var\":\"a\"},{\"*\":[{\"var\":\"\"},2]}]}",
        "true",
        "[1,{\"var\":\"a\"}]",
        "{\"a\":1,\"b\":2}",
        "{\"missing_some\":[1,[\"a\",\"b\"]]}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *v = parse(good[i]);
        char err[256] = "";
        cr_assert_eq(hs_jsonlogic_check(v, err, sizeof err), HS_OK, "%s: %s", good[i], err);
        json_decref(v);
    }
}

Test(jsonlogic, check_refuses_what_apply_would_only_find_late) {
    static const struct {
        const char *logic, *why;
    } bad[] = {
        {"{\"if\":[true,\"ok\",{\"nope\":[]}]}", "unknown operator \"nope\""},
        {"{\"and\":[false,{\"==\":[1]}]}", "\"==\" takes 2..2"},
        {"[1,{\"substr\":[]}]", "\"substr\""},
        {"{\"map\":[[1],{\"-\":[]}]}", "\"-\" takes 1..2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = parse(bad[i].logic);
        char err[256] = "";
        cr_assert_eq(hs_jsonlogic_check(v, err, sizeof err), HS_ERR_INVALID, "%s", bad[i].logic);
        cr_assert(strstr(err, bad[i].why), "%s: %s", bad[i].logic, err);
        json_decref(v);
    }
    char err[64];
    cr_assert_eq(hs_jsonlogic_check(NULL, err, sizeof err), HS_ERR_INVALID);
}

static json_t *nested(int depth) {
    json_t *v = json_true();
    for (int i = 0; i < depth; i++)
        v = json_pack("{s:[o]}", "!!", v);
    return v;
}

Test(jsonlogic, depth_is_bounded) {
    char err[256] = "";
    json_t *ok = nested(HS_JSONLOGIC_MAX_DEPTH), *deep = nested(HS_JSONLOGIC_MAX_DEPTH + 1);
    json_t *r = hs_jsonlogic_apply(ok, NULL, err, sizeof err);
    cr_assert(json_is_true(r), "%s", err);
    json_decref(r);
    cr_assert_eq(hs_jsonlogic_check(ok, err, sizeof err), HS_OK);
    cr_assert_null(hs_jsonlogic_apply(deep, NULL, err, sizeof err));
    cr_assert(strstr(err, "deeper than 64"), "%s", err);
    cr_assert_eq(hs_jsonlogic_check(deep, err, sizeof err), HS_ERR_INVALID);
    json_decref(ok);
    json_decref(deep);
}

/* An extra operator as flagd adds them: starts_with(string, prefix). */
static json_t *op_starts_with(hs_jsonlogic_ctx_t *ctx, json_t *const *a, size_t n,
                              const json_t *data) {
    (void)n, (void)data;
    if (!json_is_string(a[0]) || !json_is_string(a[1]))
        return hs_jsonlogic_fail(ctx, "starts_with needs strings");
    const char *s = json_string_value(a[0]), *p = json_string_value(a[1]);
    return json_boolean(strncmp(s, p, strlen(p)) == 0);
}

/* Overrides a built-in: a "cat" that shouts. */
static json_t *op_loud_cat(hs_jsonlogic_ctx_t *ctx, json_t *const *a, size_t n,
                           const json_t *data) {
    (void)ctx, (void)a, (void)n, (void)data;
    return json_string("LOUD");
}

static const hs_jsonlogic_op_t extra[] = {
    {"starts_with", 2, 2, 0, op_starts_with},
    {"cat", 0, -1, 0, op_loud_cat},
};

Test(jsonlogic, extra_operators) {
    json_t *logic = parse("{\"starts_with\":[{\"var\":\"email\"},\"admin@\"]}");
    json_t *data = parse("{\"email\":\"admin@example.com\"}");
    char err[256] = "";
    json_t *r = hs_jsonlogic_apply_ex(extra, 2, logic, data, err, sizeof err);
    cr_assert(json_is_true(r), "%s", err);
    json_decref(r);
    cr_assert_eq(hs_jsonlogic_check_ex(extra, 2, logic, err, sizeof err), HS_OK);
    cr_assert_eq(hs_jsonlogic_check(logic, err, sizeof err), HS_ERR_INVALID, "unknown built in");
    cr_assert_null(hs_jsonlogic_apply(logic, data, err, sizeof err));
    json_decref(logic);
    logic = parse("{\"starts_with\":[1,\"a\"]}");
    cr_assert_null(hs_jsonlogic_apply_ex(extra, 2, logic, data, err, sizeof err));
    cr_assert_str_eq(err, "starts_with needs strings");
    json_decref(logic);
    logic = parse("{\"cat\":[\"a\"]}");
    r = hs_jsonlogic_apply_ex(extra, 2, logic, data, err, sizeof err);
    cr_assert_str_eq(json_string_value(r), "LOUD");
    json_decref(r);
    json_decref(logic);
    json_decref(data);
}

Test(jsonlogic, coercions) {
    static const struct {
        const char *json, *str;
        double num;
    } cases[] = {
        {"1", "1", 1},
        {"1.5", "1.5", 1.5},
        {"\"\"", "", 0},
        {"\" 12 \"", " 12 ", 12},
        {"true", "true", 1},
        {"null", "null", 0},
        {"[]", "", 0},
        {"[7]", "7", 7},
        {"[1,null,2]", "1,,2", NAN},
        {"{}", "[object Object]", NAN},
        {"\"abc\"", "abc", NAN},
        {"\"inf\"", "inf", NAN},
        {"\"0x10\"", "0x10", NAN},
        {"0.1", "0.1", 0.1},
        {"1e21", "1e+21", 1e21},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = parse(cases[i].json);
        char *s = hs_jsonlogic_to_string(v);
        cr_assert_str_eq(s, cases[i].str, "%s", cases[i].json);
        double d = hs_jsonlogic_to_number(v);
        if (isnan(cases[i].num))
            cr_assert(isnan(d), "%s -> %g", cases[i].json, d);
        else
            cr_assert_float_eq(d, cases[i].num, 1e-12, "%s", cases[i].json);
        free(s);
        json_decref(v);
    }
    json_t *n = hs_jsonlogic_number(2.0);
    cr_assert(json_is_integer(n));
    json_decref(n);
    n = hs_jsonlogic_number(INFINITY);
    cr_assert(json_is_null(n));
}

Test(jsonlogic, results_do_not_alias_the_logic_when_modified) {
    /* merge builds a new array even from one literal array, so callers may modify results. */
    json_t *logic = parse("{\"merge\":[[1,2]]}");
    char err[64];
    json_t *r = hs_jsonlogic_apply(logic, NULL, err, sizeof err);
    json_array_append_new(r, json_integer(3));
    cr_assert_eq(json_array_size(json_array_get(json_object_get(logic, "merge"), 0)), 2);
    json_decref(r);
    json_decref(logic);
}
