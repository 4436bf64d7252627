/* Decoding of typed events as consumers see them: a Confluent wire-format value (magic byte,
 * schema id, Avro body) becomes the event's JSON, with the schema fetched from the registry once
 * per id and kept parsed. Every consumer service (deliver, workflows, analytics) reads events
 * through this.
 * @locks: one mutex guards the schema cache; every function is thread-safe. */
#ifndef HS_EVENTDEC_H
#define HS_EVENTDEC_H

#include <jansson.h>
#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct hs_eventdec hs_eventdec_t;

/* Returns a new decoder using the registry cfg names (registry.url, else the catalog in
 * postgres.dsn), connected lazily on the first unknown schema id; NULL when out of memory.
 * cfg borrowed for the decoder's life. */
hs_eventdec_t *hs_eventdec_new(const hs_config_t *cfg);
void hs_eventdec_destroy(hs_eventdec_t *d);

/* Decodes value into *out (new reference). HS_ERR_INVALID when the bytes are not an event (not
 * wire format, unknown schema id, Avro that does not match its schema): the message itself is
 * bad. HS_ERR_UNAVAILABLE when the registry cannot be reached: try again later. */
hs_err_t hs_eventdec_decode(hs_eventdec_t *d, const void *value, size_t len, json_t **out,
                            char *errstr, size_t errstr_size);

#endif
