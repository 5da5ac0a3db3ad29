-- Device data, one hypertable per kind and channel, columns named as the contract's fields
-- (core/contract/payloads.py; tests/core/test_tables.py keeps the two in step).
-- Chunk intervals: ~1,000 devices at one message a minute is ~1.4M rows a day across the
-- telemetry tables; a one-day chunk keeps the hot chunk and its index in memory. Events and
-- status are ~100x sparser, so a week per chunk.
-- The unique index (device_id, ts, boot, seq) makes a redelivery a no-op (ON CONFLICT DO
-- NOTHING) and serves "latest per device" and "device over a time range".

CREATE TABLE ev_charger_telemetry (
    device_id      text NOT NULL,
    ts             timestamptz NOT NULL,
    boot           integer NOT NULL,
    seq            bigint NOT NULL,
    status         text NOT NULL,
    power_kw       double precision NOT NULL,
    energy_kwh     double precision NOT NULL,
    current_a      double precision NOT NULL,
    voltage_v      double precision NOT NULL,
    temperature_c  double precision NOT NULL,
    soc_pct        double precision,
    ingested_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE ev_charger_events (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    event        text NOT NULL,
    session_id   text,
    id_tag       text,
    energy_kwh   double precision,
    code         text,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE parking_space_telemetry (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    occupied     boolean NOT NULL,
    battery_pct  double precision NOT NULL,
    rssi_dbm     double precision,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE parking_gate_telemetry (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    barrier      text NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE parking_gate_events (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    event        text NOT NULL,
    direction    text,
    plate_hash   text,
    lane         integer,
    code         text,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE parcel_locker_telemetry (
    device_id              text NOT NULL,
    ts                     timestamptz NOT NULL,
    boot                   integer NOT NULL,
    seq                    bigint NOT NULL,
    compartments_total     integer NOT NULL,
    compartments_occupied  integer NOT NULL,
    temperature_c          double precision NOT NULL,
    ingested_at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE parcel_locker_events (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    event        text NOT NULL,
    compartment  integer,
    parcel_id    text,
    open_s       integer,
    code         text,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE elevator_telemetry (
    device_id      text NOT NULL,
    ts             timestamptz NOT NULL,
    boot           integer NOT NULL,
    seq            bigint NOT NULL,
    floor          integer NOT NULL,
    direction      text NOT NULL,
    door           text NOT NULL,
    speed_mps      double precision NOT NULL,
    load_kg        double precision NOT NULL,
    vibration_rms  double precision NOT NULL,
    mode           text NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE elevator_events (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    event        text NOT NULL,
    from_floor   integer,
    to_floor     integer,
    fault        text,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE device_status (
    device_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    boot         integer NOT NULL,
    seq          bigint NOT NULL,
    state        text NOT NULL,
    firmware     text NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('ev_charger_telemetry', '1 day'), ('parking_space_telemetry', '1 day'),
        ('parking_gate_telemetry', '7 days'), ('parcel_locker_telemetry', '1 day'),
        ('elevator_telemetry', '1 day'), ('ev_charger_events', '7 days'),
        ('parking_gate_events', '7 days'), ('parcel_locker_events', '7 days'),
        ('elevator_events', '7 days'), ('device_status', '7 days')
    ) AS v (name, chunk)
    LOOP
        PERFORM create_hypertable(t.name::regclass, 'ts',
                                  chunk_time_interval => t.chunk::interval);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (device_id, ts DESC, boot, seq)',
                       t.name || '_identity', t.name);
    END LOOP;
END
$$;
