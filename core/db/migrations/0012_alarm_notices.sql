-- Announcements of critical alarms, written by the database itself whenever one opens or changes
-- status (analytics raising or clearing it, an operator acknowledging it through the API), in the
-- same transaction. `yiju notify` delivers them in order to the broker and the webhook, each from
-- its own cursor, so a notifier that was down or a sink that was away catches up (an outbox).
CREATE TABLE alarm_notices (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    alarm_id      bigint NOT NULL,
    community_id  text NOT NULL,
    device_id     text NOT NULL,
    type          text NOT NULL,
    severity      text NOT NULL,
    status        text NOT NULL,
    first_seen    timestamptz NOT NULL,
    cleared_at    timestamptz,
    explanation   text NOT NULL
);
CREATE INDEX alarm_notices_created ON alarm_notices (created_at);

-- How far each sink (mqtt, webhook) has delivered.
CREATE TABLE notify_cursors (
    sink      text PRIMARY KEY,
    last_seq  bigint NOT NULL,
    moved_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION announce_critical_alarm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.severity = 'critical' AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status) THEN
        INSERT INTO alarm_notices (alarm_id, community_id, device_id, type, severity, status,
                                   first_seen, cleared_at, explanation)
        VALUES (NEW.id, NEW.community_id, NEW.device_id, NEW.type, NEW.severity, NEW.status,
                NEW.first_seen, NEW.cleared_at, NEW.explanation);
        PERFORM pg_notify('yiju_alarm_notices', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER anomalies_announce AFTER INSERT OR UPDATE OF status ON anomalies
    FOR EACH ROW EXECUTE FUNCTION announce_critical_alarm();
