/* Internal to the hs_avro module (hs_avro.c, hs_avro_encode.c, hs_avro_decode.c): the schema
 * compiled into a tree of nodes that the codec walks. avro-c validates the schema text but keeps
 * neither field defaults nor custom attributes, so the tree is built from the JSON text itself.
 * Everything here is immutable after hs_avro_schema_parse, which makes concurrent use safe. */
#ifndef HS_AVRO_NODE_H
#define HS_AVRO_NODE_H

#include <stddef.h>

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
    const char *name;     /* borrowed from the schema JSON */
    hs_avro_node_t *type;
    const json_t *def;    /* default value (borrowed from the schema JSON), NULL when none */
} hs_avro_field_t;

struct hs_avro_node {
    hs_avro_kind_t kind;
    char *name;                  /* full name of a named type, else the kind's Avro name */
    hs_avro_node_t *items;       /* array items, map values */
    hs_avro_field_t *fields;     /* record */
    size_t nfields;
    hs_avro_node_t **branches;   /* union */
    size_t nbranches;
    const char **symbols;        /* enum, borrowed from the schema JSON */
    size_t nsymbols;
    size_t size;                 /* fixed */
    hs_avro_node_t *next_alloc;  /* every node of a schema, for destroy */
};

struct hs_avro_schema {
    avro_schema_t raw;
    json_t *json;
    hs_avro_node_t *root;
    hs_avro_node_t *nodes;
};

/* Encodes value as node into *buf at *len (growing *buf, tracking *cap); `path` names the
 * field for messages. Used by hs_avro_encode_json and to check defaults at parse time. */
hs_err_t hs_avro_encode_node(const hs_avro_node_t *node, const json_t *value, char **buf,
                             size_t *len, char *errstr, size_t errstr_size);

#endif
