/* Invalidator rules: the defaults (and that their YAML and JSON forms agree), rendering with
 * nested fields, array indexes, map keys, envelope attributes and numbers as ids, every way a
 * field can be missing, wildcards and deduplication, and every malformed rule refused at start
 * with the pattern, the template and the file:line named. */
#include <criterion/criterion.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_config.h"
#include "inv_rules.h"

TestSuite(inv_rules);

static inv_tags_t tags;

/* Appends text to buf (size n). */
static void app(char *buf, size_t n, const char *text) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "%s", text);
}

/* Rules from a JSON text (NULL: the defaults); fails the test when refused. */
static inv_rules_t *rules_of(const char *json) {
    json_t *tree = json ? json_loads(json, 0, NULL) : NULL;
    cr_assert(!json || tree, "bad test JSON: %s", json);
    char err[512] = "";
    inv_rules_t *r = inv_rules_new(tree, NULL, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", json ? json : "defaults", err);
    json_decref(tree);
    return r;
}

/* The error text of rules refused, "" when accepted (the test then fails). */
static void expect_refused(const char *json, const char *want) {
    json_t *tree = json_loads(json, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(tree, "bad test JSON: %s", json);
    char err[512] = "";
    inv_rules_t *r = inv_rules_new(tree, NULL, err, sizeof err);
    cr_expect_null(r, "%s was accepted", json);
    cr_expect(strstr(err, want) != NULL, "%s: \"%s\" lacks \"%s\"", json, err, want);
    inv_rules_destroy(r);
    json_decref(tree);
}

/* The event as the invalidator sees it, with data from JSON text. */
static json_t *event_of(const char *type, const char *data) {
    json_t *d = json_loads(data, 0, NULL);
    cr_assert_not_null(d, "bad test JSON: %s", data);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", "ev-1", "type", type, "source",
                     "/test", "subject", "s-9", "time", "2024-05-01T12:00:00.000Z", "tenant",
                     "acme", "data", d);
}

static void render(const inv_rules_t *r, const char *type, const char *data) {
    json_t *ev = event_of(type, data);
    inv_rules_render(r, type, ev, &tags);
    json_decref(ev);
}

static void expect_tags(const inv_rules_t *r, const char *type, const char *data,
                        const char *want) {
    render(r, type, data);
    char got[2048] = "";
    for (size_t i = 0; i < tags.n; i++) {
        app(got, sizeof got, i ? "," : "");
        app(got, sizeof got, tags.tags[i]);
    }
    cr_expect_str_eq(got, want, "%s %s", type, data);
    cr_expect_eq(tags.nmissing, 0, "%s %s: missing %s (%s)", type, data, tags.missing, tags.why);
}

static void expect_missing(const inv_rules_t *r, const char *type, const char *data,
                           const char *path, const char *why) {
    render(r, type, data);
    cr_expect_geq(tags.nmissing, 1, "%s %s: nothing missing", type, data);
    cr_expect_str_eq(tags.missing, path, "%s %s", type, data);
    cr_expect_str_eq(tags.why, why, "%s %s", type, data);
}

Test(inv_rules, defaults_map_the_catalog_fields) {
    inv_rules_t *r = rules_of(NULL);
    cr_expect_eq(inv_rules_count(r), 4);
    expect_tags(r, "product.updated", "{\"product_id\": \"p-1\", \"title\": \"Hat\"}",
                "product:p-1");
    expect_tags(r, "inventory.updated", "{\"inventory_item_id\": \"i-1\", \"product_id\": \"p-2\"}",
                "product:p-2");
    expect_tags(r, "inventory.low", "{\"product_id\": \"p-3\"}", "product:p-3");
    expect_tags(r, "customer.updated", "{\"customer_id\": \"c-1\", \"email\": \"a@b.c\"}",
                "customer:c-1");
    cr_expect(inv_rules_match(r, "product.updated"));
    cr_expect(inv_rules_need_data(r, "customer.updated"));
    cr_expect_not(inv_rules_match(r, "order.placed"));
    cr_expect_not(inv_rules_match(r, "product.updated.x"));
    inv_rules_destroy(r);
}

/* The YAML the docs and --help show is what applies without a tree. */
Test(inv_rules, defaults_yaml_says_the_same_as_the_code) {
    const char *yaml = inv_rules_defaults_yaml();
    char err[512];
    struct fy_document *doc = hs_config_yaml_parse(yaml, strlen(yaml), "defaults", err, sizeof err);
    cr_assert_not_null(doc, "%s", err);
    json_t *all = hs_config_yaml_json(fy_document_root(doc));
    json_t *tree = json_object_get(all, "invalidations");
    inv_rules_t *from_yaml = inv_rules_new(tree, NULL, err, sizeof err);
    cr_assert_not_null(from_yaml, "%s", err);
    inv_rules_t *from_code = rules_of(NULL);
    cr_expect_eq(inv_rules_count(from_yaml), inv_rules_count(from_code));
    static const char *const types[] = {"product.updated", "inventory.updated", "inventory.low",
                                        "customer.updated", "order.placed"};
    const char *data = "{\"product_id\": \"p\", \"customer_id\": \"c\"}";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char want[256] = "";
        render(from_code, types[i], data);
        if (tags.n) snprintf(want, sizeof want, "%s", tags.tags[0]);
        cr_expect_eq(tags.n, tags.n ? 1u : 0u);
        if (want[0])
            expect_tags(from_yaml, types[i], data, want);
        else
            cr_expect_not(inv_rules_match(from_yaml, types[i]), "%s", types[i]);
    }
    inv_rules_destroy(from_yaml);
    inv_rules_destroy(from_code);
    json_decref(all);
    fy_document_destroy(doc);
}

