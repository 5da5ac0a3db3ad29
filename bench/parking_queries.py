"""SQL of the parking API benchmark: communities, spaces and active bookings made inside PostgreSQL."""

from __future__ import annotations

from typing import Final


class PARKING_BENCH:
    """`bench-park-NNN` communities with public spaces, and a week of day-time bookings on them."""

    communities: Final = """
        INSERT INTO communities (id, name, district, lat, lon)
        SELECT 'bench-park-' || lpad(c::text, 3, '0'), '压测车场', '西陵区', 30.7, 111.3
        FROM generate_series(0, %(communities)s - 1) c ON CONFLICT DO NOTHING"""
    spaces: Final = """
        INSERT INTO parking_spaces (id, community_id, label, space_type, has_charger, accessible)
        SELECT c.id || '-ps-' || s, c.id, 'P' || s, 'public', s %% 10 = 0, s %% 25 = 0
        FROM communities c CROSS JOIN generate_series(0, %(spaces)s - 1) s
        WHERE c.id LIKE 'bench-park-%%' ON CONFLICT DO NOTHING"""
    community_ids: Final = "SELECT id FROM communities WHERE id LIKE 'bench-park-%' ORDER BY id"
    forget_changes: Final = """
        DELETE FROM parking_booking_changes WHERE booking_id IN
            (SELECT id FROM parking_bookings WHERE community_id LIKE 'bench-park-%')"""
    forget: Final = "DELETE FROM parking_bookings WHERE community_id LIKE 'bench-park-%'"
    forget_refusals: Final = "DELETE FROM parking_refusals WHERE community_id LIKE 'bench-park-%'"
    # one 09:00-17:00 booking a day on each space for `days` days from %(day0)s + 1 day
    bookings: Final = """
        INSERT INTO parking_bookings (code, community_id, space_id, requester, plate_hash, arrival, departure,
            occupied, price, api_key_id, idempotency_key, request_hash)
        SELECT 'BENCH-' || s.id || '-' || d, s.community_id, s.id, 'visitor', md5(s.id || d) || md5(d::text),
               a, a + INTERVAL '8 hours',
               tstzrange(a - make_interval(mins => %(buffer)s),
                         a + INTERVAL '8 hours' + make_interval(mins => %(buffer)s)),
               48, %(key)s, 'seed-' || s.id || '-' || d, '\\x00'::bytea
        FROM (SELECT id, community_id FROM parking_spaces WHERE community_id LIKE 'bench-park-%%'
              ORDER BY id LIMIT %(spaces)s) s
        CROSS JOIN generate_series(1, %(days)s) d
        CROSS JOIN LATERAL (SELECT %(day0)s::timestamptz + make_interval(days => d, hours => 9) AS a) t"""
    analyze: Final = "ANALYZE parking_bookings"
