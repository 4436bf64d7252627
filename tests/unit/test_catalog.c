#include <criterion/criterion.h>
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "hs_catalog.h"
#include "hs_embedded.h"

static const char *required[] = {
    "order.placed",         "order.updated",
    "order.cancelled",      "order.paid",
    "customer.created",     "customer.updated",
    "payment.succeeded",    "payment.failed",
    "product.updated",      "inventory.updated",
    "inventory.low",        "support.ticket.created",
    "support.sla.breached", "support.conversation.created",
};

Test(catalog, holds_every_embedded_schema_and_the_required_types) {
    size_t embedded = 0;
    while (hs_embedded_avsc[embedded].path)
        embedded++;
    cr_assert_eq(hs_catalog_count(), embedded, "a schema file was refused (see the log)");
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        cr_assert(hs_catalog_find(required[i]), "missing %s", required[i]);
}

Test(catalog, names_follow_the_conventions) {
    const hs_event_type_t *o = hs_catalog_find("order.placed");
    cr_assert_str_eq(o->domain, "orders");
    cr_assert_str_eq(o->topic, "hs.events.orders");
    cr_assert_str_eq(o->fullname, "hookstream.orders.OrderPlaced");
    cr_assert_str_eq(o->subject, "hs.events.orders-hookstream.orders.OrderPlaced");
    cr_assert_str_eq(o->key_field, "order_id");
    cr_assert(strstr(o->schema_json, "\"OrderPlaced\""));
    cr_assert_eq(hs_catalog_find_fullname("hookstream.orders.OrderPlaced"), o);
    cr_assert_str_eq(hs_catalog_find("support.sla.breached")->topic, "hs.events.support");
    cr_assert_str_eq(hs_catalog_find("inventory.low")->key_field, "inventory_item_id");
}

Test(catalog, lookups_of_unknown_names_return_null) {
    cr_assert_null(hs_catalog_find("order.shipped"));
    cr_assert_null(hs_catalog_find(""));
    cr_assert_null(hs_catalog_find(NULL));
    cr_assert_null(hs_catalog_find_fullname("OrderPlaced"));
    cr_assert_null(hs_catalog_find_fullname(NULL));
    cr_assert_null(hs_catalog_at(hs_catalog_count()));
    hs_event_type_t stranger = *hs_catalog_at(0);
    cr_assert_null(hs_catalog_schema(&stranger));
    cr_assert_null(hs_catalog_schema(NULL));
}

Test(catalog, sorted_by_type) {
    for (size_t i = 1; i < hs_catalog_count(); i++)
        cr_assert_lt(strcmp(hs_catalog_at(i - 1)->type, hs_catalog_at(i)->type), 0);
}

static int snake_case(const char *s) {
    if (!islower((unsigned char)*s)) return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

/* Checks the fields of a record (recursing into nested records, arrays and maps): snake_case
 * names, a doc each, and nullable unions written ["null", T] with default null. */
static void check_record(const char *type, const json_t *rec) {
    cr_assert(json_is_string(json_object_get(rec, "doc")), "%s: record without doc", type);
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(rec, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const json_t *t = json_object_get(f, "type");
        cr_assert(snake_case(name), "%s: field %s is not snake_case", type, name);
        cr_assert(json_is_string(json_object_get(f, "doc")), "%s: %s has no doc", type, name);
        if (json_is_array(t)) {
            cr_assert_str_eq(json_string_value(json_array_get(t, 0)), "null", "%s.%s", type, name);
            cr_assert(json_is_null(json_object_get(f, "default")), "%s.%s: no default null", type,
                      name);
            t = json_array_get(t, 1);
        }
        while (json_is_object(t) && json_object_get(t, "items"))
            t = json_object_get(t, "items");
        if (json_is_object(t) && json_object_get(t, "fields")) check_record(type, t);
    }
}

static const json_t *field(const json_t *rec, const char *name) {
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(rec, "fields"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0) return f;
    }
    return NULL;
}

Test(catalog, every_schema_is_a_well_formed_event) {
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        const hs_avro_schema_t *s = hs_catalog_schema(t);
        cr_assert(s, "%s", t->type);
        cr_assert_str_eq(hs_avro_schema_fullname(s), t->fullname);
        json_t *root = json_loads(t->schema_json, 0, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(root, "type")), "record", "%s", t->type);
        char ns[160], topic[160], subject[400];
        snprintf(ns, sizeof ns, "hookstream.%s", t->domain);
        snprintf(topic, sizeof topic, "hs.events.%s", t->domain);
        snprintf(subject, sizeof subject, "%s-%s", topic, t->fullname);
        cr_assert_str_eq(json_string_value(json_object_get(root, "namespace")), ns, "%s", t->type);
        cr_assert_str_eq(t->topic, topic);
        cr_assert_str_eq(t->subject, subject);
        /* the folder is the domain: the type's own prefix must agree (order.* in orders/) */
        cr_assert(strncmp(t->domain, t->type, strcspn(t->type, ".")) == 0, "%s in %s/", t->type,
                  t->domain);

        const json_t *key = field(root, t->key_field);
        cr_assert(key, "%s: hs.key %s is not a field", t->type, t->key_field);
        cr_assert_str_eq(json_string_value(json_object_get(key, "type")), "string",
                         "%s: key field %s must be a non-null string", t->type, t->key_field);

        const json_t *attrs = field(root, "attributes");
        cr_assert(attrs, "%s: no attributes map", t->type);
        json_t *want = json_pack("{s:s, s:s}", "type", "map", "values", "string");
        cr_assert(json_equal(json_object_get(attrs, "type"), want), "%s", t->type);
        cr_assert(json_is_object(json_object_get(attrs, "default")) &&
                      json_object_size(json_object_get(attrs, "default")) == 0,
                  "%s: attributes default must be {}", t->type);
        check_record(t->type, root);
        json_decref(want);
        json_decref(root);
    }
}

Test(catalog, every_type_has_test_data_and_docs) {
    char path[512];
    snprintf(path, sizeof path, "%s/docs/events.md", HS_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no %s", path);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        struct stat st;
        snprintf(path, sizeof path, "%s/avro/%s/input.json", HS_TEST_DATA, t->type);
        cr_assert_eq(stat(path, &st), 0, "no %s", path);
        char heading[160];
        snprintf(heading, sizeof heading, "\n### `%s`\n", t->type);
        cr_assert(strstr(doc, heading), "docs/events.md has no section for %s", t->type);
    }
}

static void *count(void *arg) {
    *(size_t *)arg = hs_catalog_count();
    return NULL;
}

Test(catalog, first_use_from_many_threads) {
    pthread_t th[4];
    size_t n[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, count, &n[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(n[i], n[0]);
    }
    cr_assert_geq(n[0], 14);
}
