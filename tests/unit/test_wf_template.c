/* Workflow templates: paths (nested, [index], quoted keys), a lone expression keeping its JSON
 * type, mixed text, each filter, missing fields (and default), the size bounds, syntax errors,
 * and rendering whole JSON documents with the path of the failing string. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wf_template.h"

static json_t *ctx;

static void setup(void) {
    ctx = json_pack("{s:{s:s, s:s, s:{s:{s:s, s:s}, s:i, s:f, s:b, s:n, s:[{s:s}, {s:s}], s:s}},"
                    " s:{s:{s:{s:i}}}, s:{s:b}, s:{s:s}}",
                    "event", "id", "ev-1", "subject", "order 1001", "data", "customer", "email",
                    "ann@example.com", "first_name", "Ann", "total", 1250, "ratio", 0.1, "vip", 1,
                    "note", "items", "sku", "A-1", "sku", "B-2", "weird key.x", "yes", "steps",
                    "create_contact", "response", "id", 77, "flags", "integration.x.enabled", 1,
                    "env", "STUB_URL", "http://127.0.0.1:9");
    cr_assert_not_null(ctx);
}

static void teardown(void) {
    json_decref(ctx);
}

TestSuite(wf_template, .init = setup, .fini = teardown);

/* Renders text against ctx; returns the value (caller decrefs) or NULL with err. */
static json_t *render(const char *text, char *err, size_t n) {
    err[0] = 0;
    return wf_template_render(text, wf_template_resolve_json, ctx, err, n);
}

static void expect_str(const char *text, const char *want) {
    char err[256];
    json_t *v = render(text, err, sizeof err);
    cr_assert_not_null(v, "%s: %s", text, err);
    cr_expect(json_is_string(v), "%s: not a string", text);
    cr_expect_str_eq(json_string_value(v), want, "%s", text);
    json_decref(v);
}

static void expect_error(const char *text, const char *want) {
    char err[256];
    json_t *v = render(text, err, sizeof err);
    cr_expect_null(v, "%s rendered", text);
    cr_expect(strstr(err, want) != NULL, "%s: \"%s\" lacks \"%s\"", text, err, want);
    json_decref(v);
    cr_expect_eq(wf_template_check(text, err, sizeof err) == HS_OK, strstr(want, "missing") != NULL,
                 "%s: check disagrees", text);
}

Test(wf_template, nested_paths_index_and_quoted_keys) {
    expect_str("{{ event.data.customer.email }}", "ann@example.com");
    expect_str("{{event.data.items[1].sku}}", "B-2");
    expect_str("{{ event.data.items[ 0 ].sku }}", "A-1");
    expect_str("{{ event.data[\"weird key.x\"] }}", "yes");
    expect_str("{{ event.data['weird key.x'] }}", "yes");
    expect_str("{{ env.STUB_URL }}/api/profiles", "http://127.0.0.1:9/api/profiles");
    char err[256];
    json_t *v = render("{{ flags[\"integration.x.enabled\"] }}", err, sizeof err);
    cr_assert(json_is_true(v), "%s", err);
    json_decref(v);
}

static json_t *flag_resolver(void *opaque, const char *const *segs, size_t nsegs) {
    (void)opaque;
    cr_assert_eq(nsegs, 2);
    cr_assert_str_eq(segs[0], "flags");
    cr_assert_str_eq(segs[1], "integration.klaviyo.enabled");
    return json_true();
}

Test(wf_template, quoted_flag_key_is_one_segment) {
    char err[256];
    json_t *v = wf_template_render("on: {{ flags[\"integration.klaviyo.enabled\"] }}",
                                   flag_resolver, NULL, err, sizeof err);
    cr_assert_not_null(v, "%s", err);
    cr_expect_str_eq(json_string_value(v), "on: true");
    json_decref(v);
}

Test(wf_template, lone_expression_keeps_its_type) {
    char err[256];
    json_t *v = render("{{ event.data.total }}", err, sizeof err);
    cr_expect(json_is_integer(v) && json_integer_value(v) == 1250);
    json_decref(v);
    v = render("{{ event.data.customer }}", err, sizeof err);
    cr_expect(json_is_object(v) && json_object_size(v) == 2);
    json_decref(v);
    v = render("{{ event.data.vip }}", err, sizeof err);
    cr_expect(json_is_true(v));
    json_decref(v);
    v = render("{{ steps.create_contact.response.id }}", err, sizeof err);
    cr_expect(json_is_integer(v) && json_integer_value(v) == 77);
    json_decref(v);
    /* anything around the expression makes it text */
    expect_str(" {{ event.data.total }}", " 1250");
}

