-- Every rejected message, with its reason; nothing is dropped silently.
CREATE TABLE ingest_rejects (
    received_at   timestamptz NOT NULL,
    topic         text NOT NULL,
    reason        text NOT NULL,
    detail        text NOT NULL,
    payload       bytea NOT NULL,
    payload_size  integer NOT NULL,
    worker        text NOT NULL
);
SELECT create_hypertable('ingest_rejects', 'received_at', chunk_time_interval => INTERVAL '7 days');
CREATE INDEX ingest_rejects_reason ON ingest_rejects (reason, received_at DESC);

-- Time ranges written since the last rollup refresh (Apache edition only: the community
-- edition's continuous aggregates keep their own invalidation log).
CREATE TABLE rollup_invalidations (
    source_table  text NOT NULL,
    lo            timestamptz NOT NULL,
    hi            timestamptz NOT NULL
);
