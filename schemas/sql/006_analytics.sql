-- Analytics (hookstream analytics, docs/analytics.md): event windows per minute and per hour,
-- the latest low-stock level per SKU, the consumer offsets written in the same transaction as
-- them (exactly once in effect), and the business views the Grafana dashboard reads.

-- Where each consumer group that keeps its offsets in Postgres resumes: the offset of the next
-- record to read per topic partition. Written in the same transaction as the group's effects.
CREATE TABLE consumer_offsets (
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL CHECK (partition >= 0),
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- One row per minute (event time, ce_time) and event type, source, tenant and currency ('' for
-- events without an amount). Every column but the key only grows: flushes add to it, so a late
-- event updates its own window at any time. Amounts are in the currency's major unit. Latency is
-- consume time minus the record's Kafka timestamp (when ingest produced it), counted in buckets
-- of upper bound latency_le_<N>ms (latency_inf: above 300 s). entities and customers are
-- HyperLogLog sketches (1024 registers in 16 bit planes; merge with |, count with
-- analytics_hll_count) of the events' ce_subject and of their customer ids.
CREATE TABLE analytics_minute (
    bucket               timestamptz NOT NULL,
    event_type           text NOT NULL,
    source               text NOT NULL,
    tenant               text NOT NULL,
    currency             text NOT NULL,
    events               bigint NOT NULL,
    amount_sum           numeric NOT NULL DEFAULT 0,
    amount_min           numeric,
    amount_max           numeric,
    latency_events       bigint NOT NULL DEFAULT 0,
    latency_sum_ms       bigint NOT NULL DEFAULT 0,
    latency_max_ms       bigint NOT NULL DEFAULT 0,
    latency_le_10ms      bigint NOT NULL DEFAULT 0,
    latency_le_25ms      bigint NOT NULL DEFAULT 0,
    latency_le_50ms      bigint NOT NULL DEFAULT 0,
    latency_le_100ms     bigint NOT NULL DEFAULT 0,
    latency_le_250ms     bigint NOT NULL DEFAULT 0,
    latency_le_500ms     bigint NOT NULL DEFAULT 0,
    latency_le_1000ms    bigint NOT NULL DEFAULT 0,
    latency_le_2500ms    bigint NOT NULL DEFAULT 0,
    latency_le_10000ms   bigint NOT NULL DEFAULT 0,
    latency_le_60000ms   bigint NOT NULL DEFAULT 0,
    latency_le_300000ms  bigint NOT NULL DEFAULT 0,
    latency_inf          bigint NOT NULL DEFAULT 0,
    entities             bit(16384),
    customers            bit(16384),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, event_type, source, tenant, currency)
);
CREATE INDEX analytics_minute_type ON analytics_minute (event_type, bucket);

-- The same per hour, updated in the same transaction as the minutes.
CREATE TABLE analytics_hourly (LIKE analytics_minute INCLUDING ALL);

-- The latest inventory.low per tenant and SKU (the inventory item id when the SKU is null), its
-- available level kept current by later inventory.updated events of that SKU.
CREATE TABLE analytics_low_stock (
    tenant      text NOT NULL,
    sku         text NOT NULL,
    location_id text NOT NULL,
    product_id  text NOT NULL,
    available   bigint NOT NULL,
    threshold   bigint NOT NULL,
    event_time  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, sku)
);

-- Estimated number of distinct values in a sketch (NULL: 0). Plane k (bits (k-1)*1024+1 ..
-- k*1024) marks the registers >= k, so the registers equal to k are plane k minus plane k+1.
-- HyperLogLog with linear counting below 2.5 x 1024; standard error 3.25 %.
CREATE FUNCTION analytics_hll_count(s bit) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH planes AS (
        SELECT k, bit_count(substring(s FROM (k - 1) * 1024 + 1 FOR 1024)) AS n
        FROM generate_series(1, 16) AS k
    ), est AS (
        SELECT 1024 - max(n) FILTER (WHERE k = 1) AS zeros,
               0.7213 / (1 + 1.079 / 1024) * 1024 * 1024
                   / (1024 - max(n) FILTER (WHERE k = 1)
                      + sum((n - next_n) * power(2::float8, -k))) AS raw
        FROM (SELECT k, n, coalesce(lead(n) OVER (ORDER BY k), 0) AS next_n FROM planes) AS p
    )
    SELECT CASE WHEN s IS NULL THEN 0
                WHEN raw <= 2.5 * 1024 AND zeros > 0 THEN round(1024 * ln(1024.0 / zeros))
                ELSE round(raw) END::bigint
    FROM est
$$;

