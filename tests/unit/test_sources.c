/* Provider connectors, driven by data: every tests/data/signatures/<provider>/<case>/ folder is
 * a verify case and every tests/data/mapping/<provider>/<case>/ folder a mapping case (see
 * tests/data/signatures/make_cases.py for the file formats). Adding a folder adds a case. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_sigutil.h"
#include "hs_source.h"

#define MAX_LINES 64

/* One case folder loaded: every string is owned by the case. */
typedef struct {
    char dir[512];
    char *body;
    size_t body_len;
    char *text[4 * MAX_LINES]; /* allocations to free */
    size_t ntext;
    hs_source_header_t headers[MAX_LINES + 1];
    const char *secrets[MAX_LINES];
    size_t nsecrets;
    hs_source_cfg_t cfg;
    hs_source_req_t req;
    long long at;
    char expected[1024];
} tcase_t;

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) cr_assert((buf = realloc(buf, cap = cap * 2 + 4096)));
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (!r) break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static char *keep(tcase_t *c, char *s) {
    cr_assert(c->ntext < sizeof c->text / sizeof c->text[0]);
    return c->text[c->ntext++] = s;
}

/* Splits file `name` of the case into lines (without newlines); returns how many. */
static size_t lines(tcase_t *c, const char *name, char **out, size_t max) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    char *text = slurp(path, NULL);
    if (!text) return 0;
    keep(c, text);
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < max;
         l = strtok_r(NULL, "\n", &save))
        out[n++] = l;
    return n;
}

static void apply_option(tcase_t *c, const char *key, const char *v) {
    hs_source_generic_t *g = &c->cfg.generic;
    if (!strcmp(key, "tolerance")) {
        int t = (int)strtol(v, NULL, 10);
        c->cfg.tolerance_s = t ? t : -1; /* as `hookstream verify --tolerance 0`: off */
    } else if (!strcmp(key, "inventory_low_threshold")) {
        c->cfg.inventory_low_threshold = (int)strtol(v, NULL, 10);
    } else if (!strcmp(key, "method")) {
        c->req.method = v;
    } else {
        static const char *const names[] = {"header",           "algorithm", "encoding",
                                            "prefix",           "template",  "timestamp_header",
                                            "timestamp_format", "id_header"};
        const char **slots[] = {&g->header,           &g->algorithm, &g->encoding,
                                &g->prefix,           &g->tmpl,      &g->timestamp_header,
                                &g->timestamp_format, &g->id_header};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(key, names[i])) {
                *slots[i] = v;
                return;
            }
        cr_assert_fail("%s: unknown option %s", c->dir, key);
    }
}

static void load_case(tcase_t *c, const char *dir, const char *provider) {
    memset(c, 0, sizeof *c);
    if (snprintf(c->dir, sizeof c->dir, "%s", dir) >= (int)sizeof c->dir)
        cr_assert_fail("%s: path too long", dir);
    char *l[MAX_LINES];
    char path[700];
    size_t n = lines(c, "headers", l, MAX_LINES);
    for (size_t i = 0; i < n; i++) {
        char *colon = strstr(l[i], ": ");
        cr_assert(colon, "%s/headers: '%s' is not 'Name: value'", dir, l[i]);
        *colon = '\0';
        c->headers[i] = (hs_source_header_t){l[i], colon + 2};
    }
    c->nsecrets = lines(c, "secret", l, MAX_LINES);
    for (size_t i = 0; i < c->nsecrets; i++)
        c->secrets[i] = l[i];
    if (snprintf(path, sizeof path, "%s/body", dir) >= (int)sizeof path)
        cr_assert_fail("%s: path too long", dir);
    c->body = keep(c, slurp(path, &c->body_len));
    cr_assert(c->body, "%s: no body file", dir);
    c->at = -1;
    if (lines(c, "at", l, 1)) c->at = strtoll(l[0], NULL, 10);
    if (lines(c, "expected", l, 1)) snprintf(c->expected, sizeof c->expected, "%s", l[0]);
    c->cfg = (hs_source_cfg_t){
        .name = "test", .type = provider, .secrets = c->secrets, .nsecrets = c->nsecrets};
    c->req = (hs_source_req_t){.header = hs_source_header_array,
                               .header_ctx = c->headers,
                               .body = c->body,
                               .body_len = c->body_len};
    c->req.content_type = hs_source_header_array(c->headers, "Content-Type");
    if (lines(c, "url", l, 1)) c->req.url = l[0];
    n = lines(c, "options", l, MAX_LINES);
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(l[i], '=');
        cr_assert(eq, "%s/options: '%s' is not key=value", dir, l[i]);
        *eq = '\0';
        apply_option(c, l[i], eq + 1);
    }
}

static void free_case(tcase_t *c) {
    for (size_t i = 0; i < c->ntext; i++)
        free(c->text[i]);
}

typedef void (*case_fn)(tcase_t *c, const hs_source_t *src);

