-- Device registry: communities on the city map, their buildings, devices and parking spaces.
-- Ids, kinds and channels are checked by the contract (core/contract) before they get here.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE communities (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    district    text NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX communities_district ON communities (district);

CREATE TABLE buildings (
    id            text PRIMARY KEY,
    community_id  text NOT NULL REFERENCES communities (id),
    name          text NOT NULL,
    floors        integer NOT NULL CHECK (floors BETWEEN 1 AND 200),
    households    integer NOT NULL DEFAULT 0 CHECK (households >= 0),
    lat           double precision,
    lon           double precision
);
CREATE INDEX buildings_community ON buildings (community_id);

CREATE TABLE devices (
    id                 text PRIMARY KEY,
    community_id       text NOT NULL REFERENCES communities (id),
    kind               text NOT NULL,
    building_id        text REFERENCES buildings (id),
    location           text NOT NULL DEFAULT '',
    lat                double precision,
    lon                double precision,
    mqtt_username      text UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    decommissioned_at  timestamptz
);
CREATE INDEX devices_community_kind ON devices (community_id, kind);

CREATE TABLE parking_spaces (
    id                text PRIMARY KEY,
    community_id      text NOT NULL REFERENCES communities (id),
    label             text NOT NULL,
    -- resident (owner's), public, institutional (错时 opened at night), street (night-time)
    space_type        text NOT NULL,
    sensor_device_id  text UNIQUE REFERENCES devices (id),
    has_charger       boolean NOT NULL DEFAULT false,
    accessible        boolean NOT NULL DEFAULT false,
    covered           boolean NOT NULL DEFAULT false,
    lat               double precision,
    lon               double precision
);
CREATE INDEX parking_spaces_community ON parking_spaces (community_id);