Test(inv_rules, nested_fields_indexes_map_keys_and_envelope) {
    inv_rules_t *r = rules_of("{\"product.updated\": [\"variant:{data.variants.1.variant_id}\","
                              " \"sku:{data.variants.0.sku}\", \"color:{data.attributes.color}\","
                              " \"{tenant}/product:{subject}\", \"catalog\"]}");
    expect_tags(r, "product.updated",
                "{\"variants\": [{\"variant_id\": \"v-1\", \"sku\": \"HAT-S\"},"
                " {\"variant_id\": \"v-2\"}], \"attributes\": {\"color\": \"red\"}}",
                "variant:v-2,sku:HAT-S,color:red,acme/product:s-9,catalog");
    inv_rules_destroy(r);
    r = rules_of("{\"product.updated\": \"p:{subject}:{type}:{id}:{source}:{time}\"}");
    cr_expect_not(inv_rules_need_data(r, "product.updated"));
    expect_tags(r, "product.updated", "{}",
                "p:s-9:product.updated:ev-1:/test:2024-05-01T12:00:00.000Z");
    inv_rules_destroy(r);
}

Test(inv_rules, numbers_as_ids) {
    inv_rules_t *r = rules_of(NULL);
    expect_tags(r, "product.updated", "{\"product_id\": 42}", "product:42");
    expect_tags(r, "product.updated", "{\"product_id\": 42.0}", "product:42");
    expect_tags(r, "product.updated", "{\"product_id\": 9007199254740993}",
                "product:9007199254740993");
    expect_tags(r, "product.updated", "{\"product_id\": -7}", "product:-7");
    expect_tags(r, "product.updated", "{\"product_id\": 1.5}", "product:1.5");
    expect_tags(r, "product.updated", "{\"product_id\": 1e300}", "product:1.0000000000000001e+300");
    expect_tags(r, "product.updated", "{\"product_id\": true}", "product:true");
    inv_rules_destroy(r);
}