/* Runs fn on every <suite>/<provider>/<case>/ folder; returns how many ran. */
static int each_case(const char *suite, case_fn fn) {
    char pdir[512], cdir[1024];
    snprintf(pdir, sizeof pdir, "%s/%s", HS_TEST_DATA, suite);
    DIR *d = opendir(pdir);
    cr_assert(d, "no %s", pdir);
    int ran = 0;
    struct dirent *pe;
    while ((pe = readdir(d))) {
        struct stat st;
        snprintf(cdir, sizeof cdir, "%s/%s", pdir, pe->d_name);
        if (pe->d_name[0] == '.' || stat(cdir, &st) || !S_ISDIR(st.st_mode)) continue;
        const hs_source_t *src = hs_source_find(pe->d_name);
        cr_assert(src, "%s: folder of an unknown provider", cdir);
        DIR *cd = opendir(cdir);
        struct dirent *ce;
        while ((ce = readdir(cd))) {
            char dir[1536];
            snprintf(dir, sizeof dir, "%s/%s", cdir, ce->d_name);
            if (ce->d_name[0] == '.' || stat(dir, &st) || !S_ISDIR(st.st_mode)) continue;
            tcase_t *c = malloc(sizeof *c);
            cr_assert(c);
            load_case(c, dir, pe->d_name);
            fn(c, src);
            free_case(c);
            free(c);
            ran++;
        }
        closedir(cd);
    }
    closedir(d);
    return ran;
}

static void run_signature_case(tcase_t *c, const hs_source_t *src) {
    char err[512] = "", got[600];
    if (hs_source_check(src, &c->cfg, err, sizeof err) != HS_OK) {
        snprintf(got, sizeof got, "config: %s", err);
    } else {
        long long now = c->at >= 0 ? c->at : (long long)time(NULL);
        hs_err_t rc = src->verify(&c->cfg, &c->req, now, err, sizeof err);
        cr_expect(rc == HS_OK || rc == HS_ERR_AUTH, "%s: verify returned %s: %s", c->dir,
                  hs_err_str(rc), err);
        if (rc == HS_OK)
            snprintf(got, sizeof got, "valid");
        else
            snprintf(got, sizeof got, "invalid: %s", err);
    }
    cr_expect_str_eq(got, c->expected, "%s:\n  got  %s\n  want %s", c->dir, got, c->expected);
}

Test(sources, signature_cases) {
    int n = each_case("signatures", run_signature_case);
    cr_expect_geq(n, 150, "only %d signature cases found", n);
}

/* Every provider has signature cases, among them a valid one and a mismatch. */
Test(sources, every_provider_has_cases) {
    for (size_t i = 0; hs_source_at(i); i++) {
        const hs_source_t *src = hs_source_at(i);
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/signatures/%s", HS_TEST_DATA, src->type);
        cr_expect(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "no signature cases for %s",
                  src->type);
        cr_expect(src->verify && src->event_id && src->classify && src->map && src->summary);
        cr_expect_eq(hs_source_find(src->type), src);
    }
}

static json_t *load_json(const char *path) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    cr_assert(j, "%s:%d: %s", path, jerr.line, jerr.text);
    return j;
}

/* The event must encode with its catalog schema, carry its key, and equal the expected one. */
static void check_event(const char *dir, size_t i, const hs_source_event_t *e, const json_t *want) {
    char err[512], *buf = NULL;
    size_t len = 0;
    const hs_event_type_t *t = hs_catalog_find(e->type);
    cr_assert(t, "%s: event %zu: type %s is not in the catalog", dir, i, e->type);
    hs_err_t rc = hs_avro_encode_json(hs_catalog_schema(t), e->data, &buf, &len, err, sizeof err);
    cr_expect_eq(rc, HS_OK, "%s: event %zu (%s) does not encode: %s", dir, i, e->type, err);
    free(buf);
    const json_t *key = json_object_get(e->data, t->key_field);
    cr_expect(json_is_string(key) && !strcmp(json_string_value(key), e->key),
              "%s: event %zu: key %s is not data.%s", dir, i, e->key, t->key_field);
    json_t *got = json_pack("{s:s, s:s, s:O}", "type", e->type, "key", e->key, "data", e->data);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_INDENT(2) | JSON_SORT_KEYS);
        cr_expect_fail("%s: event %zu differs\n--- got\n%s\n--- want\n%s", dir, i, g, w);
        free(g);
        free(w);
    }
    json_decref(got);
}

static void expect_field(const char *dir, const json_t *want, const char *name, const char *got) {
    const json_t *w = json_object_get(want, name);
    if (!w) return;
    cr_expect_str_eq(got, json_string_value(w), "%s: %s is '%s', want '%s'", dir, name, got,
                     json_string_value(w));
}