Test(wf_template, mixed_text) {
    expect_str("Order {{ event.subject }}: {{ event.data.total }} ({{ event.data.vip }})",
               "Order order 1001: 1250 (true)");
    expect_str("r={{ event.data.ratio }} n={{ event.data.note }}", "r=0.1 n=null");
    expect_str("{{ event.data.customer }}!",
               "{\"email\":\"ann@example.com\",\"first_name\":\"Ann\"}!");
    expect_str("no templates }} here", "no templates }} here");
    expect_str("", "");
    expect_str("{{ event.id }}{{ event.id }}", "ev-1ev-1");
}

Test(wf_template, filters) {
    expect_str("{{ event.data.customer.first_name | upper }}", "ANN");
    expect_str("{{ event.data.customer.first_name|lower }}", "ann");
    expect_str("{{ event.subject | urlencode }}", "order%201001");
    expect_str("q={{ event.data.customer.email | urlencode }}", "q=ann%40example.com");
    expect_str("{{ event.data.customer.first_name | json }}", "\"Ann\"");
    expect_str("{{ event.data.items | json }}", "[{\"sku\":\"A-1\"},{\"sku\":\"B-2\"}]");
    expect_str("{{ event.data.missing | default(\"friend\") }}", "friend");
    expect_str("{{ event.data.note | default('none') | upper }}", "NONE");
    expect_str("{{ event.data.customer.first_name | default(\"x\") }}", "Ann");
    expect_str("{{ event.data.missing | default(\"a \\\"q\\\" }}\") }}", "a \"q\" }}");
    char err[256];
    json_t *v = render("{{ event.data.missing | default(42) }}", err, sizeof err);
    cr_expect(json_is_integer(v) && json_integer_value(v) == 42, "%s", err);
    json_decref(v);
    v = render("{{ event.data.missing | default(null) }}", err, sizeof err);
    cr_expect(json_is_null(v), "%s", err);
    json_decref(v);
    v = render("{{ event.data.missing | default(false) }}", err, sizeof err);
    cr_expect(json_is_false(v), "%s", err);
    json_decref(v);
    expect_str("{{ event.data.total | urlencode }}", "1250");
}

Test(wf_template, missing_field_names_the_path) {
    expect_error("Hi {{ event.data.customer.last_name }}",
                 "missing field event.data.customer.last_name");
    expect_error("{{ event.data.items[5].sku }}", "missing field event.data.items[5].sku");
    expect_error("{{ steps.create_contact.response.nope | upper }}",
                 "missing field steps.create_contact.response.nope");
    expect_error("{{ event.data.total.x }}", "missing field event.data.total.x");
    expect_error("{{ run.id }}", "missing field run.id");
}

Test(wf_template, syntax_errors) {
    expect_error("Hi {{ event.subject", "{{ is never closed by }}");
    expect_error("{{ event.subject }} and {{ event.id", "{{ is never closed by }}");
    expect_error("{{ }}", "expected a path");
    expect_error("{{ event. }}", "expected a name after '.'");
    expect_error("{{ event..x }}", "expected a name after '.'");
    expect_error("{{ event[x] }}", "expected [number] or [\"key\"]");
    expect_error("{{ event[\"x\" }}", "expected [number] or [\"key\"]");
    expect_error("{{ event[-1] }}", "expected [number] or [\"key\"]");
    expect_error("{{ data.x }}", "unknown root \"data\"");
    expect_error("{{ steps }}", "steps needs a name after it");
    expect_error("{{ event.x | shout }}", "unknown filter");
    expect_error("{{ event.x | default }}", "default needs a value");
    expect_error("{{ event.x | default(abc) }}", "default takes one string");
    expect_error("{{ event.x | default(\"a\" }}", "default takes one string");
    expect_error("{{ event.x y }}", "unexpected 'y'");
    expect_error("{{ event.x {{ event.y }}", "unexpected '{'");
    expect_error("{{ event.x | default(\"unterminated }}", "{{ is never closed by }}");
    char err[256];
    cr_expect_eq(wf_template_check("{{ event.x | default(\"y\") | upper }} {{ steps.a.b[0] }}", err,
                                   sizeof err),
                 HS_OK, "%s", err);
}

