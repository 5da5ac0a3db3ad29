-- What the simulators and parking allocation need beyond 0001: when a space may be used by
-- others, the site's charging power limit, and which space a charger serves for how many cars.
ALTER TABLE communities ADD COLUMN site_power_limit_kw double precision CHECK (site_power_limit_kw > 0);

-- [{"days": "daily|workdays|weekends", "start": "HH:MM", "end": "HH:MM"}]; empty: always.
-- Resident spaces: the owner's usual absence; institutional (错时) and street spaces: opening hours.
ALTER TABLE parking_spaces ADD COLUMN availability jsonb NOT NULL DEFAULT '[]';

CREATE TABLE chargers (
    device_id     text PRIMARY KEY REFERENCES devices (id),
    space_id      text REFERENCES parking_spaces (id),
    shared_by     integer NOT NULL DEFAULT 1 CHECK (shared_by >= 1),  -- 多车一桩
    max_power_kw  double precision NOT NULL CHECK (max_power_kw > 0)
);
CREATE INDEX chargers_space ON chargers (space_id);
