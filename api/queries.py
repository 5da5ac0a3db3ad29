"""Every SQL statement of the API, parameterised; identifiers are composed with psycopg.sql.

`%(tenant)s` is the caller's company (NULL for a platform admin): every read and write of a
community's data is filtered by it, so another company's rows are simply not found.
"""

from __future__ import annotations

from typing import Final

from psycopg import sql

TENANT: Final = sql.SQL("(%(tenant)s::text IS NULL OR c.company_id = %(tenant)s)")


class KEYS:
    """API keys."""

    insert: Final = """
        INSERT INTO api_keys (id, key_hash, role, company_id, owner_id, scopes, label, created_by, expires_at)
        VALUES (%(id)s, %(hash)s, %(role)s, %(company_id)s, %(owner_id)s, %(scopes)s, %(label)s,
                %(created_by)s, now() + make_interval(days => %(days)s))
        RETURNING id, role, company_id, owner_id, scopes, label, created_at, created_by, expires_at,
                  revoked_at"""
    by_hash: Final = """
        SELECT id, role, company_id, owner_id, scopes, expires_at, expires_at <= now() AS expired,
               revoked_at IS NOT NULL AS revoked
        FROM api_keys WHERE key_hash = %s"""
    page: Final = """
        SELECT id, role, company_id, owner_id, scopes, label, created_at, created_by, expires_at, revoked_at
        FROM api_keys WHERE (%(after)s::text IS NULL OR id > %(after)s) ORDER BY id LIMIT %(limit)s"""
    listen: Final = "LISTEN yiju_api_keys"  # announced by migration 0014's trigger on every change
    revoke: Final = """
        UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL
        RETURNING id, role, company_id, owner_id, scopes, label, created_at, created_by, expires_at,
                  revoked_at"""


class AUDIT:
    """The audit log."""

    insert: Final = """
        INSERT INTO audit_log (actor, company_id, client_addr, action, target, detail)
        VALUES (%s, %s, %s, %s, %s, %s)"""
    page: Final = """
        SELECT id, at, actor, company_id, client_addr, action, target, detail FROM audit_log
        WHERE (%(target)s::text IS NULL OR target = %(target)s)
          AND (%(actor)s::text IS NULL OR actor = %(actor)s)
          AND (%(before)s::bigint IS NULL OR id < %(before)s)
        ORDER BY id DESC LIMIT %(limit)s"""


class COMPANIES:
    """Property-management companies."""

    insert: Final = "INSERT INTO companies (id, name) VALUES (%s, %s) RETURNING id, name, created_at"
    page: Final = """
        SELECT id, name, created_at FROM companies
        WHERE (%(after)s::text IS NULL OR id > %(after)s) ORDER BY id LIMIT %(limit)s"""
    exists: Final = "SELECT 1 FROM companies WHERE id = %s"


_COMMUNITY = sql.SQL("""c.id, c.name, c.district, c.lat, c.lon, c.site_power_limit_kw, c.company_id,
    c.created_at, c.decommissioned_at""")
_BUILDING = sql.SQL("b.id, b.community_id, b.name, b.floors, b.households, b.decommissioned_at")
_DEVICE = sql.SQL("""d.id, d.community_id, d.kind, d.building_id, d.location, d.created_at,
    d.decommissioned_at, d.credentials_changed_at, d.credentials_revoked_at""")


class COMMUNITIES:
    """Communities as a caller may see them."""

    get: Final = sql.SQL("SELECT {cols} FROM communities c WHERE c.id = %(id)s AND {tenant}").format(
        cols=_COMMUNITY, tenant=TENANT
    )
    page: Final = sql.SQL("""
        SELECT {cols} FROM communities c
        WHERE {tenant} AND (%(district)s::text IS NULL OR c.district = %(district)s)
          AND (%(all)s OR c.decommissioned_at IS NULL)
          AND (%(after)s::text IS NULL OR c.id > %(after)s)
        ORDER BY c.id LIMIT %(limit)s""").format(cols=_COMMUNITY, tenant=TENANT)
    set_company: Final = "UPDATE communities SET company_id = %s WHERE id = %s"
    update: Final = "UPDATE communities SET {assignments} WHERE id = %(id)s AND decommissioned_at IS NULL"
    decommission: Final = "UPDATE communities SET decommissioned_at = now() WHERE id = %s"
    active_devices: Final = """
        SELECT count(*) FROM devices WHERE community_id = %s AND decommissioned_at IS NULL"""


