-- Claiming without a lock: pending runs of workflows without limits, and due timers, are found
-- by index in creation / due order.
CREATE INDEX workflow_runs_pending_free ON workflow_runs (seq)
    WHERE status = 'pending' AND max_runs = 0 AND max_per_key = 0;
CREATE INDEX workflow_runs_pending_limited ON workflow_runs (workflow, concurrency_key, seq)
    WHERE status = 'pending' AND (max_runs > 0 OR max_per_key > 0);
CREATE INDEX workflow_runs_waiting ON workflow_runs (wake_at) WHERE status = 'waiting';
-- Pruning the history: ended runs by when they ended.
CREATE INDEX workflow_runs_ended ON workflow_runs (finished_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
