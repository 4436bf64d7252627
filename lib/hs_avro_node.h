/* Internal to the hs_avro module (hs_avro.c, hs_avro_encode.c, hs_avro_decode.c): the schema
 * compiled into a tree of nodes that the codec walks. avro-c validates the schema text but keeps
 * neither field defaults nor custom attributes, so the tree is built from the JSON text itself.
 * Everything here is immutable after hs_avro_schema_parse, which makes concurrent use safe. */
#ifndef HS_AVRO_NODE_H
#define HS_AVRO_NODE_H

#include <stddef.h>
#include <stdio.h>

#include <avro.h>
#include <jansson.h>

#include "hs_avro.h"

typedef enum {
    HS_AVRO_NULL,
    HS_AVRO_BOOLEAN,
    HS_AVRO_INT,
    HS_AVRO_LONG,
    HS_AVRO_FLOAT,
    HS_AVRO_DOUBLE,
    HS_AVRO_BYTES,
    HS_AVRO_STRING,
    HS_AVRO_RECORD,
    HS_AVRO_ENUM,
    HS_AVRO_FIXED,
    HS_AVRO_ARRAY,
    HS_AVRO_MAP,
    HS_AVRO_UNION,
} hs_avro_kind_t;

typedef struct hs_avro_node hs_avro_node_t;

typedef struct {
    const char *name; /* borrowed from the schema JSON */
    size_t name_len;
    hs_avro_node_t *type;
    const json_t *def; /* default value (borrowed from the schema JSON), NULL when none */
    char *def_avro;    /* def encoded once at parse time (union: branch 0 index + value) */
    size_t def_avro_len;
} hs_avro_field_t;

struct hs_avro_node {
    hs_avro_kind_t kind;
    char *name;              /* full name of a named type, else the kind's Avro name */
    hs_avro_node_t *items;   /* array items, map values */
    hs_avro_field_t *fields; /* record */
    size_t nfields;
    hs_avro_node_t **branches; /* union */
    size_t nbranches;
    const char **symbols; /* enum, borrowed from the schema JSON */
    size_t nsymbols;
    size_t size;                /* fixed */
    hs_avro_node_t *next_alloc; /* every node of a schema, for destroy */
};

struct hs_avro_schema {
    avro_schema_t raw;
    json_t *json;
    hs_avro_node_t *root;
    hs_avro_node_t *nodes;
};

/* The field path of a decode error: "line_items[1].quantity". Truncated, never overflowed. */
typedef struct {
    char text[512];
    size_t len;
} hs_avro_path_t;

/* Appends ".name" (or "name" at the root) and returns the mark to pop back to. */
static inline size_t hs_avro_path_field(hs_avro_path_t *p, const char *name) {
    size_t mark = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "%s%s", p->len ? "." : "", name);
    if (n > 0 && (size_t)n < sizeof p->text - p->len) p->len += (size_t)n;
    p->text[p->len] = '\0';
    return mark;
}

/* Appends "[i]" and returns the mark to pop back to. */
static inline size_t hs_avro_path_index(hs_avro_path_t *p, size_t i) {
    size_t mark = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "[%zu]", i);
    if (n > 0 && (size_t)n < sizeof p->text - p->len) p->len += (size_t)n;
    p->text[p->len] = '\0';
    return mark;
}

static inline void hs_avro_path_pop(hs_avro_path_t *p, size_t mark) {
    p->len = mark;
    p->text[mark] = '\0';
}

/* Encodes value as node, appending to *buf at *len (realloc'd); on error *len is unchanged.
 * Used by hs_avro_encode_json and, at parse time, to check field defaults. */
hs_err_t hs_avro_encode_node(const hs_avro_node_t *node, const json_t *value, char **buf,
                             size_t *len, char *errstr, size_t errstr_size);

#endif