class BUILDINGS:
    """Buildings of the caller's communities."""

    get: Final = sql.SQL("""
        SELECT {cols} FROM buildings b JOIN communities c ON c.id = b.community_id
        WHERE b.id = %(id)s AND {tenant}""").format(cols=_BUILDING, tenant=TENANT)
    page: Final = sql.SQL("""
        SELECT {cols} FROM buildings b JOIN communities c ON c.id = b.community_id
        WHERE {tenant} AND (%(community)s::text IS NULL OR b.community_id = %(community)s)
          AND (%(all)s OR b.decommissioned_at IS NULL)
          AND (%(after)s::text IS NULL OR b.id > %(after)s)
        ORDER BY b.id LIMIT %(limit)s""").format(cols=_BUILDING, tenant=TENANT)
    update: Final = "UPDATE buildings SET {assignments} WHERE id = %(id)s AND decommissioned_at IS NULL"
    decommission: Final = "UPDATE buildings SET decommissioned_at = now() WHERE id = %s"
    active_devices: Final = """
        SELECT count(*) FROM devices WHERE building_id = %s AND decommissioned_at IS NULL"""


class DEVICES:
    """Devices of the caller's communities."""

    get: Final = sql.SQL("""
        SELECT {cols} FROM devices d JOIN communities c ON c.id = d.community_id
        WHERE d.id = %(id)s AND {tenant}""").format(cols=_DEVICE, tenant=TENANT)
    page: Final = sql.SQL("""
        SELECT {cols} FROM devices d JOIN communities c ON c.id = d.community_id
        WHERE {tenant} AND (%(community)s::text IS NULL OR d.community_id = %(community)s)
          AND (%(kind)s::text IS NULL OR d.kind = %(kind)s)
          AND (%(all)s OR d.decommissioned_at IS NULL)
          AND (%(after)s::text IS NULL OR d.id > %(after)s)
        ORDER BY d.id LIMIT %(limit)s""").format(cols=_DEVICE, tenant=TENANT)
    update: Final = "UPDATE devices SET {assignments} WHERE id = %(id)s AND decommissioned_at IS NULL"
    credentials_changed: Final = """
        UPDATE devices SET credentials_changed_at = now(), credentials_revoked_at = NULL WHERE id = %s"""
    credentials_revoked: Final = "UPDATE devices SET credentials_revoked_at = now() WHERE id = %s"


class TELEMETRY:
    """Device data: newest rows, bucketed series, raw export."""

    kind: Final = "SELECT kind FROM devices WHERE id = %s"
    # One round trip: the device if the caller sees it, its newest row (in {table}, the table of
    # the kind the caller expects: `device_kind` says whether it was right) and its newest status.
    latest: Final = """
        SELECT d.kind AS device_kind, s.ts AS status_ts, s.state AS status_state,
               s.firmware AS status_firmware, t.*
        FROM devices d JOIN communities c ON c.id = d.community_id
        LEFT JOIN LATERAL (
            SELECT {columns} FROM {table} x WHERE x.device_id = d.id ORDER BY x.ts DESC LIMIT 1
        ) t ON true
        LEFT JOIN LATERAL (
            SELECT ts, state, firmware FROM device_status ds WHERE ds.device_id = d.id
            ORDER BY ds.ts DESC LIMIT 1
        ) s ON true
        WHERE d.id = %(id)s AND {tenant}"""
    community_latest: Final = """
        SELECT d.id AS device_id, t.* FROM devices d
        JOIN LATERAL (SELECT {columns} FROM {table} x WHERE x.device_id = d.id ORDER BY x.ts DESC LIMIT 1) t
            ON true
        WHERE d.community_id = %s AND d.kind = %s AND d.decommissioned_at IS NULL ORDER BY d.id"""
    # Like `latest`, one round trip; the points come as the JSON text of `Series.points`, built
    # by PostgreSQL (a day at 1-minute buckets is 1,440 rows the API would otherwise decode, wrap
    # and encode again). Plain concatenation: row_to_json took twice as long as the query.
    series: Final = """
        SELECT d.kind AS device_kind, (
            SELECT coalesce('[' || string_agg(
                '{{"t":"' || to_char(b.t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                || '","value":' || CASE WHEN b.value IS NULL OR b.value = 'NaN' OR abs(b.value) = 'Infinity'
                                        THEN 'null' ELSE b.value::text END || '}}',
                ',' ORDER BY b.t) || ']', '[]')
            FROM (
                SELECT time_bucket(%(bucket)s::interval, x.ts) AS t,
                       {agg}({value})::double precision AS value
                FROM {table} x WHERE x.device_id = d.id AND x.ts >= %(start)s AND x.ts < %(end)s
                GROUP BY 1
            ) b
        ) AS points
        FROM devices d JOIN communities c ON c.id = d.community_id
        WHERE d.id = %(id)s AND {tenant}"""
    export: Final = """
        SELECT {columns} FROM {table} WHERE device_id = %s AND ts >= %s AND ts < %s ORDER BY ts"""