Test(inv_rules, missing_fields_are_reported_not_rendered) {
    inv_rules_t *r =
        rules_of("{\"inventory.low\": [\"product:{data.product_id}\", \"sku:{data.sku}\"],"
                 " \"product.updated\": \"v:{data.variants.3.variant_id}\"}");
    expect_missing(r, "inventory.low", "{\"sku\": \"S\"}", "data.product_id", "absent");
    cr_expect_eq(tags.n, 1); /* the other template still renders */
    cr_expect_str_eq(tags.tags[0], "sku:S");
    expect_missing(r, "inventory.low", "{\"product_id\": null, \"sku\": \"S\"}", "data.product_id",
                   "null");
    expect_missing(r, "inventory.low", "{\"product_id\": {\"id\": 1}, \"sku\": \"S\"}",
                   "data.product_id", "not a scalar");
    expect_missing(r, "inventory.low", "{\"product_id\": [1], \"sku\": \"S\"}", "data.product_id",
                   "not a scalar");
    expect_missing(r, "inventory.low", "{\"product_id\": \"\", \"sku\": \"S\"}", "data.product_id",
                   "empty");
    expect_missing(r, "inventory.low", "{\"product_id\": \"a\\tb\", \"sku\": \"S\"}",
                   "data.product_id", "control character");
    render(r, "inventory.low", "{}");
    cr_expect_eq(tags.nmissing, 2);
    cr_expect_eq(tags.n, 0);
    expect_missing(r, "product.updated", "{\"variants\": [{\"variant_id\": \"v\"}]}",
                   "data.variants.3.variant_id", "absent");
    expect_missing(r, "product.updated", "{\"variants\": \"oops\"}", "data.variants.3.variant_id",
                   "absent");
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char data[512];
    snprintf(data, sizeof data, "{\"product_id\": \"%s\"}", big);
    expect_missing(r, "inventory.low", data, "data.product_id", "tag too long");
    inv_rules_destroy(r);
}

Test(inv_rules, wildcards_and_overlapping_rules_dedup) {
    inv_rules_t *r = rules_of("{\"product.*\": \"product:{data.product_id}\","
                              " \"inventory.*\": [\"product:{data.product_id}\", \"stock\"],"
                              " \"*\": \"all\", \"inventory.low\": \"product:{data.product_id}\"}");
    expect_tags(r, "product.updated", "{\"product_id\": \"p\"}", "product:p,all");
    expect_tags(r, "inventory.low", "{\"product_id\": \"p\"}", "product:p,stock,all");
    expect_tags(r, "order.placed", "{}", "all");
    cr_expect(inv_rules_match(r, "something.new"));
    cr_expect_not(inv_rules_need_data(r, "order.placed"));
    cr_expect(inv_rules_need_data(r, "inventory.updated"));
    inv_rules_destroy(r);
}

Test(inv_rules, too_many_tags_for_one_event) {
    char json[4096] = "{\"*\": [";
    for (int i = 0; i < 16; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s\"a%d\"", i ? "," : "", i);
    app(json, sizeof json, "], \"product.*\": [");
    for (int i = 0; i < 16; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s\"b%d\"", i ? "," : "", i);
    app(json, sizeof json, "], \"product.updated\": [\"c0\", \"a1\"]}");
    inv_rules_t *r = rules_of(json);
    render(r, "product.updated", "{}");
    cr_expect_eq(tags.n, INV_MAX_TAGS);
    cr_expect_eq(tags.nmissing, 1);
    cr_expect_str_eq(tags.why, "too many tags for one event");
    inv_rules_destroy(r);
}

