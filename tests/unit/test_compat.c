/* hs_compat: the data-driven cases of tests/data/compat/<case>/ and the compatibility modes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_compat.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) buf[0] = 0;
    fclose(f);
    return buf;
}

static void expect_line(const char *name, const char *line, const char *old, const char *new_) {
    char mode_name[64];
    const char *rest = line + strcspn(line, " ");
    snprintf(mode_name, sizeof mode_name, "%.*s", (int)(rest - line), line);
    while (*rest == ' ')
        rest++;
    int mode = hs_compat_mode_parse(mode_name);
    cr_assert(mode >= 0, "%s: unknown mode '%s'", name, mode_name);
    const char *colon = strstr(rest, ": ");
    const char *want = colon ? colon + 2 : "";
    size_t kind_len = colon ? (size_t)(colon - rest) : strlen(rest);
    char errstr[1024] = "";
    const char *existing[] = {old};
    hs_err_t err =
        hs_compat_check((hs_compat_mode_t)mode, new_, existing, 1, errstr, sizeof errstr);
    if (!strncmp(rest, "compatible", kind_len) && kind_len == 10)
        cr_expect(err == HS_OK, "%s %s: expected compatible, got %s", name, mode_name, errstr);
    else if (!strncmp(rest, "incompatible", kind_len) && kind_len == 12)
        cr_expect(err == HS_ERR_CONFLICT && strstr(errstr, want),
                  "%s %s: expected incompatible '%s', got %d '%s'", name, mode_name, want, err,
                  errstr);
    else if (!strncmp(rest, "invalid", kind_len) && kind_len == 7)
        cr_expect(err == HS_ERR_INVALID && strstr(errstr, want),
                  "%s %s: expected invalid '%s', got %d '%s'", name, mode_name, want, err, errstr);
    else
        cr_assert_fail("%s: bad expected line '%s'", name, line);
}

static int run_case(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/compat/%s/old.avsc", HS_TEST_DATA, name);
    char *old = slurp(path);
    snprintf(path, sizeof path, "%s/compat/%s/new.avsc", HS_TEST_DATA, name);
    char *new_ = slurp(path);
    snprintf(path, sizeof path, "%s/compat/%s/expected", HS_TEST_DATA, name);
    char *expected = slurp(path);
    cr_assert(old && new_ && expected, "%s: needs old.avsc, new.avsc and expected", name);
    int lines = 0;
    for (char *save = NULL, *line = strtok_r(expected, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), lines++)
        expect_line(name, line, old, new_);
    cr_expect(lines > 0, "%s: expected is empty", name);
    free(old);
    free(new_);
    free(expected);
    return lines;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

Test(compat, data_cases) {
    struct dirent **ents;
    int n = scandir(HS_TEST_DATA "/compat", &ents, NULL, by_name), cases = 0;
    cr_assert(n > 0, "cannot read %s/compat", HS_TEST_DATA);
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_type == DT_DIR && ents[i]->d_name[0] != '.') {
            run_case(ents[i]->d_name);
            cases++;
        }
        free(ents[i]);
    }
    free(ents);
    cr_expect(cases >= 25, "only %d cases under tests/data/compat", cases);
}

Test(compat, mode_names_round_trip) {
    for (int m = HS_COMPAT_NONE; m <= HS_COMPAT_FULL_TRANSITIVE; m++)
        cr_expect_eq(hs_compat_mode_parse(hs_compat_mode_name((hs_compat_mode_t)m)), m);
    cr_expect_eq(hs_compat_mode_parse("backward_transitive"), HS_COMPAT_BACKWARD_TRANSITIVE);
    cr_expect_eq(hs_compat_mode_parse("SIDEWAYS"), -1);
    cr_expect_eq(hs_compat_mode_parse(""), -1);
    cr_expect_eq(hs_compat_mode_parse(NULL), -1);
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"Customer\",\"fields\":[" fields "]}"
#define ID "{\"name\":\"id\",\"type\":\"string\"}"

/* v3 reads v2 (email present) but not v1 (email missing, no default). */
static const char *const backward_chain[] = {
    REC(ID),
    REC(ID ",{\"name\":\"email\",\"type\":\"string\",\"default\":\"\"}"),
};
static const char v3_backward[] = REC(ID ",{\"name\":\"email\",\"type\":\"string\"}");