static void run_mapping_case(tcase_t *c, const hs_source_t *src) {
    char err[512], path[700];
    hs_source_result_t r;
    snprintf(path, sizeof path, "%s/expected.json", c->dir);
    json_t *want = load_json(path);
    cr_assert_eq(hs_source_process(src, &c->cfg, &c->req, &r, err, sizeof err), HS_OK, "%s: %s",
                 c->dir, err);
    expect_field(c->dir, want, "outcome", hs_source_outcome_str(r.outcome));
    expect_field(c->dir, want, "type", r.cls.type);
    expect_field(c->dir, want, "event_id", r.event_id);
    expect_field(c->dir, want, "challenge", r.cls.challenge);
    expect_field(c->dir, want, "detail", r.detail);
    const json_t *events = json_object_get(want, "events");
    cr_expect_eq(r.events.n, json_array_size(events), "%s: %zu events, want %zu", c->dir,
                 r.events.n, json_array_size(events));
    for (size_t i = 0; i < r.events.n && i < json_array_size(events); i++)
        check_event(c->dir, i, &r.events.ev[i], json_array_get(events, i));
    hs_source_result_clear(&r);
    json_decref(want);
}

Test(sources, mapping_cases) {
    int n = each_case("mapping", run_mapping_case);
    cr_expect_geq(n, 40, "only %d mapping cases found", n);
}

/* ---- the table and the header list ---- */

Test(sources, table) {
    char list[512];
    hs_source_list(list, sizeof list);
    cr_expect_str_eq(list, "shopify, stripe, github, slack, standard-webhooks, svix, zendesk, "
                           "twilio, chatwoot, generic-hmac");
    cr_expect_null(hs_source_find("Shopify"));
    cr_expect_null(hs_source_find(NULL));
    cr_expect_null(hs_source_at(10));
    hs_source_list(list, 8);
    cr_expect_str_eq(list, "shopify");
}

Test(sources, header_array_is_case_insensitive) {
    hs_source_header_t h[] = {
        {"X-Shopify-Topic", "orders/create"}, {"x-shopify-topic", "b"}, {NULL, NULL}};
    cr_expect_str_eq(hs_source_header_array(h, "x-SHOPIFY-topic"), "orders/create");
    cr_expect_null(hs_source_header_array(h, "X-Shopify-Topics"));
    cr_expect_null(hs_source_header_array(NULL, "a"));
}

Test(sources, check_refuses_missing_and_empty_secrets) {
    char err[256];
    const char *empty[] = {"ok", ""};
    hs_source_cfg_t cfg = {.type = "shopify"};
    const hs_source_t *src = hs_source_find("shopify");
    cr_expect_eq(hs_source_check(src, &cfg, err, sizeof err), HS_ERR_INVALID);
    cr_expect_str_eq(err, "shopify: no secret configured");
    cfg.secrets = empty;
    cfg.nsecrets = 2;
    cr_expect_eq(hs_source_check(src, &cfg, err, sizeof err), HS_ERR_INVALID);
    cr_expect_str_eq(err, "shopify: secret 2 is empty");
    cfg.nsecrets = HS_SOURCE_MAX_SECRETS + 1;
    cr_expect_eq(hs_source_check(src, &cfg, err, sizeof err), HS_ERR_INVALID);
}

Test(sources, no_header_callback_means_no_headers) {
    char err[256];
    const char *secrets[] = {"s"};
    hs_source_cfg_t cfg = {.secrets = secrets, .nsecrets = 1};
    hs_source_req_t req = {.body = "{}", .body_len = 2};
    for (size_t i = 0; hs_source_at(i); i++) {
        const hs_source_t *src = hs_source_at(i);
        cfg.generic.header = "X-Sig";
        cr_expect_eq(src->verify(&cfg, &req, 1700000000, err, sizeof err), HS_ERR_AUTH, "%s",
                     src->type);
    }
}

/* Providers that send no event id get the body's digest, stable across retries. */
Test(sources, event_id_falls_back_to_body_digest) {
    char err[256];
    const char *secrets[] = {"s"};
    hs_source_cfg_t cfg = {.secrets = secrets, .nsecrets = 1};
    hs_source_req_t req = {.body = "abc", .body_len = 3};
    hs_source_result_t r;
    cr_assert_eq(hs_source_process(hs_source_find("chatwoot"), &cfg, &req, &r, err, sizeof err),
                 HS_OK);
    cr_expect_str_eq(r.event_id,
                     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_expect_eq(r.outcome, HS_SOURCE_UNPARSEABLE);
    cr_expect(strstr(r.detail, "unparseable JSON body: ") == r.detail, "%s", r.detail);
    hs_source_result_clear(&r);
}

Test(sources, outcome_names) {
    cr_expect_str_eq(hs_source_outcome_str(HS_SOURCE_MAPPED), "mapped");
    cr_expect_str_eq(hs_source_outcome_str(HS_SOURCE_UNMAPPED), "unmapped");
    cr_expect_str_eq(hs_source_outcome_str(HS_SOURCE_UNPARSEABLE), "unparseable");
    cr_expect_str_eq(hs_source_outcome_str(HS_SOURCE_HANDSHAKE), "handshake");
    cr_expect_str_eq(hs_source_outcome_str((hs_source_outcome_t)99), "unknown");
}
