-- Nearly every attempt succeeds, and no query looks for succeeded attempts by status: listing an
-- endpoint's attempts by status (GET /v1/endpoints/{id}/attempts?status=failed) and the
-- dashboards' "not succeeded" tables are served by an index of the other attempts only, so
-- the attempt log's hot path (a COPY of every attempt) maintains three indexes, not four.
-- Listing without a status and `replay --recover` use attempts_endpoint_at.
DROP INDEX IF EXISTS attempts_endpoint_status_at;
CREATE INDEX attempts_unsucceeded ON attempts (endpoint_id, at) WHERE status <> 'succeeded';
