-- The broker sessions ingest workers have used. A worker holds an advisory lock on its client id
-- while it runs and refreshes last_seen; a session whose lock has been free for a while belongs
-- to a replica that was scaled away, and ingest's janitor drains and ends it (ingest/sessions.py).
CREATE TABLE ingest_sessions (
    client_id   text PRIMARY KEY,
    host        text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
