-- Outbound delivery (hookstream deliver): endpoints and their encrypted secrets, the attempt log,
-- replays and the admin audit trail.

-- One row per subscriber endpoint. event_types holds exact types, "domain.*" or "*".
CREATE TABLE endpoints (
    id              text PRIMARY KEY,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    event_types     text[] NOT NULL,
    filter          jsonb,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text NOT NULL DEFAULT '',
    rate_limit      double precision NOT NULL DEFAULT 0 CHECK (rate_limit >= 0),
    max_in_flight   integer NOT NULL DEFAULT 0 CHECK (max_in_flight >= 0),
    ordered         boolean NOT NULL DEFAULT false,
    policy          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Signing secrets, AES-256-GCM sealed with the master key (the endpoint id is the associated
-- data, so a sealed secret copied to another endpoint does not open). expires_at is set on the
-- previous secrets by a rotation: they keep signing until then.
CREATE TABLE endpoint_secrets (
    id          bigserial PRIMARY KEY,
    endpoint_id text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    secret_enc  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz
);
CREATE INDEX endpoint_secrets_endpoint ON endpoint_secrets (endpoint_id, id DESC);
CREATE INDEX endpoint_secrets_expires ON endpoint_secrets (expires_at)
    WHERE expires_at IS NOT NULL;

-- Every delivery attempt. No foreign key to endpoints: the history outlives a deleted endpoint.
CREATE TABLE attempts (
    id          bigserial PRIMARY KEY,
    endpoint_id text NOT NULL,
    event_id    text NOT NULL,
    event_type  text NOT NULL DEFAULT '',
    topic       text NOT NULL DEFAULT '',
    partition   integer NOT NULL DEFAULT -1,
    "offset"    bigint NOT NULL DEFAULT -1,
    attempt     integer NOT NULL DEFAULT 0,
    status      text NOT NULL,
    http_status integer NOT NULL DEFAULT 0,
    latency_ms  bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    excerpt     text NOT NULL DEFAULT '',
    replay_id   text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_endpoint_at ON attempts (endpoint_id, at DESC);
CREATE INDEX attempts_event ON attempts (event_id);
CREATE INDEX attempts_endpoint_status_at ON attempts (endpoint_id, status, at);

-- Re-deliveries requested by operators, claimed by one deliver process at a time.
CREATE TABLE replays (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('event', 'range', 'recover')),
    endpoint_id text NOT NULL,
    event_id    text NOT NULL DEFAULT '',
    topic       text NOT NULL DEFAULT '',
    from_ms     bigint NOT NULL DEFAULT 0,
    to_ms       bigint NOT NULL DEFAULT 0,
    since_ms    bigint NOT NULL DEFAULT 0,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'cancelled', 'failed')),
    total       bigint NOT NULL DEFAULT 0,
    done        bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE INDEX replays_pending ON replays (created_at, id) WHERE state = 'pending';

-- Admin actions (also produced to hs.audit).
CREATE TABLE audit (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL,
    role   text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    detail jsonb
);

-- A counter bumped in the same transaction as any change to endpoints or their secrets, so a
-- cache that polls it never sees the new number before the change is visible.
CREATE TABLE delivery_version (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO delivery_version VALUES (1, 1);

CREATE FUNCTION delivery_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE delivery_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoints_version AFTER INSERT OR UPDATE OR DELETE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_version_bump();
CREATE TRIGGER endpoint_secrets_version AFTER INSERT OR UPDATE OR DELETE ON endpoint_secrets
    FOR EACH ROW EXECUTE FUNCTION delivery_version_bump();