_ALARM = sql.SQL("""a.id, a.device_id, a.community_id, d.kind, a.type, a.detector, a.severity, a.score,
    a.first_seen, a.last_seen, a.status, a.acknowledged_by, a.acknowledged_at, a.cleared_by,
    a.cleared_at, a.explanation""")
_ALARM_FROM = sql.SQL(
    "anomalies a JOIN devices d ON d.id = a.device_id JOIN communities c ON c.id = a.community_id"
)


class ALARMS:
    """Alarms (the `anomalies` table of the anomaly issue)."""

    get: Final = sql.SQL("SELECT {cols} FROM {source} WHERE a.id = %(id)s AND {tenant}").format(
        cols=_ALARM, source=_ALARM_FROM, tenant=TENANT
    )
    page: Final = sql.SQL("""
        SELECT {cols} FROM {source}
        WHERE {tenant}
          AND (%(community)s::text IS NULL OR a.community_id = %(community)s)
          AND (%(device)s::text IS NULL OR a.device_id = %(device)s)
          AND (%(kind)s::text IS NULL OR d.kind = %(kind)s)
          AND (%(type)s::text IS NULL OR a.type = %(type)s)
          AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
          AND (%(status)s::text IS NULL OR a.status = %(status)s)
          AND (%(since)s::timestamptz IS NULL OR a.last_seen >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR a.first_seen < %(until)s)
          AND (%(after_ts)s::timestamptz IS NULL OR (a.first_seen, a.id) < (%(after_ts)s, %(after_id)s))
        ORDER BY a.first_seen DESC, a.id DESC LIMIT %(limit)s""").format(
        cols=_ALARM, source=_ALARM_FROM, tenant=TENANT
    )
    acknowledge: Final = """
        UPDATE anomalies SET status = 'active-acknowledged', acknowledged_by = %s, acknowledged_at = now()
        WHERE id = %s AND status = 'active-unacknowledged' RETURNING id"""
    clear: Final = """
        UPDATE anomalies SET status = 'cleared', cleared_by = %s, cleared_at = now()
        WHERE id = %s AND status <> 'cleared' RETURNING id"""


