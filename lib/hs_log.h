/* JSON-lines logging to stderr: one object per line with ts, level, service, msg and the
 * caller's fields. Fields are given as a jansson json_pack format and its arguments, so each
 * field keeps its type: hs_log(HS_LOG_ERROR, "produce failed", "{s:s, s:i}", "topic", t,
 * "partition", p). Never pass secrets as fields. Thread-safe; one write(2) per line. */
#ifndef HS_LOG_H
#define HS_LOG_H

typedef enum { HS_LOG_DEBUG, HS_LOG_INFO, HS_LOG_WARN, HS_LOG_ERROR, HS_LOG_OFF } hs_log_level_t;

/* Sets the service name stamped on every line and the lowest level written. Call once at
 * start; before it, service is "hookstream" and level is info. */
void hs_log_init(const char *service, hs_log_level_t level);

/* Parses "debug" | "info" | "warn" | "error" | "off"; returns -1 when name is none of these. */
int hs_log_level_parse(const char *name);

/* Writes one line when level is enabled. fields may be NULL (no extra fields). */
void hs_log(hs_log_level_t level, const char *msg, const char *fields, ...);

#endif
