/* The deliver admin API (/v1/endpoints, /v1/replays, /v1/audit) on the deliver service's HTTP
 * server: bearer-token auth with admin (write) and read-only roles, validation of everything a
 * caller sends (422 naming the field), and an audit record of every change in Postgres and on
 * the hs.audit topic. Secrets are shown once, in the answer that creates or rotates them. */
#ifndef DELIVER_ADMIN_H
#define DELIVER_ADMIN_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "hs_config.h"
#include "hs_http.h"
#include "store.h"

typedef struct deliver_admin deliver_admin_t;

typedef struct {
    deliver_store_t *store;        /* borrowed */
    const hs_config_t *cfg;        /* borrowed: tokens, allow-list, grace, defaults */
    rd_kafka_t *producer;          /* borrowed; audit records go to topic hs.audit (key = actor,
                                      JSON value); NULL = audit table only */
    void (*changed)(void *opaque); /* called after every endpoint change (cache refresh); may
                                      be NULL; runs on an HTTP server thread */
    void *opaque;
} deliver_admin_opts_t;

/* Returns a new admin API or NULL with errstr (a malformed deliver.admin_tokens /
 * deliver.read_tokens entry, a bad deliver.allow_private). o and what it points to are
 * borrowed for the admin's life. */
deliver_admin_t *deliver_admin_new(const deliver_admin_opts_t *o, char *errstr, size_t n);

/* Adds the /v1/... routes to srv (before hs_http_server_start); a is borrowed by srv, so
 * destroy srv first. */
void deliver_admin_routes(deliver_admin_t *a, hs_http_server_t *srv);

/* Frees a; NULL is a no-op. */
void deliver_admin_destroy(deliver_admin_t *a);

#endif
