/* Process-wide metrics registry: counters, gauges and histograms with label sets, rendered as
 * Prometheus text exposition format 0.0.4 for GET /metrics. The registry is the one documented
 * piece of global mutable state besides the config snapshot; every function is thread-safe.
 * Handles live for the process (until hs_metrics_reset in tests), so callers keep them in
 * statics and never free them. Each metric holds at most 10,000 label sets. */
#ifndef HS_METRICS_H
#define HS_METRICS_H

#include <stddef.h>

typedef struct hs_metric hs_metric_t;

/* Registers (or returns the already registered) metric. labels: comma-separated label names
 * ("topic,partition") or NULL. Same name registered again with a different type/labels: abort
 * (a bug). Returned handle lives for the process. name, help and labels are copied. */
hs_metric_t *hs_metrics_counter(const char *name, const char *help, const char *labels);
hs_metric_t *hs_metrics_gauge(const char *name, const char *help, const char *labels);

/* buckets: ascending upper bounds (seconds for latencies); NULL = default latency buckets
 * 0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10. The bounds are copied;
 * registering the same name again with different bounds aborts. */
hs_metric_t *hs_metrics_histogram(const char *name, const char *help, const char *labels,
                                  const double *buckets, size_t nbuckets);

/* values: one string per label name, in order (NULL when the metric has no labels); borrowed
 * for the call only (a NULL entry counts as ""). Calls on a metric of the wrong kind are
 * ignored. Never allocates once the label set exists. */
void hs_metric_add(hs_metric_t *m, const char *const *values, double v);     /* counter, gauge */
void hs_metric_set(hs_metric_t *m, const char *const *values, double v);     /* gauge */
void hs_metric_observe(hs_metric_t *m, const char *const *values, double v); /* histogram */

/* Returns the Prometheus text format 0.0.4 of every metric; caller frees with free(). */
char *hs_metrics_render(void);

/* Registers the process metrics process_start_time_seconds, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_cpu_seconds_total and process_open_fds; every render
 * refreshes them from /proc/self. Idempotent; hs_http_server_new calls it. */
void hs_metrics_register_process(void);

/* Removes every metric (tests only): handles returned before become invalid. */
void hs_metrics_reset(void);

#endif
