-- When analytics raised each alarm (first_seen is when the device saw the problem): the delay
-- between a fault event being stored and its alarm existing is what life safety is judged on.
ALTER TABLE anomalies ADD COLUMN raised_at timestamptz NOT NULL DEFAULT clock_timestamp();
