-- Alarms raised by analytics (issue 5), read, acknowledged and cleared through the API.
-- A plain table, not a hypertable: a hypertable's unique indexes must contain its time column,
-- which would make "one open alarm per (device, type)" impossible to enforce. Alarms are few
-- (one row per episode, not per detection), so a B-tree on time serves the lists.
CREATE TABLE anomalies (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id        text NOT NULL REFERENCES devices (id),
    community_id     text NOT NULL REFERENCES communities (id),
    type             text NOT NULL,             -- e.g. offline, entrapment, charger_overheat
    detector         text NOT NULL,             -- e.g. rule:offline, pyod:iforest
    severity         text NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'warning')),
    score            double precision,
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'active-unacknowledged'
                     CHECK (status IN ('active-unacknowledged', 'active-acknowledged', 'cleared')),
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    cleared_by       text,
    cleared_at       timestamptz,
    explanation      text NOT NULL DEFAULT '',
    CHECK (last_seen >= first_seen),
    CHECK ((status = 'active-acknowledged') <= (acknowledged_at IS NOT NULL)),
    CHECK ((status = 'cleared') = (cleared_at IS NOT NULL))
);
-- The guarantee: a repeated detection must extend the open alarm (INSERT ... ON CONFLICT
-- (device_id, type) WHERE status <> 'cleared' DO UPDATE SET last_seen = ...), never add one.
CREATE UNIQUE INDEX anomalies_one_open ON anomalies (device_id, type) WHERE status <> 'cleared';
CREATE INDEX anomalies_community_time ON anomalies (community_id, first_seen DESC, id DESC);
CREATE INDEX anomalies_open ON anomalies (status, severity) WHERE status <> 'cleared';
