/* Every configuration key hookstream reads. Adding a key is adding a row; docs/config.md is
 * generated from this table (`hookstream config doc`), and a test fails when the doc is stale. */
#include "hs_config.h"

#define LEVELS "debug|info|warn|error"
#define COMPAT "BACKWARD|BACKWARD_TRANSITIVE|FORWARD|FORWARD_TRANSITIVE|FULL|FULL_TRANSITIVE|NONE"

const char *const hs_config_trees[] = {
    "sources",       /* ingest: webhook sources (docs/ingest.md) */
    "integrations",  /* workflows: rate limit and breaker per integration (docs/workflows.md) */
    "invalidations", /* invalidator: event type -> cache tag templates (docs/cache.md) */
    "cache_routes",  /* cache-proxy: path patterns, tags, TTLs (docs/cache.md) */
    NULL,
};

const hs_config_key_t hs_config_keys[] = {
    {"log.level", HS_CFG_ENUM, "info", LEVELS, "Lowest level of JSON log lines written to stderr."},

    {"kafka.brokers", HS_CFG_STR, "127.0.0.1:9092", NULL,
     "Bootstrap servers (host:port,...) of any Kafka-compatible cluster."},
    {"kafka.timeout_ms", HS_CFG_INT, "10000", "100..600000",
     "Deadline for one broker operation (metadata, produce flush, admin call); past it the "
     "command fails naming the broker."},
    {"kafka.partitions", HS_CFG_INT, "6", "1..1000",
     "Partition count of topics hookstream creates."},
    {"kafka.replication_factor", HS_CFG_INT, "1", "1..10",
     "Replication factor of topics hookstream creates."},

    {"postgres.dsn", HS_CFG_STR, "postgresql://127.0.0.1:5432/hookstream", NULL,
     "libpq connection string or URI."},
    {"postgres.connect_timeout_s", HS_CFG_INT, "5", "1..300",
     "Seconds to wait for a Postgres connection before failing."},

    {"redis.url", HS_CFG_STR, "redis://127.0.0.1:6379", NULL, "Redis server (redis://host:port)."},
    {"redis.timeout_ms", HS_CFG_INT, "2000", "10..60000", "Connect and command timeout for Redis."},

    {"registry.url", HS_CFG_STR, "", NULL,
     "Confluent-compatible Schema Registry to use (http://host:port). Empty: the local catalog "
     "in Postgres (postgres.dsn)."},
    {"registry.listen", HS_CFG_STR, "127.0.0.1:8081", NULL,
     "Address `hookstream registry` serves the Schema Registry API, /metrics, /healthz and "
     "/readyz on."},
    {"registry.compatibility", HS_CFG_ENUM, "BACKWARD", COMPAT,
     "Global compatibility level for subjects without their own."},
    {"registry.timeout_ms", HS_CFG_INT, "5000", "100..120000",
     "Timeout of one request to registry.url."},

    {"http.max_body_bytes", HS_CFG_INT, "1048576", "1024..104857600",
     "Largest request body any hookstream HTTP service accepts (413 above)."},
    {"http.threads", HS_CFG_INT, "2", "1..64", "Worker threads of each HTTP service."},

    {"broker.count", HS_CFG_INT, "1", "1..9", "Brokers in the embedded mock cluster."},
    {"broker.bootstrap_file", HS_CFG_STR, ".hookstream/broker.bootstrap", NULL,
     "File `hookstream broker` writes its bootstrap address to."},
    {"broker.control_listen", HS_CFG_STR, "127.0.0.1:0", NULL,
     "HTTP address of the embedded broker's control API (topics, fault injection), /metrics, "
     "/healthz, /readyz. Port 0 picks a free one."},
    {"broker.topics", HS_CFG_STR, "", NULL,
     "Extra topics to create at start, as name[:partitions],... (hookstream's own topics are "
     "always created)."},
    {"broker.control_url", HS_CFG_STR, "", NULL,
     "Control API of a running `hookstream broker` (http://host:port, its second stdout line). "
     "`topics create` uses it when the cluster cannot create topics itself (the embedded broker "
     "has no CreateTopics)."},

    {"ingest.listen", HS_CFG_STR, "127.0.0.1:8080", NULL,
     "HTTP address of `hookstream ingest` (POST /webhooks/{source}[/{tenant}]). Port 0 picks a "
     "free one."},
    {"ingest.max_body_bytes", HS_CFG_INT, "1048576", "1024..104857600",
     "Largest webhook body accepted; larger ones get 413 before the body is read."},
    {"ingest.threads", HS_CFG_INT, "2", "1..64", "HTTP worker threads of ingest."},
    {"ingest.ack_timeout_ms", HS_CFG_INT, "5000", "100..300000",
     "How long a webhook waits for the broker to acknowledge its records before the answer is "
     "503 + Retry-After (librdkafka message.timeout.ms of the ingest producer)."},
    {"ingest.retry_after_s", HS_CFG_INT, "5", "1..3600",
     "Retry-After of a 503 (broker unavailable) answer."},
    {"ingest.linger_ms", HS_CFG_INT, "1", "0..1000",
     "librdkafka linger.ms of the ingest producer: every request waits for its ack, so a long "
     "linger adds latency to every webhook (see docs/ingest.md for the measurements)."},
    {"ingest.dedup_window_s", HS_CFG_INT, "86400", "1..2592000",
     "How long a delivered provider event id answers 200 {\"duplicate\": true}."},
    {"ingest.dedup_cache_size", HS_CFG_INT, "100000", "1..100000000",
     "Provider event ids kept in memory (least recently used go first)."},
    {"ingest.dedup_redis", HS_CFG_BOOL, "false", NULL,
     "Also keep delivered ids in Redis at redis.url (SET NX EX) so several ingest instances "
     "agree; Redis errors never fail a webhook (counted, memory only)."},
    {"ingest.dedup_redis_timeout_ms", HS_CFG_INT, "50", "1..10000",
     "Connect and command timeout of the dedup Redis calls (they run on the request path)."},
    {"ingest.default_tier", HS_CFG_ENUM, "enterprise", "free|pro|enterprise",
     "Rate-limit tier of sources that name none (quick-start --source sources too)."},
    {"ingest.rate_free", HS_CFG_INT, "5", "0..1000000",
     "Requests per second per tenant of tier free (0: unlimited); the burst is one second's "
     "worth."},
    {"ingest.rate_pro", HS_CFG_INT, "20", "0..1000000",
     "Requests per second per tenant of tier pro (0: unlimited)."},
    {"ingest.rate_enterprise", HS_CFG_INT, "0", "0..1000000",
     "Requests per second per tenant of tier enterprise (0: unlimited)."},

    {"deliver.listen", HS_CFG_STR, "127.0.0.1:8090", NULL,
     "Address `hookstream deliver` serves its admin API (/v1/...), /metrics, /healthz and "
     "/readyz on."},
    {"deliver.url", HS_CFG_STR, "http://127.0.0.1:8090", NULL,
     "Admin API the `endpoints` and `replay` commands talk to."},
    {"deliver.token", HS_CFG_STR, "", NULL,
     "Bearer token the `endpoints` and `replay` commands send (HS_DELIVER_TOKEN)."},
    {"deliver.admin_tokens", HS_CFG_STR, "", NULL,
     "Admin API tokens with write access: comma-separated NAME:TOKEN pairs (NAME is the actor "
     "in the audit log)."},
    {"deliver.read_tokens", HS_CFG_STR, "", NULL,
     "Admin API tokens with read-only access: comma-separated NAME:TOKEN pairs."},
    {"deliver.master_key", HS_CFG_STR, "", NULL,
     "Key that encrypts endpoint secrets at rest (AES-256-GCM): 32 bytes as 64 hex characters "
     "or base64. Required; set it with HS_DELIVER_MASTER_KEY rather than in a file."},
    {"deliver.group", HS_CFG_STR, "hs-deliver", NULL,
     "Consumer group of deliver; also names its retry tier and DLQ topics."},
    {"deliver.topics", HS_CFG_STR, "^hs\\.events\\..*", NULL,
     "Comma-separated topics (or ^regex) deliver consumes."},
    {"deliver.disabled_hold_ms", HS_CFG_INT, "5000", "100..86400000",
     "How long an event for an endpoint whose integration is switched off (flag "
     "integration.<name>.enabled) waits in a retry tier before it is looked at again."},
    {"deliver.allow_private", HS_CFG_STR, "", NULL,
     "Comma-separated CIDRs or host names endpoints may point to although they are loopback, "
     "private or link-local (the SSRF guard refuses those otherwise)."},
    {"deliver.retry_policy", HS_CFG_STR, "5s,5m,30m,2h,5h,10h,10h", NULL,
     "Default retry policy of endpoints: a schedule of delays, or FAMILY:initial=,max=,factor=,"
     "attempts= with FAMILY exponential, fibonacci, full-jitter or decorrelated-jitter."},
    {"deliver.timeout_ms", HS_CFG_INT, "15000", "100..300000",
     "Deadline of one delivery (connect, send, answer)."},
    {"deliver.connect_timeout_ms", HS_CFG_INT, "5000", "100..60000",
     "Deadline of the TCP/TLS connect of one delivery."},
    {"deliver.max_response_bytes", HS_CFG_INT, "65536", "0..10485760",
     "Largest response body read from a receiver; a bigger one is cut off and counted (the "
     "attempt log keeps its first 1 KiB)."},
    {"deliver.max_in_flight", HS_CFG_INT, "16", "1..10000",
     "Concurrent deliveries per endpoint (bulkhead) unless the endpoint sets max_in_flight."},
    {"deliver.queue_wait_ms", HS_CFG_INT, "1000", "10..600000",
     "A delivery that waited this long for its endpoint's slot or token goes to a retry tier, so "
     "a slow endpoint never holds a partition (ordered endpoints wait instead)."},
    {"deliver.max_connections", HS_CFG_INT, "256", "1..100000",
     "Concurrent deliveries in total (libcurl multi)."},
    {"deliver.breaker_failure_pct", HS_CFG_INT, "50", "1..100",
     "An endpoint's breaker opens when this percentage of its deliveries in the window failed."},
    {"deliver.breaker_min_requests", HS_CFG_INT, "10", "1..100000",
     "... and at least this many were made in the window."},
    {"deliver.breaker_window_ms", HS_CFG_INT, "30000", "100..3600000",
     "Sliding window of the breaker's failure rate."},
    {"deliver.breaker_open_ms", HS_CFG_INT, "30000", "10..86400000",
     "Time an open breaker waits before a half-open probe."},
    {"deliver.secret_grace_s", HS_CFG_INT, "86400", "0..2592000",
     "After a secret rotation the previous secret still signs (a second signature) this long."},
    {"deliver.replay_rate", HS_CFG_INT, "500", "1..1000000",
     "Deliveries per second a replay sends at most."},
    {"deliver.attempt_queue", HS_CFG_INT, "100000", "100..10000000",
     "Attempt-log rows waiting for the batched writer; past it rows are dropped and counted."},

    {"workflows.dir", HS_CFG_STR, "workflows", NULL,
     "Directory whose *.yaml files are the workflow definitions (reloaded when they change)."},
    {"workflows.listen", HS_CFG_STR, "127.0.0.1:8092", NULL,
     "Address `hookstream workflows` serves its admin API (/v1/...), /metrics, /healthz and "
     "/readyz on."},
    {"workflows.url", HS_CFG_STR, "http://127.0.0.1:8092", NULL,
     "Admin API the `hookstream workflows list|show|runs|run|cancel|retry` commands call."},
    {"workflows.token", HS_CFG_STR, "", NULL,
     "Bearer token those commands send (one of workflows.admin_tokens or read_tokens)."},
    {"workflows.admin_tokens", HS_CFG_STR, "", NULL,
     "Comma-separated NAME:TOKEN entries allowed to cancel and retry runs. Empty: "
     "deliver.admin_tokens."},
    {"workflows.read_tokens", HS_CFG_STR, "", NULL,
     "Comma-separated NAME:TOKEN entries allowed to read. Empty: deliver.read_tokens."},
    {"workflows.group", HS_CFG_STR, "hs-workflows", NULL,
     "Consumer group of the workflow triggers; also names its retry tier and DLQ topics."},
    {"workflows.topics", HS_CFG_STR, "^hs\\.events\\..*", NULL,
     "Comma-separated topics (or ^regex) whose events trigger workflows and end waits."},
    {"workflows.workers", HS_CFG_INT, "4", "1..256", "Threads that execute workflow runs."},
    {"workflows.lease_ms", HS_CFG_INT, "30000", "1000..3600000",
     "How long a worker holds a run without touching it; a run held by a worker that died is "
     "taken over after this."},
    {"workflows.poll_ms", HS_CFG_INT, "250", "10..60000",
     "How often idle workers look for due runs (new runs wake them at once)."},
    {"workflows.reload_ms", HS_CFG_INT, "1000", "100..600000",
     "How often the definitions directory is checked for changes."},
    {"workflows.hold_ms", HS_CFG_INT, "5000", "100..3600000",
     "How long a step of a disabled, rate-limited or circuit-open integration waits before it "
     "looks again."},
    {"workflows.max_depth", HS_CFG_INT, "8", "1..100",
     "Most events a chain of emit steps may produce from one provider event; deeper events "
     "start no runs (stops workflows that trigger themselves)."},
    {"workflows.event_keep_ms", HS_CFG_INT, "3600000", "1000..604800000",
     "How long events are kept for wait_for_event steps that start after the event arrived."},
    {"workflows.history_days", HS_CFG_INT, "30", "0..3650",
     "Days runs that ended (completed, failed, cancelled) are kept, with their steps, before "
     "they are deleted; 0 keeps them forever."},
    {"workflows.allow_private", HS_CFG_STR, "", NULL,
     "Comma-separated CIDRs or host names http and slack steps may call although they are "
     "loopback or private (the SSRF guard refuses those otherwise)."},
    {"workflows.smtp_url", HS_CFG_STR, "smtp://127.0.0.1:25", NULL,
     "SMTP server of email steps that name none (smtp:// or smtps://)."},
    {"workflows.smtp_from", HS_CFG_STR, "hookstream@localhost", NULL,
     "Sender of email steps that name none."},

    {"analytics.listen", HS_CFG_STR, "127.0.0.1:8094", NULL,
     "Address `hookstream analytics` serves /metrics, /healthz and /readyz on (port 0: a free "
     "one)."},
    {"analytics.group", HS_CFG_STR, "hookstream-analytics", NULL,
     "Consumer group of analytics: its offsets are kept in Postgres (consumer_offsets) with the "
     "windows; also names its DLQ topic <group>.dlq."},
    {"analytics.topics", HS_CFG_STR, "^hs\\.events\\..*", NULL,
     "Comma-separated topics (or ^regex) analytics aggregates."},
    {"analytics.flush_ms", HS_CFG_INT, "1000", "10..3600000",
     "How often the windows held in memory are written to Postgres at the latest (one "
     "transaction with the offsets); once the consumer has caught up they are written at once, "
     "at most every 100 ms."},
    {"analytics.flush_events", HS_CFG_INT, "200000", "1..100000000",
     "... or as soon as this many events are held."},
    {"analytics.max_pending_events", HS_CFG_INT, "1000000", "1..1000000000",
     "While flushes fail (Postgres away), consuming pauses once this many events are held; "
     "they are written when Postgres is back."},
    {"analytics.late_after_ms", HS_CFG_INT, "5000", "0..86400000",
     "An event counts as late (metric outcome late; it still updates its own window) when its "
     "minute ended more than this long before it was consumed."},
    {"analytics.retry_max_ms", HS_CFG_INT, "5000", "100..600000",
     "Longest wait between flush attempts while Postgres fails (from 100 ms, doubling); also "
     "how long the schema registry is left alone after it could not be reached."},

    {"invalidator.listen", HS_CFG_STR, "127.0.0.1:8093", NULL,
     "Address `hookstream invalidator` serves /metrics, /healthz and /readyz on (port 0: a free "
     "one)."},
    {"invalidator.group", HS_CFG_STR, "hookstream-invalidator", NULL,
     "Consumer group of the invalidator."},
    {"invalidator.topics", HS_CFG_STR, "^hs\\.events\\..*", NULL,
     "Comma-separated topics (or ^regex) whose events invalidate cache tags."},
    {"invalidator.workers", HS_CFG_INT, "2", "1..64",
     "Threads that decode events and invalidate their tags, each with its own Redis connection."},
    {"invalidator.retry_max_ms", HS_CFG_INT, "5000", "100..600000",
     "While Redis (or the schema registry) is unreachable an event is retried in place, its "
     "offset held, with a backoff from 100 ms doubling up to this."},

    {"cache.listen", HS_CFG_STR, "127.0.0.1:8095", NULL,
     "Address `hookstream cache-proxy` serves the proxied API on: every path goes to "
     "cache.upstream (port 0: a free one)."},
    {"cache.admin_listen", HS_CFG_STR, "127.0.0.1:8096", NULL,
     "Address cache-proxy serves its own /metrics, /healthz and /readyz on (port 0: a free one)."},
    {"cache.upstream", HS_CFG_STR, "", NULL,
     "Base URL of the API cache-proxy stands in front of (http[s]://host[:port][/base]); "
     "required."},
    {"cache.upstream_timeout_ms", HS_CFG_INT, "10000", "10..600000",
     "Deadline of one upstream call (connect to last byte); past it the client gets 504, or the "
     "stale copy of a route with stale_if_error."},
    {"cache.workers", HS_CFG_INT, "32", "1..1024",
     "Threads of cache-proxy that call Redis and the upstream (L1 hits are answered on the HTTP "
     "threads, http.threads): the most upstream calls in flight at once."},
    {"cache.ttl", HS_CFG_STR, "10m", NULL,
     "How long an answer stays fresh in Redis (L2) for routes that name no ttl."},
    {"cache.l1_ttl", HS_CFG_STR, "1m", NULL,
     "How long an answer stays in the proxy's memory (L1) for routes that name no l1_ttl "
     "(never longer than its L2 freshness; 0s: no L1)."},
    {"cache.l1_max_bytes", HS_CFG_INT, "67108864", "0..1099511627776",
     "Memory bound of the L1 (least recently used answers go first; 0: no L1)."},
    {"cache.max_object_bytes", HS_CFG_INT, "1048576", "1..1073741824",
     "Largest answer body that is cached; bigger ones pass through uncached."},
    {"cache.max_response_bytes", HS_CFG_INT, "16777216", "1..1073741824",
     "Largest upstream answer body passed through at all; bigger ones get 502."},
    {"cache.tenant_header", HS_CFG_STR, "X-Tenant", NULL,
     "Request header naming the tenant; part of every cache key (absent: tenant \"\")."},
    {"cache.redis_prefix", HS_CFG_STR, "hs:cache:", NULL,
     "Prefix of the cache's Redis keys (entries, tag sets, generations), shared by cache-proxy "
     "and the invalidator."},
    {"cache.invalidation_channel", HS_CFG_STR, "hs:cache:invalidate", NULL,
     "Redis pub/sub channel invalidations are announced on (\"tenant<TAB>tag<TAB>generation\"); "
     "every cache-proxy drops the tag from its L1."},

    {"consumer.retry_tiers", HS_CFG_STR, "5s,5m,30m,2h,5h,10h", NULL,
     "Retry tiers of consumer services that name none: ascending delays (ms, s, m, h, d); each "
     "is a topic <group>.retry.<delay> (docs/consumer.md)."},
    {"consumer.window", HS_CFG_INT, "64", "1..100000",
     "Most messages of one partition in flight at once (running, or waiting behind an earlier "
     "message with the same key)."},
    {"consumer.read_ahead", HS_CFG_INT, "1024", "0..100000",
     "Messages of a partition held in memory behind a full window; the partition is paused "
     "only when these are full too (0: pause as soon as the window is full)."},
    {"consumer.shutdown_deadline_ms", HS_CFG_INT, "10000", "0..600000",
     "On stop, how long in-flight messages may still finish before the rest is handed to the "
     "first retry tier."},
    {"consumer.revoke_wait_ms", HS_CFG_INT, "2000", "0..600000",
     "On a rebalance, how long in-flight messages of revoked partitions may finish before "
     "their offsets are committed (the rest is consumed again by the new owner)."},
    {"consumer.stats_interval_ms", HS_CFG_INT, "5000", "0..3600000",
     "librdkafka statistics interval, the refresh period of consumer_lag (0: no lag metric)."},
    {"consumer.max_poll_silence_ms", HS_CFG_INT, "30000", "0..86400000",
     "/readyz of a consumer service fails when its consumer has not polled for this long (a "
     "stuck dispatch loop or a handler that never returns); 0: never."},

    {"flags.file", HS_CFG_STR, "", NULL,
     "Feature flags file in flagd's format (docs/flags.md), read at start and reloaded when it "
     "changes; an invalid new version is rejected whole. Empty: no file."},
    {"flags.topic", HS_CFG_STR, "hs.flags", NULL,
     "Compacted topic of flag definitions (key = flag key, value = its JSON, empty = delete) "
     "every service follows and `hookstream flags` writes; created when missing. Empty: none."},
    {"flags.poll_ms", HS_CFG_INT, "1000", "10..3600000",
     "How often flags.file is checked for changes."},

    {"dev.ingest_port", HS_CFG_INT, "0", "0..65535",
     "Port of ingest in the dev stack (0: a free one)."},
    {"dev.deliver_port", HS_CFG_INT, "0", "0..65535",
     "Port of deliver's admin API in the dev stack (0: a free one)."},
    {"dev.workflows_port", HS_CFG_INT, "0", "0..65535",
     "Port of the workflows admin API in the dev stack (0: a free one)."},
    {"dev.dir", HS_CFG_STR, ".hookstream", NULL,
     "Directory of the dev stack: pid files, logs, Postgres cluster, env file."},
    {"dev.pg_port", HS_CFG_INT, "0", "0..65535", "Postgres port of the dev stack (0: a free one)."},
    {"dev.redis_port", HS_CFG_INT, "0", "0..65535", "Redis port of the dev stack (0: a free one)."},
    {"dev.registry_port", HS_CFG_INT, "0", "0..65535",
     "Schema registry port of the dev stack (0: a free one)."},
    {"dev.start_timeout_ms", HS_CFG_INT, "30000", "1000..600000",
     "How long `dev up` waits for each part to become ready."},
    {"dev.broker_control_port", HS_CFG_INT, "0", "0..65535",
     "Port of the embedded broker's control API in the dev stack (0: a free one)."},
    {"dev.pg_bindir", HS_CFG_STR, "/usr/lib/postgresql/15/bin", NULL,
     "Directory holding the PostgreSQL 15 server binaries (initdb, postgres) the dev stack runs "
     "(Debian package postgresql-15)."},
    {"dev.redis_server", HS_CFG_STR, "redis-server", NULL,
     "Redis server binary the dev stack runs: a path, or a name looked up in PATH and /usr/bin "
     "(Debian package redis-server)."},
    {"dev.prometheus", HS_CFG_STR, "prometheus", NULL,
     "Prometheus server binary the dev stack runs when it is installed (a path, or a name looked "
     "up in PATH and /usr/bin; Debian package prometheus); not found: the stack has none."},
    {"dev.invalidator_port", HS_CFG_INT, "0", "0..65535",
     "Port of the cache invalidator's /metrics in the dev stack (0: a free one)."},
    {"dev.analytics_port", HS_CFG_INT, "0", "0..65535",
     "Port of analytics' /metrics in the dev stack (0: a free one)."},
    {"dev.cache_upstream", HS_CFG_STR, "", NULL,
     "API the dev stack's cache-proxy caches (http://host:port; routes from cache_routes in the "
     "config file). Empty: the stack has no cache-proxy."},
    {"dev.cache_port", HS_CFG_INT, "0", "0..65535",
     "Port of the dev stack's cache-proxy (0: a free one)."},
    {"dev.cache_admin_port", HS_CFG_INT, "0", "0..65535",
     "Port of the dev stack's cache-proxy /metrics, /healthz, /readyz (0: a free one)."},
    {"dev.prometheus_port", HS_CFG_INT, "0", "0..65535",
     "Port of Prometheus in the dev stack (0: a free one)."},
    {"dev.prometheus_scrape_interval", HS_CFG_STR, "2s", NULL,
     "Scrape and rule evaluation interval of the dev stack's Prometheus (100ms..1h)."},

    {NULL, 0, NULL, NULL, NULL},
};