class KPIS:
    """One community's figures over [%(start)s, %(end)s); %(ids)s are its devices active in it."""

    devices: Final = """
        SELECT id FROM devices WHERE community_id = %(community)s AND created_at < %(end)s
          AND (decommissioned_at IS NULL OR decommissioned_at > %(start)s)"""
    # one branch per telemetry table, joined with UNION ALL
    device_hours_branch: Final = """
        SELECT device_id, time_bucket(INTERVAL '1 hour', ts) AS hour FROM {table}
        WHERE device_id = ANY(%(ids)s) AND ts >= %(start)s AND ts < %(end)s"""
    device_hours: Final = "SELECT count(*) FROM (SELECT DISTINCT device_id, hour FROM ({branches}) t) h"
    chargers: Final = """
        SELECT avg((status = 'Charging')::int)::float8 AS utilisation,
               (SELECT sum(delta) FROM (
                   SELECT max(energy_kwh) - min(energy_kwh) AS delta FROM ev_charger_telemetry
                   WHERE device_id = ANY(%(ids)s) AND ts >= %(start)s AND ts < %(end)s GROUP BY device_id) e
               )::float8 AS energy_kwh
        FROM ev_charger_telemetry WHERE device_id = ANY(%(ids)s) AND ts >= %(start)s AND ts < %(end)s"""
    occupancy_by_hour: Final = """
        SELECT extract(hour FROM ts AT TIME ZONE %(tz)s)::int AS hour, avg(occupied::int)::float8 AS share
        FROM parking_space_telemetry WHERE device_id = ANY(%(ids)s) AND ts >= %(start)s AND ts < %(end)s
        GROUP BY 1"""
    locker_fill: Final = """
        SELECT avg(compartments_occupied::float8 / compartments_total) FROM parcel_locker_telemetry
        WHERE device_id = ANY(%(ids)s) AND ts >= %(start)s AND ts < %(end)s"""
    # Deposits older than the limit at the end of the period with no pickup of the same parcel by then.
    parcels_overdue: Final = """
        SELECT count(*) FROM parcel_locker_events dep
        WHERE dep.device_id = ANY(%(ids)s) AND dep.event = 'deposit' AND dep.parcel_id IS NOT NULL
          AND dep.ts < %(end)s - %(overdue)s AND dep.ts >= %(end)s - INTERVAL '60 days'
          AND NOT EXISTS (
              SELECT 1 FROM parcel_locker_events p
              WHERE p.device_id = dep.device_id AND p.event = 'pickup' AND p.parcel_id = dep.parcel_id
                AND p.ts >= dep.ts AND p.ts < %(end)s)"""
    elevators: Final = """
        SELECT count(*) FILTER (WHERE event = 'trip') AS trips,
               count(*) FILTER (WHERE event = 'fault') AS faults
        FROM elevator_events WHERE device_id = ANY(%(ids)s) AND ts >= %(start)s AND ts < %(end)s"""
    alarms: Final = """
        SELECT severity, count(*) AS raised,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM acknowledged_at - first_seen)) AS median_ack_s
        FROM anomalies WHERE community_id = %(community)s AND first_seen >= %(start)s AND first_seen < %(end)s
        GROUP BY ROLLUP (severity)"""


# Parking: who sees what. `%(tenant)s` as above (NULL: every company; a parking app without a
# company books in every community); `%(maker)s` limits a parking app to the bookings it made.
_MAKER = sql.SQL("(%(maker)s::text IS NULL OR b.api_key_id = %(maker)s)")
_BOOKING = sql.SQL("""b.id, b.code, b.community_id, b.space_id, s.label AS space_label, b.requester,
    b.plate_hash, b.ev, b.energy_kwh, b.accessible, b.large, b.arrival, b.departure,
    b.price::float8 AS price, b.status, b.bound, b.notice, b.created_at, b.cancelled_at,
    b.cancel_reason, b.checked_in_at, b.checked_out_at""")
_BOOKING_FROM = sql.SQL("""parking_bookings b JOIN parking_spaces s ON s.id = b.space_id
    JOIN communities c ON c.id = b.community_id""")
_SPACE = sql.SQL("""s.id, s.community_id, s.label, s.space_type, s.owner_id, s.has_charger, s.accessible,
    s.covered, s.large, s.lat, s.lon, s.availability, s.price_rule, s.supply_version, s.sensor_device_id,
    CASE WHEN s.has_charger THEN coalesce(
        (SELECT max(ch.max_power_kw / ch.shared_by) FROM chargers ch WHERE ch.space_id = s.id), 7.0)
    ELSE 0 END AS charger_kw""")