-- The q-quantile (0..1) in ms of latency bucket counts in column order (latency_le_10ms ..
-- latency_inf), interpolated inside its bucket like Prometheus' histogram_quantile; NULL
-- without events; the last bucket answers its lower bound, 300000.
CREATE FUNCTION analytics_latency_quantile(buckets bigint[], q float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH b AS (
        SELECT i, c::float8 AS c, sum(c) OVER (ORDER BY i)::float8 AS cum,
               ('{0,10,25,50,100,250,500,1000,2500,10000,60000,300000}'::float8[])[i] AS lo,
               ('{10,25,50,100,250,500,1000,2500,10000,60000,300000}'::float8[])[i] AS hi
        FROM unnest(buckets) WITH ORDINALITY AS t(c, i)
    ), r AS (SELECT q * sum(c) AS rank FROM b)
    SELECT CASE WHEN hi IS NULL THEN lo ELSE lo + (hi - lo) * (rank - (cum - c)) / c END
    FROM b, r
    WHERE rank > 0 AND c > 0 AND cum >= rank
    ORDER BY i
    LIMIT 1
$$;

-- ---- business views (ops/grafana/dashboards/business.json) ----------------------------------

CREATE VIEW analytics_orders_per_minute AS
SELECT bucket AS minute, tenant, source, sum(events) AS orders
FROM analytics_minute WHERE event_type = 'order.placed'
GROUP BY bucket, tenant, source;

-- Revenue = the totals of placed orders (gross order value), per currency.
CREATE VIEW analytics_revenue_hourly AS
SELECT bucket AS hour, tenant, currency, sum(events) AS orders, sum(amount_sum) AS revenue,
       min(amount_min) AS smallest_order, max(amount_max) AS largest_order,
       round(sum(amount_sum) / sum(events), 4) AS average_order
FROM analytics_hourly WHERE event_type = 'order.placed' AND currency <> ''
GROUP BY bucket, tenant, currency;

CREATE VIEW analytics_new_customers_hourly AS
SELECT bucket AS hour, tenant, sum(events) AS new_customers
FROM analytics_hourly WHERE event_type = 'customer.created'
GROUP BY bucket, tenant;

CREATE VIEW analytics_sla_breaches_hourly AS
SELECT bucket AS hour, tenant, source, sum(events) AS breaches
FROM analytics_hourly WHERE event_type = 'support.sla.breached'
GROUP BY bucket, tenant, source;

CREATE VIEW analytics_low_stock_skus AS
SELECT tenant, sku, product_id, location_id, available, threshold, event_time
FROM analytics_low_stock WHERE available < threshold;

-- Distinct customers seen per hour in any event that names one (orders, payments, customers).
CREATE VIEW analytics_distinct_customers_hourly AS
SELECT bucket AS hour, tenant, analytics_hll_count(bit_or(customers)) AS customers
FROM analytics_hourly WHERE customers IS NOT NULL
GROUP BY bucket, tenant;

-- Ingest->consume latency per minute and event type: bucket counts in column order and the
-- usual quantiles (ms).
CREATE VIEW analytics_latency_per_minute AS
SELECT minute, event_type, events, avg_ms, max_ms, buckets,
       analytics_latency_quantile(buckets, 0.5) AS p50_ms,
       analytics_latency_quantile(buckets, 0.95) AS p95_ms,
       analytics_latency_quantile(buckets, 0.99) AS p99_ms
FROM (
    SELECT bucket AS minute, event_type, sum(latency_events) AS events,
           sum(latency_sum_ms)::float8 / nullif(sum(latency_events), 0) AS avg_ms,
           max(latency_max_ms) AS max_ms,
           ARRAY[sum(latency_le_10ms), sum(latency_le_25ms), sum(latency_le_50ms),
                 sum(latency_le_100ms), sum(latency_le_250ms), sum(latency_le_500ms),
                 sum(latency_le_1000ms), sum(latency_le_2500ms), sum(latency_le_10000ms),
                 sum(latency_le_60000ms), sum(latency_le_300000ms), sum(latency_inf)]::bigint[]
               AS buckets
    FROM analytics_minute
    GROUP BY bucket, event_type
) AS m;

-- Outcome of deliver's attempts per minute and endpoint (attempts that were sent; skipped and
-- held ones were not).
CREATE VIEW analytics_delivery_success_per_minute AS
SELECT date_trunc('minute', at) AS minute, endpoint_id,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status <> 'succeeded') AS failed,
       count(*) FILTER (WHERE status = 'succeeded')::float8 / count(*) AS success_rate
FROM attempts WHERE status IN ('succeeded', 'failed', 'retrying', 'dead')
GROUP BY 1, 2;