Test(compat, backward_transitive_checks_every_version) {
    char errstr[1024];
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_BACKWARD, v3_backward, backward_chain, 2, errstr, sizeof errstr),
        HS_OK, "%s", errstr);
    cr_expect_eq(hs_compat_check(HS_COMPAT_BACKWARD_TRANSITIVE, v3_backward, backward_chain, 2,
                                 errstr, sizeof errstr),
                 HS_ERR_CONFLICT);
    cr_expect(strstr(errstr, "cannot read data written with schema 1 of 2: reader field 'email' "
                             "has no default"),
              "%s", errstr);
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_FULL, v3_backward, backward_chain, 2, errstr, sizeof errstr),
        HS_OK, "%s", errstr);
    cr_expect_eq(hs_compat_check(HS_COMPAT_FULL_TRANSITIVE, v3_backward, backward_chain, 2, errstr,
                                 sizeof errstr),
                 HS_ERR_CONFLICT);
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_NONE, v3_backward, backward_chain, 2, errstr, sizeof errstr),
        HS_OK);
}

/* v1 cannot read v3 (field a dropped, v1 has no default) though v2 (with a default) can. */
static const char *const forward_chain[] = {
    REC(ID ",{\"name\":\"a\",\"type\":\"string\"}"),
    REC(ID ",{\"name\":\"a\",\"type\":\"string\",\"default\":\"x\"}"),
};
static const char v3_forward[] = REC(ID);

Test(compat, forward_transitive_checks_every_version) {
    char errstr[1024];
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_FORWARD, v3_forward, forward_chain, 2, errstr, sizeof errstr),
        HS_OK, "%s", errstr);
    cr_expect_eq(hs_compat_check(HS_COMPAT_FORWARD_TRANSITIVE, v3_forward, forward_chain, 2, errstr,
                                 sizeof errstr),
                 HS_ERR_CONFLICT);
    cr_expect(strstr(errstr, "schema 1 of 2 cannot read data written with the new schema"), "%s",
              errstr);
    cr_expect_eq(hs_compat_check(HS_COMPAT_BACKWARD_TRANSITIVE, v3_forward, forward_chain, 2,
                                 errstr, sizeof errstr),
                 HS_OK, "%s", errstr);
}

Test(compat, non_transitive_reports_latest) {
    char errstr[1024];
    const char *existing[] = {REC(ID), REC(ID)};
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_BACKWARD, v3_backward, existing, 2, errstr, sizeof errstr),
        HS_ERR_CONFLICT);
    cr_expect(strstr(errstr, "with the latest schema"), "%s", errstr);
}

Test(compat, no_existing_versions_is_compatible_but_validated) {
    char errstr[256];
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_FULL_TRANSITIVE, v3_backward, NULL, 0, errstr, sizeof errstr),
        HS_OK);
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_NONE, "{\"type\":\"nope\"}", NULL, 0, errstr, sizeof errstr),
        HS_ERR_INVALID);
    cr_expect(strstr(errstr, "unknown type name"), "%s", errstr);
}

Test(compat, can_read_directly) {
    char errstr[512];
    cr_expect_eq(hs_compat_can_read("\"long\"", "\"int\"", errstr, sizeof errstr), HS_OK);
    cr_expect_eq(hs_compat_can_read("\"int\"", "\"long\"", errstr, sizeof errstr), HS_ERR_CONFLICT);
    cr_expect_str_eq(errstr, "type mismatch at '(root)': writer long, reader int");
    cr_expect_eq(hs_compat_can_read("[\"null\",\"string\"]", "\"string\"", errstr, sizeof errstr),
                 HS_OK);
    cr_expect_eq(hs_compat_can_read(NULL, "\"int\"", errstr, sizeof errstr), HS_ERR_INVALID);
    cr_expect_eq(hs_compat_can_read("\"int\"", "[1]", errstr, sizeof errstr), HS_ERR_INVALID);
    cr_expect(strstr(errstr, "writer") || strstr(errstr, "invalid"), "%s", errstr);
}

Test(compat, malformed_existing_version_is_invalid) {
    char errstr[256];
    const char *existing[] = {"{not json"};
    cr_expect_eq(
        hs_compat_check(HS_COMPAT_BACKWARD, v3_backward, existing, 1, errstr, sizeof errstr),
        HS_ERR_INVALID);
    cr_expect(strstr(errstr, "existing schema is not JSON"), "%s", errstr);
}

/* Deep nesting is refused instead of exhausting the stack. */
Test(compat, bounded_nesting) {
    static const char open_[] = "{\"type\":\"array\",\"items\":";
    char deep[8192];
    size_t len = 0;
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(deep + len, sizeof deep - len, "%s", open_);
    len += (size_t)snprintf(deep + len, sizeof deep - len, "\"int\"");
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(deep + len, sizeof deep - len, "}");
    char errstr[256];
    cr_expect_eq(hs_compat_can_read(deep, deep, errstr, sizeof errstr), HS_ERR_INVALID);
    cr_expect(strstr(errstr, "deeper than 64"), "%s", errstr);
}