class PARKING:
    """Spaces, their supply and bookings (the parking allocation issue)."""

    community: Final = sql.SQL("""
        SELECT c.id, c.lat, c.lon FROM communities c
        WHERE c.id = %(id)s AND c.decommissioned_at IS NULL AND {tenant}""").format(tenant=TENANT)
    spaces: Final = sql.SQL(
        "SELECT {cols} FROM parking_spaces s WHERE s.community_id = %s ORDER BY s.id"
    ).format(cols=_SPACE)
    # the space an owner (by `%(owner)s`) or a company (by tenancy) manages
    managed_space: Final = sql.SQL("""
        SELECT {cols}, c.lat AS community_lat, c.lon AS community_lon FROM parking_spaces s
        JOIN communities c ON c.id = s.community_id
        WHERE s.id = %(id)s AND c.decommissioned_at IS NULL
          AND CASE WHEN %(owner)s::text IS NOT NULL THEN s.owner_id = %(owner)s ELSE {tenant} END
        FOR UPDATE OF s""").format(cols=_SPACE, tenant=TENANT)
    supply_signature: Final = """
        SELECT count(*), coalesce(sum(supply_version), 0) FROM parking_spaces WHERE community_id = %s"""
    supply_changes: Final = """
        SELECT x.space_id, x.kind, lower(x.during) AS start, upper(x.during) AS "end"
        FROM parking_supply_changes x JOIN parking_spaces s ON s.id = x.space_id
        WHERE s.community_id = %s AND x.during && tstzrange(%s, %s)"""
    live_bookings: Final = """
        SELECT id, space_id, arrival, departure, status, bound, requester, ev, energy_kwh, accessible, large,
               lat, lon, max_walk_m
        FROM parking_bookings
        WHERE community_id = %s AND status IN ('booked', 'checked_in') AND occupied && tstzrange(%s, %s)"""
    # what drivers asked for (booked, whatever became of it, or refused) with arrivals in a range:
    # the forecast of admission control (`parking_admission`)
    demand_history: Final = """
        SELECT b.arrival, b.departure, b.requester, b.energy_kwh, b.accessible, b.large,
               b.created_at AS booked_at, s.lat, s.lon
        FROM parking_bookings b JOIN parking_spaces s ON s.id = b.space_id
        WHERE b.community_id = %(community)s AND b.arrival >= %(lo)s AND b.arrival < %(hi)s
        UNION ALL
        SELECT arrival, departure, requester, 0.0, accessible, false, refused_at, NULL, NULL
        FROM parking_refusals
        WHERE community_id = %(community)s AND arrival >= %(lo)s AND arrival < %(hi)s"""
    lock_spaces: Final = """
        SELECT id, supply_version FROM parking_spaces WHERE id = ANY(%s) ORDER BY id FOR SHARE"""
    by_idempotency: Final = """
        SELECT id, request_hash FROM parking_bookings WHERE api_key_id = %s AND idempotency_key = %s"""
    insert: Final = """
        INSERT INTO parking_bookings (code, community_id, space_id, requester, plate_hash, ev, energy_kwh,
            accessible, large, lat, lon, max_walk_m, arrival, departure, occupied, price, bound, api_key_id,
            idempotency_key, request_hash)
        VALUES (%(code)s, %(community)s, %(space)s, %(requester)s, %(plate_hash)s, %(ev)s, %(energy_kwh)s,
            %(accessible)s, %(large)s, %(lat)s, %(lon)s, %(max_walk_m)s, %(arrival)s, %(departure)s,
            tstzrange(%(arrival)s - make_interval(mins => %(buffer)s),
                      %(departure)s + make_interval(mins => %(buffer)s)),
            %(price)s, %(bound)s, %(key)s, %(idempotency_key)s, %(hash)s)
        RETURNING id"""
    # a move only of a booking still where the choice saw it and not yet bound
    move: Final = """
        UPDATE parking_bookings SET space_id = %(to)s, notice = %(reason)s
        WHERE id = %(id)s AND space_id = %(from)s AND status = 'booked' AND NOT bound RETURNING id"""
    log_change: Final = """
        INSERT INTO parking_booking_changes (booking_id, change, from_space, to_space, reason)
        VALUES (%s, %s, %s, %s, %s)"""
    get: Final = sql.SQL("SELECT {cols} FROM {source} WHERE b.id = %(id)s AND {tenant} AND {maker}").format(
        cols=_BOOKING, source=_BOOKING_FROM, tenant=TENANT, maker=_MAKER
    )
    page: Final = sql.SQL("""
        SELECT {cols} FROM {source}
        WHERE {tenant} AND {maker}
          AND (%(community)s::text IS NULL OR b.community_id = %(community)s)
          AND (%(space)s::text IS NULL OR b.space_id = %(space)s)
          AND (%(status)s::text IS NULL OR b.status = %(status)s)
          AND (%(since)s::timestamptz IS NULL OR b.departure > %(since)s)
          AND (%(until)s::timestamptz IS NULL OR b.arrival < %(until)s)
          AND (%(after)s::bigint IS NULL OR b.id < %(after)s)
        ORDER BY b.id DESC LIMIT %(limit)s""").format(
        cols=_BOOKING, source=_BOOKING_FROM, tenant=TENANT, maker=_MAKER
    )
    # what an owner sees of the bookings on a space: times and status, nobody's plate
    space_bookings: Final = """
        SELECT id, arrival, departure, status, notice FROM parking_bookings
        WHERE space_id = %(space)s AND (%(after)s::bigint IS NULL OR id < %(after)s)
          AND (%(since)s::timestamptz IS NULL OR departure > %(since)s)
        ORDER BY id DESC LIMIT %(limit)s"""
    cancel: Final = """
        UPDATE parking_bookings SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s,
            notice = %s
        WHERE id = %s AND status = 'booked' RETURNING id"""
    check_in: Final = """
        UPDATE parking_bookings SET status = 'checked_in', checked_in_at = %s, bound = true
        WHERE id = %s AND status = 'booked' RETURNING id"""
    check_out: Final = """
        UPDATE parking_bookings SET status = 'completed', checked_out_at = %s
        WHERE id = %s AND status = 'checked_in' RETURNING id"""
    set_rules: Final = """
        UPDATE parking_spaces SET availability = %s, supply_version = supply_version + 1 WHERE id = %s"""
    add_supply_change: Final = """
        INSERT INTO parking_supply_changes (space_id, kind, during, reason, created_by)
        VALUES (%s, %s, tstzrange(%s, %s), %s, %s) RETURNING id"""
    rules: Final = "SELECT availability FROM parking_spaces WHERE id = %s"
    bump_supply: Final = "UPDATE parking_spaces SET supply_version = supply_version + 1 WHERE id = %s"
    # bookings on a space from %s on that have not started: the ones a change of supply may displace
    pending_on_space: Final = """
        SELECT id, community_id, space_id, requester, ev, energy_kwh, accessible, large, lat, lon,
               max_walk_m, arrival, departure, price::float8 AS price
        FROM parking_bookings
        WHERE space_id = %s AND status = 'booked' AND departure > %s ORDER BY arrival"""
    reassign: Final = """
        UPDATE parking_bookings SET space_id = %(to)s, notice = %(reason)s
        WHERE id = %(id)s AND status = 'booked' RETURNING id"""
    # the newest occupancy reading of each space's sensor in the hour before %(at)s
    sensed: Final = """
        SELECT s.id, t.occupied FROM parking_spaces s
        JOIN LATERAL (
            SELECT x.occupied FROM parking_space_telemetry x
            WHERE x.device_id = s.sensor_device_id AND x.ts <= %(at)s AND x.ts > %(at)s - INTERVAL '1 hour'
            ORDER BY x.ts DESC LIMIT 1) t ON true
        WHERE s.community_id = %(community)s"""
    # stays overlapping the hour: booked (not cancelled), and refused (unmet)
    demand: Final = """
        SELECT
            (SELECT count(*) FROM parking_bookings
             WHERE community_id = %(community)s AND status <> 'cancelled'
               AND tstzrange(arrival, departure) && tstzrange(%(lo)s, %(hi)s)),
            (SELECT count(*) FROM parking_refusals
             WHERE community_id = %(community)s
               AND tstzrange(arrival, departure) && tstzrange(%(lo)s, %(hi)s))"""
    refused: Final = """
        INSERT INTO parking_refusals
            (community_id, arrival, departure, requester, ev, accessible, reason, api_key_id, idempotency_key)
        VALUES (%(community)s, %(arrival)s, %(departure)s, %(requester)s, %(ev)s, %(accessible)s, %(reason)s,
                %(key)s, %(idempotency_key)s)
        ON CONFLICT (api_key_id, idempotency_key) DO NOTHING"""