Test(wf_template, bounds) {
    char err[256];
    size_t big = 64 * 1024 + 1;
    char *text = malloc(big + 1);
    memset(text, 'a', big);
    text[big] = 0;
    cr_expect_eq(wf_template_check(text, err, sizeof err), HS_ERR_INVALID);
    cr_expect(strstr(err, "longer than 64 KiB"), "%s", err);
    text[big - 1] = 0; /* exactly 64 KiB is fine */
    cr_expect_eq(wf_template_check(text, err, sizeof err), HS_OK, "%s", err);
    free(text);

    size_t half = 600 * 1024;
    char *s = malloc(half + 1);
    memset(s, 'x', half);
    s[half] = 0;
    json_object_set_new(json_object_get(ctx, "event"), "big", json_string(s));
    free(s);
    json_t *v = render("{{ event.big }}", err, sizeof err);
    cr_expect_not_null(v, "one 600 KiB value fits: %s", err);
    json_decref(v);
    v = render("{{ event.big }}{{ event.big }}", err, sizeof err);
    cr_expect_null(v);
    cr_expect(strstr(err, "larger than 1 MiB"), "%s", err);
    v = render("{{ event.big | upper }}{{ event.big | upper }}", err, sizeof err);
    cr_expect_null(v);
}

Test(wf_template, output_must_be_utf8) {
    char err[256];
    json_t *v = render("caf\xe9 {{ event.id }}", err, sizeof err);
    cr_expect_null(v);
    cr_expect_str_eq(err, "template output is not UTF-8 text");
}

Test(wf_template, render_str) {
    char err[256];
    char *s = wf_template_render_str("{{ event.data.total }}", wf_template_resolve_json, ctx, err,
                                     sizeof err);
    cr_expect_str_eq(s, "1250");
    free(s);
    s = wf_template_render_str("{{ event.data.items[0] }}", wf_template_resolve_json, ctx, err,
                               sizeof err);
    cr_expect_str_eq(s, "{\"sku\":\"A-1\"}");
    free(s);
    s = wf_template_render_str("", wf_template_resolve_json, ctx, err, sizeof err);
    cr_expect_str_eq(s, "");
    free(s);
    s = wf_template_render_str("{{ event.nope }}", wf_template_resolve_json, ctx, err, sizeof err);
    cr_expect_null(s);
    cr_expect(strstr(err, "missing field event.nope"), "%s", err);
}

Test(wf_template, render_json_document) {
    json_t *params =
        json_pack("{s:s, s:{s:s, s:s, s:i}, s:[s, s], s:b}", "url", "{{ env.STUB_URL }}/x", "body",
                  "email", "{{ event.data.customer.email }}", "total", "{{ event.data.total }}",
                  "n", 3, "to", "a@example.com", "{{ event.data.customer.email }}", "flag", 1);
    char err[256];
    json_t *r = wf_template_render_json(params, wf_template_resolve_json, ctx, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    json_t *want = json_pack("{s:s, s:{s:s, s:i, s:i}, s:[s, s], s:b}", "url",
                             "http://127.0.0.1:9/x", "body", "email", "ann@example.com", "total",
                             1250, "n", 3, "to", "a@example.com", "ann@example.com", "flag", 1);
    cr_expect(json_equal(r, want));
    json_decref(r);
    json_decref(want);

    json_object_set_new(json_object_get(params, "body"), "last", json_string("{{ event.x }}"));
    r = wf_template_render_json(params, wf_template_resolve_json, ctx, err, sizeof err);
    cr_expect_null(r);
    cr_expect_str_eq(err, "body.last: missing field event.x");
    json_array_append_new(json_object_get(params, "to"), json_string("{{ event.y }}"));
    json_object_del(json_object_get(params, "body"), "last");
    r = wf_template_render_json(params, wf_template_resolve_json, ctx, err, sizeof err);
    cr_expect_null(r);
    cr_expect_str_eq(err, "to[2]: missing field event.y");
    json_decref(params);
}

Test(wf_template, resolve_json_edges) {
    const char *segs[] = {"event", "data", "items", "9"};
    cr_expect_null(wf_template_resolve_json(ctx, segs, 4));
    const char *segs2[] = {"event", "data", "items", "1x"};
    cr_expect_null(wf_template_resolve_json(ctx, segs2, 4));
    const char *segs3[] = {"event", "data", "total", "0"};
    cr_expect_null(wf_template_resolve_json(ctx, segs3, 4));
}
