-- Booking requests the allocator refused: the demand bookings alone do not show (the supply-and-
-- demand map counts them as unmet). One row per request: a retry with the same Idempotency-Key
-- is the same request.
CREATE TABLE parking_refusals (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id     text NOT NULL REFERENCES communities (id),
    refused_at       timestamptz NOT NULL DEFAULT now(),
    arrival          timestamptz NOT NULL,
    departure        timestamptz NOT NULL,
    requester        text NOT NULL CHECK (requester IN ('resident', 'visitor', 'commuter')),
    ev               boolean NOT NULL,
    accessible       boolean NOT NULL,
    reason           text NOT NULL,
    api_key_id       text NOT NULL REFERENCES api_keys (id),
    idempotency_key  text NOT NULL,
    CHECK (departure > arrival),
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX parking_refusals_arrival ON parking_refusals (community_id, arrival);
