/* The event catalog: every event type whose Avro schema is compiled into the binary
 * (schemas/avro/<domain>/<type>.avsc, embedded as hs_embedded_avsc). Each type knows its Kafka
 * topic (hs.events.<domain>), its registry subject (TopicRecordNameStrategy) and the field that
 * becomes the Kafka key and ce_subject (the schema's "hs.key" attribute). */
#ifndef HS_CATALOG_H
#define HS_CATALOG_H

#include <stddef.h>

#include "hs_avro.h"

typedef struct {
    const char *type;        /* "order.placed" (file name without .avsc) */
    const char *domain;      /* "orders" (folder) */
    const char *topic;       /* "hs.events.orders" */
    const char *fullname;    /* "hookstream.orders.OrderPlaced" */
    const char *subject;     /* TopicRecordNameStrategy "<topic>-<fullname>":
                              * "hs.events.orders-hookstream.orders.OrderPlaced" */
    const char *key_field;   /* value of "hs.key" */
    const char *schema_json; /* the .avsc text as written (what gets registered) */
} hs_event_type_t;

/* Built lazily on first use (thread-safe, pthread_once) from hs_embedded_avsc; static lifetime.
 * Every pointer returned below is borrowed and valid for the life of the process. */

/* Returns the type named `type` ("order.placed"), NULL if unknown. */
const hs_event_type_t *hs_catalog_find(const char *type);

/* Returns the type whose record full name is `fullname`, NULL if unknown. */
const hs_event_type_t *hs_catalog_find_fullname(const char *fullname);

/* Returns how many types the catalog holds. */
size_t hs_catalog_count(void);

/* Returns the i-th type, sorted by type name; NULL when i >= hs_catalog_count(). */
const hs_event_type_t *hs_catalog_at(size_t i);

/* Returns the parsed schema of t (a pointer from this catalog), ready for hs_avro_encode_json /
 * hs_avro_decode_json; borrowed, static lifetime. NULL when t is not from the catalog. */
const hs_avro_schema_t *hs_catalog_schema(const hs_event_type_t *t);

#endif