Test(inv_rules, bad_rules_are_refused_naming_them) {
    expect_refused("[\"product:{data.product_id}\"]", "expected a mapping");
    expect_refused("{\"product.deleted\": \"p:{subject}\"}",
                   "invalidations.product.deleted: no event type matches");
    expect_refused("{\"nothing.*\": \"p\"}", "invalidations.nothing.*: no event type matches");
    expect_refused("{\"Product.Updated\": \"p\"}", "not an event type pattern");
    expect_refused("{\"product.*.x\": \"p\"}", "not an event type pattern");
    expect_refused("{\"customer.updated\": [\"customer:{data.id}\"]}",
                   "template \"customer:{data.id}\": customer.updated has no scalar field data.id");
    expect_refused("{\"product.updated\": \"v:{data.variants.0}\"}", "no scalar field");
    expect_refused("{\"product.updated\": \"v:{data.variants.x.sku}\"}", "no scalar field");
    expect_refused("{\"product.updated\": \"v:{data.variants.0.sku.x}\"}", "no scalar field");
    expect_refused("{\"product.updated\": \"a:{data.attributes}\"}", "no scalar field");
    expect_refused("{\"product.*\": \"p:{data.nope}\"}", "product.updated has no scalar field");
    expect_refused("{\"inventory.*\": \"p:{data.nope}\"}", "no type it matches has no scalar");
    expect_refused("{\"product.updated\": \"product:{data.product_id\"}", "is not closed");
    expect_refused("{\"product.updated\": \"product:{data.{product_id}}\"}", "is not closed");
    expect_refused("{\"product.updated\": \"product:}\"}", "'}' without '{'");
    expect_refused("{\"product.updated\": \"product:{}\"}", "bad field path {}");
    expect_refused("{\"product.updated\": \"product:{data..x}\"}", "bad field path");
    expect_refused("{\"product.updated\": \"product:{data.a-b}\"}", "bad field path");
    expect_refused("{\"product.updated\": \"product:{foo}\"}", "a path is data.");
    expect_refused("{\"product.updated\": \"product:{data}\"}", "a path is data.");
    expect_refused("{\"product.updated\": \"product:{subject.x}\"}", "a path is data.");
    expect_refused("{\"product.updated\": \"a\\tb\"}", "control character at byte 1");
    expect_refused("{\"product.updated\": \"\"}", "empty or longer");
    expect_refused("{\"product.updated\": 42}", "expected a template or a list");
    expect_refused("{\"product.updated\": []}", "expected a template or a list");
    expect_refused("{\"product.updated\": {\"tag\": \"x\"}}", "expected a template or a list");
    expect_refused("{\"product.updated\": [\"ok\", 7]}", "a template is a string");
    char json[8192] = "{\"product.updated\": [";
    for (int i = 0; i < 17; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s\"t%d\"", i ? "," : "", i);
    app(json, sizeof json, "]}");
    expect_refused(json, "1 to 16 templates");
    char big[600] = "{\"product.updated\": \"";
    memset(big + strlen(big), 'x', 300);
    app(big, sizeof big, "\"}");
    expect_refused(big, "empty or longer than 255 bytes");
    char parts[400] = "{\"product.updated\": \"";
    for (int i = 0; i < 9; i++)
        app(parts, sizeof parts, "a{subject}");
    app(parts, sizeof parts, "\"}");
    expect_refused(parts, "more than 16 parts");
}

/* Errors name the file and line of the bad entry when the rules came from a config file. */
Test(inv_rules, errors_name_file_and_line) {
    char path[] = "/tmp/inv_rules_XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    cr_assert_geq(fd, 0);
    const char yaml[] =
        "log:\n  level: warn\ninvalidations:\n  product.updated: [\"p:{data.product_id}\"]\n"
        "  customer.updated:\n    - \"c:{data.id}\"\n";
    cr_assert_eq(write(fd, yaml, sizeof yaml - 1), (ssize_t)(sizeof yaml - 1));
    close(fd);
    hs_config_t *cfg = hs_config_new();
    char err[512] = "";
    cr_assert_eq(hs_config_load_file(cfg, path, err, sizeof err), HS_OK, "%s", err);
    inv_rules_t *r = inv_rules_new(hs_config_tree(cfg, "invalidations"), cfg, err, sizeof err);
    cr_expect_null(r);
    char want[600];
    snprintf(want, sizeof want, "%s:6: invalidations.customer.updated: template \"c:{data.id}\"",
             path);
    cr_expect(strstr(err, want) == err, "\"%s\" does not start with \"%s\"", err, want);
    inv_rules_destroy(r);
    hs_config_destroy(cfg);
    unlink(path);
}
