/* Event type patterns, as endpoints subscribe with them: an exact type ("order.placed"), "*"
 * for every type, or "prefix.*" for every type below a prefix at any depth ("support.*" matches
 * "support.ticket.created"). Pure string functions: no allocation, no state. */
#ifndef HS_EVTYPE_H
#define HS_EVTYPE_H

/* Returns 1 when type matches pattern (exact, "*", or "prefix.*"), else 0. NULL never matches. */
int hs_evtype_match(const char *pattern, const char *type);

/* Returns 1 when pattern is well formed: segments [a-z0-9_]+ separated by '.', '*' only as the
 * whole last segment ("*" alone is fine); else 0. */
int hs_evtype_pattern_ok(const char *pattern);

#endif
