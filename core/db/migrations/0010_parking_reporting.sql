-- Dashboards and reports read bookings by community and arrival time (all statuses: the
-- allocation's partial indexes cover live bookings only).
CREATE INDEX parking_bookings_arrival ON parking_bookings (community_id, arrival);
