-- Workflows (hookstream workflows): the definition versions runs started with, runs with their
-- timer and lease, step runs, the event waits of wait_for_event steps and the recent events
-- such a wait may match. consumers/workflows/wf_store.h describes the states.

-- The text of every definition version a run started with: a run resumes with its own version
-- after the file changed.
CREATE TABLE workflow_versions (
    workflow   text NOT NULL,
    version    text NOT NULL,
    definition text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow, version)
);

-- One row per run. trigger_id is the trigger event's ce_id (or "schedule:<unix ms>", also kept
-- as fire_ms), unique per workflow so a redelivered event starts no second run. seq orders runs
-- by creation (runs of one key start in that order). wake_at is the run's timer while it
-- waits; the lease (owner, until) belongs to the engine worker running it.
CREATE TABLE workflow_runs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq             bigserial NOT NULL,
    workflow        text NOT NULL,
    version         text NOT NULL,
    trigger_id      text NOT NULL,
    trigger_type    text NOT NULL,
    fire_ms         bigint,
    concurrency_key text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'waiting', 'completed', 'failed',
                                      'cancelled')),
    event           jsonb NOT NULL,
    depth           integer NOT NULL DEFAULT 0 CHECK (depth >= 0),
    max_runs        integer NOT NULL DEFAULT 0 CHECK (max_runs >= 0),
    max_per_key     integer NOT NULL DEFAULT 0 CHECK (max_per_key >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    wake_at         timestamptz,
    deadline_at     timestamptz,
    lease_owner     text,
    lease_until     timestamptz,
    error           text,
    UNIQUE (workflow, trigger_id)
);
CREATE INDEX workflow_runs_due ON workflow_runs (status, wake_at);
CREATE INDEX workflow_runs_key ON workflow_runs (workflow, concurrency_key, status);
CREATE INDEX workflow_runs_pending ON workflow_runs (seq) WHERE status = 'pending';
CREATE INDEX workflow_runs_created ON workflow_runs (created_at DESC);
CREATE INDEX workflow_runs_fired ON workflow_runs (workflow, fire_ms) WHERE fire_ms IS NOT NULL;

-- One row per step of a run that began (attempt counts the attempts begun). seq orders the
-- steps by their first start.
CREATE TABLE workflow_steps (
    run_id      uuid NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    step_id     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('running', 'waiting', 'completed', 'failed')),
    attempt     integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    output      jsonb,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    wake_at     timestamptz,
    seq         bigserial NOT NULL,
    PRIMARY KEY (run_id, step_id)
);

-- A wait_for_event step waiting for an event of event_type that satisfies match (JsonLogic,
-- evaluated by the engine; NULL matches any event) until timeout_at.
CREATE TABLE workflow_waits (
    run_id     uuid NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    step_id    text NOT NULL,
    event_type text NOT NULL,
    match      jsonb,
    timeout_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX workflow_waits_type ON workflow_waits (event_type);

-- Recent events of the types some wait is for, kept until keep_until: a wait that starts
-- after its event arrived still finds it. The primary key makes a redelivery a no-op.
CREATE TABLE workflow_events (
    ce_id       text PRIMARY KEY,
    event_type  text NOT NULL,
    event       jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    keep_until  timestamptz NOT NULL
);
CREATE INDEX workflow_events_type ON workflow_events (event_type, received_at);
CREATE INDEX workflow_events_keep ON workflow_events (keep_until);
