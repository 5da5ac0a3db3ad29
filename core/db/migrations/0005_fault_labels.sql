-- Ground truth of the faults a simulator run injected, for scoring anomaly detection.
-- One row per fault; a run (its seed, communities and window) has a run_id of its own.
CREATE TABLE fault_labels (
    run_id      text NOT NULL,
    device_id   text NOT NULL,
    kind        text NOT NULL,
    fault_type  text NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at),  -- NULL: still going on
    silent      boolean NOT NULL,  -- no message announces it: only analytics can find it
    detail      text NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, device_id, fault_type, started_at)
);
CREATE INDEX fault_labels_device ON fault_labels (device_id, started_at);
