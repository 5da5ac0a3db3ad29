-- Where the driver was headed and how far they would walk from there, as they booked. A booking
-- may later move to another space (late binding, an owner's withdrawal, an overstay before it):
-- the engine keeps it within that walk. NULL: no point or no limit was given.
ALTER TABLE parking_bookings
    ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN max_walk_m double precision CHECK (max_walk_m > 0),
    ADD CHECK ((lat IS NULL) = (lon IS NULL));