class PARKING_LIVE:
    """What the parking tick reads and changes: gate passages, no-shows, overstays, binding."""

    bind: Final = """
        UPDATE parking_bookings SET bound = true
        WHERE status = 'booked' AND NOT bound AND arrival - make_interval(mins => %s) <= %s"""
    # gate passages of the last day not yet matched, oldest first
    passages: Final = """
        SELECT e.device_id, e.ts, e.seq, e.direction, e.plate_hash, d.community_id
        FROM parking_gate_events e JOIN devices d ON d.id = e.device_id
        WHERE e.event = 'passage' AND e.plate_hash IS NOT NULL AND e.ts > %(since)s AND e.ts <= %(now)s
          AND NOT EXISTS (SELECT 1 FROM parking_gate_matches m
                          WHERE m.device_id = e.device_id AND m.ts = e.ts AND m.seq = e.seq)
        ORDER BY e.ts LIMIT 5000"""
    arrive: Final = """
        UPDATE parking_bookings SET status = 'checked_in', checked_in_at = %(ts)s, bound = true
        WHERE id = (SELECT id FROM parking_bookings
                    WHERE community_id = %(community)s AND plate_hash = %(plate)s AND status = 'booked'
                      AND arrival - make_interval(mins => %(early)s) <= %(ts)s AND departure > %(ts)s
                    ORDER BY arrival LIMIT 1 FOR UPDATE)
        RETURNING id"""
    leave: Final = """
        UPDATE parking_bookings SET status = 'completed', checked_out_at = %(ts)s
        WHERE id = (SELECT id FROM parking_bookings
                    WHERE community_id = %(community)s AND plate_hash = %(plate)s AND status = 'checked_in'
                      AND checked_in_at <= %(ts)s
                    ORDER BY checked_in_at LIMIT 1 FOR UPDATE)
        RETURNING id"""
    matched: Final = """
        INSERT INTO parking_gate_matches (device_id, ts, seq, booking_id) VALUES (%s, %s, %s, %s)
        ON CONFLICT DO NOTHING"""
    no_shows: Final = """
        UPDATE parking_bookings SET status = 'no_show', notice = 'no_show'
        WHERE status = 'booked' AND arrival + make_interval(mins => %s) <= %s RETURNING id, space_id"""
    # spaces held past a departure: a car still checked in, or a stay ended in the last two hours
    # and the sensor's newest reading (15 min) still says occupied
    overstayed: Final = """
        SELECT DISTINCT b.space_id FROM parking_bookings b
        WHERE b.status = 'checked_in' AND b.departure <= %(now)s
        UNION
        SELECT s.id FROM parking_spaces s
        JOIN LATERAL (SELECT x.occupied FROM parking_space_telemetry x
                      WHERE x.device_id = s.sensor_device_id AND x.ts <= %(now)s
                        AND x.ts > %(now)s - INTERVAL '15 minutes'
                      ORDER BY x.ts DESC LIMIT 1) t ON t.occupied
        WHERE EXISTS (SELECT 1 FROM parking_bookings b
                      WHERE b.space_id = s.id AND b.status IN ('checked_in', 'completed')
                        AND b.departure <= %(now)s AND b.departure > %(now)s - INTERVAL '2 hours')"""
    # the bookings on a held space that begin soon and have not been dealt with
    next_on_space: Final = """
        SELECT b.id, b.community_id, b.space_id, b.requester, b.ev, b.energy_kwh, b.accessible, b.large,
               b.lat, b.lon, b.max_walk_m, b.arrival, b.departure, c.lat AS community_lat,
               c.lon AS community_lon
        FROM parking_bookings b JOIN communities c ON c.id = b.community_id
        WHERE b.space_id = %(space)s AND b.status = 'booked' AND lower(b.occupied) <= %(now)s + %(ahead)s
          AND b.notice IS DISTINCT FROM 'at_risk:overstay'
        ORDER BY b.arrival"""
    at_risk: Final = "UPDATE parking_bookings SET notice = 'at_risk:overstay' WHERE id = %s"
