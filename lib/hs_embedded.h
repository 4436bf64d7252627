/* Files compiled into the binary at build time (cmake/embed.cmake): the Avro schemas of
 * schemas/avro/<domain>/<type>.avsc, the SQL migrations of schemas/sql/NNN_name.sql, and the
 * Prometheus config and rules of ops/prometheus (what `hookstream dev` gives its Prometheus).
 * Each table ends with an entry whose path is NULL. */
#ifndef HS_EMBEDDED_H
#define HS_EMBEDDED_H

typedef struct {
    const char *path; /* relative to schemas/avro or schemas/sql */
    const char *text; /* file contents, NUL-terminated */
} hs_embedded_file_t;

extern const hs_embedded_file_t hs_embedded_avsc[];
extern const hs_embedded_file_t hs_embedded_sql[];
extern const hs_embedded_file_t hs_embedded_prometheus[]; /* relative to ops/prometheus */

#endif
