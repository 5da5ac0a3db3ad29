-- Shared parking: what allocation needs of a space, owners' one-off windows and withdrawals, and
-- bookings that can never overlap on a space (the exclusion constraint is the final guard against
-- two requests winning the same space at once).
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Resident spaces belong to an owner (the property's own id of the resident; no personal data).
ALTER TABLE parking_spaces ADD COLUMN owner_id text CHECK (owner_id ~ '^[a-z0-9][a-z0-9-]{1,63}$');
ALTER TABLE parking_spaces ADD COLUMN large boolean NOT NULL DEFAULT false;
-- Overrides of analytics.parking.model.PriceRule's fields ({} = its defaults).
ALTER TABLE parking_spaces ADD COLUMN price_rule jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(price_rule) = 'object');
-- Bumped by every change of the space's supply (rules, one-off windows, withdrawals): a booking
-- made on a stale view of the supply sees the bump under its row lock and chooses again.
ALTER TABLE parking_spaces ADD COLUMN supply_version bigint NOT NULL DEFAULT 0;
CREATE INDEX parking_spaces_owner ON parking_spaces (owner_id) WHERE owner_id IS NOT NULL;

-- One-off windows an owner opens (beyond the recurring `availability` rules), and ranges withdrawn.
CREATE TABLE parking_supply_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    space_id    text NOT NULL REFERENCES parking_spaces (id),
    kind        text NOT NULL CHECK (kind IN ('open', 'withdrawn')),
    during      tstzrange NOT NULL CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during)),
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);
CREATE INDEX parking_supply_changes_space ON parking_supply_changes USING gist (space_id, during);

CREATE TABLE parking_bookings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code             text NOT NULL UNIQUE,            -- confirmation code shown to the driver
    community_id     text NOT NULL REFERENCES communities (id),
    space_id         text NOT NULL REFERENCES parking_spaces (id),
    requester        text NOT NULL CHECK (requester IN ('resident', 'visitor', 'commuter')),
    plate_hash       text NOT NULL CHECK (plate_hash ~ '^[0-9a-f]{16,128}$'),
    ev               boolean NOT NULL DEFAULT false,
    energy_kwh       double precision NOT NULL DEFAULT 0 CHECK (energy_kwh >= 0),
    accessible       boolean NOT NULL DEFAULT false,
    large            boolean NOT NULL DEFAULT false,
    arrival          timestamptz NOT NULL,
    departure        timestamptz NOT NULL,
    -- [arrival - buffer, departure + buffer): what the space is held for
    occupied         tstzrange NOT NULL,
    price            numeric(10, 2) NOT NULL CHECK (price >= 0),
    status           text NOT NULL DEFAULT 'booked'
                     CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')),
    bound            boolean NOT NULL DEFAULT false,  -- the concrete space may no longer change
    notice           text,                            -- why the driver must be told (moved, at risk)
    created_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at     timestamptz,
    cancel_reason    text,
    checked_in_at    timestamptz,
    checked_out_at   timestamptz,
    api_key_id       text NOT NULL REFERENCES api_keys (id),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash     bytea NOT NULL,                  -- sha256 of the request: same key, other body
    CHECK (departure > arrival),
    CHECK (lower(occupied) <= arrival AND upper(occupied) >= departure),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    UNIQUE (api_key_id, idempotency_key),
    CONSTRAINT parking_bookings_no_overlap
        EXCLUDE USING gist (space_id WITH =, occupied WITH &&) WHERE (status IN ('booked', 'checked_in'))
        -- deferred only inside a transaction that swaps bookings between spaces
        DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX parking_bookings_community ON parking_bookings USING gist (community_id, occupied)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX parking_bookings_plate ON parking_bookings (plate_hash, arrival)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX parking_bookings_key ON parking_bookings (api_key_id, id);

-- What happened to a booking after it was made (moved, cancelled by an owner, no-show, overstay):
-- the notice a driver is owed.
CREATE TABLE parking_booking_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id  bigint NOT NULL REFERENCES parking_bookings (id),
    at          timestamptz NOT NULL DEFAULT now(),
    change      text NOT NULL CHECK (change IN ('moved', 'cancelled', 'checked_in', 'checked_out',
                                                'no_show', 'at_risk')),
    from_space  text,
    to_space    text,
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX parking_booking_changes_booking ON parking_booking_changes (booking_id, at);

-- Gate passages already matched to bookings (each is used once).
CREATE TABLE parking_gate_matches (
    device_id   text NOT NULL,
    ts          timestamptz NOT NULL,
    seq         bigint NOT NULL,
    booking_id  bigint REFERENCES parking_bookings (id),
    PRIMARY KEY (device_id, ts, seq)
);

-- Owners: a key tied to one owner id may publish and withdraw its spaces' availability only.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('admin', 'operator', 'parking_app', 'integrator', 'owner'));
ALTER TABLE api_keys ADD COLUMN owner_id text;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_owner_check CHECK ((role = 'owner') = (owner_id IS NOT NULL));
