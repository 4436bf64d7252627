/* Avro schema compatibility: "can a reader with schema R read data written with schema W",
 * following the schema resolution rules of the Avro 1.11 specification (promotions, records by
 * name or alias, fields by name or reader alias with defaults, enums with defaults, unions,
 * arrays, maps, fixed, recursive named types), and the registry compatibility modes built on it.
 * Pure functions over schema JSON text; thread-safe. */
#ifndef HS_COMPAT_H
#define HS_COMPAT_H

#include <stddef.h>

#include "hs_err.h"

typedef enum {
    HS_COMPAT_NONE,
    HS_COMPAT_BACKWARD,
    HS_COMPAT_BACKWARD_TRANSITIVE,
    HS_COMPAT_FORWARD,
    HS_COMPAT_FORWARD_TRANSITIVE,
    HS_COMPAT_FULL,
    HS_COMPAT_FULL_TRANSITIVE
} hs_compat_mode_t;

/* Returns the mode named `name` ("BACKWARD", case-insensitive), -1 if unknown. */
int hs_compat_mode_parse(const char *name);

/* Returns the static upper-case name of m ("BACKWARD_TRANSITIVE"). */
const char *hs_compat_mode_name(hs_compat_mode_t m);

/* HS_OK when reader can read writer's data; HS_ERR_CONFLICT + reason otherwise, naming the path:
 * "reader field 'order.currency' has no default and is missing from the writer".
 * Malformed JSON or schema → HS_ERR_INVALID. */
hs_err_t hs_compat_can_read(const char *reader_json, const char *writer_json, char *errstr,
                            size_t n);

/* Checks candidate against existing versions (oldest first) under mode: BACKWARD = candidate
 * reads the latest, FORWARD = the latest reads candidate, FULL = both; *_TRANSITIVE = against
 * every existing version. HS_OK when compatible, HS_ERR_CONFLICT + reason otherwise. */
hs_err_t hs_compat_check(hs_compat_mode_t mode, const char *candidate, const char *const *existing,
                         size_t nexisting, char *errstr, size_t n);

#endif
