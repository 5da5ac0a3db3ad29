"""Every SQL statement of analytics, parameterised; identifiers are composed with psycopg.sql."""

from __future__ import annotations

from typing import Final


class ANALYTICS:
    """Reading device data and the registry; writing alarms."""

    rows_between: Final = "SELECT {columns} FROM {table} WHERE ts >= %s AND ts < %s ORDER BY device_id, ts"
    devices: Final = "SELECT id, kind FROM devices WHERE decommissioned_at IS NULL"
    rows_of_devices: Final = """
        SELECT {columns} FROM {table} WHERE ts >= %s AND ts < %s AND device_id = ANY(%s)
        ORDER BY device_id, ts"""
    last_seen: Final = "SELECT device_id, max(ts) FROM {table} WHERE ts > %s GROUP BY device_id"
    # a window's rows stored since a moment (or beyond the part of the window read before), with
    # when each was stored; and the database's clock, which stamps `ingested_at`
    rows_stored_since: Final = """
        SELECT {columns}, ingested_at FROM {table}
        WHERE ts >= %(since)s AND ts < %(until)s AND (ts >= %(read_until)s OR ingested_at >= %(stored)s)
        ORDER BY device_id, ts"""
    clock: Final = "SELECT clock_timestamp()"
    # Lockers with parcels deposited before %(due)s and not picked up since (the API's KPIs count
    # overdue parcels the same way).
    overdue_parcels: Final = """
        SELECT dep.device_id, count(*), min(dep.ts) FROM parcel_locker_events dep
        WHERE dep.event = 'deposit' AND dep.parcel_id IS NOT NULL
          AND dep.ts < %(due)s AND dep.ts >= %(due)s - INTERVAL '60 days'
          AND NOT EXISTS (
              SELECT 1 FROM parcel_locker_events p
              WHERE p.device_id = dep.device_id AND p.event = 'pickup' AND p.parcel_id = dep.parcel_id
                AND p.ts >= dep.ts)
        GROUP BY dep.device_id"""
    # parking sensors (community, type, hours) and gates, for the stuck-sensor clues
    parking_sensors: Final = """
        SELECT s.sensor_device_id, s.community_id, s.space_type, s.availability FROM parking_spaces s
        JOIN devices d ON d.id = s.sensor_device_id WHERE d.decommissioned_at IS NULL"""
    gates: Final = (
        "SELECT id, community_id FROM devices WHERE kind = 'parking_gate' AND decommissioned_at IS NULL"
    )
    open_of_type: Final = "SELECT device_id FROM anomalies WHERE type = %s AND status <> 'cleared'"
    open_summary: Final = """
        SELECT severity, type, count(*) FROM anomalies WHERE status <> 'cleared'
        GROUP BY severity, type
        ORDER BY array_position(ARRAY['critical', 'major', 'minor', 'warning'], severity), count(*) DESC"""
    rated_power: Final = "SELECT device_id, max_power_kw FROM chargers"
    # Where the fast cycle must start reading so that open alarms' opening events are seen again.
    oldest_open: Final = """
        SELECT min(first_seen) FROM anomalies WHERE status <> 'cleared' AND detector = ANY(%s)"""
    # An episode already recorded (open or cleared) is not raised again when data is re-read.
    raise_alarm: Final = """
        INSERT INTO anomalies
            (device_id, community_id, type, detector, severity, score, first_seen, last_seen, explanation)
        SELECT d.id, d.community_id, %(type)s, %(detector)s, %(severity)s, %(score)s, %(first_seen)s,
               %(last_seen)s, %(explanation)s
        FROM devices d
        WHERE d.id = %(device_id)s AND NOT EXISTS (
            SELECT 1 FROM anomalies a
            WHERE a.device_id = %(device_id)s AND a.type = %(type)s AND a.status = 'cleared'
              AND a.first_seen <= %(first_seen)s AND %(first_seen)s <= a.cleared_at)
        ON CONFLICT (device_id, type) WHERE status <> 'cleared' DO UPDATE SET
            last_seen = greatest(anomalies.last_seen, excluded.last_seen),
            score = greatest(anomalies.score, excluded.score),
            explanation = excluded.explanation
        -- a detection seen before changes nothing (and writes nothing)
        WHERE excluded.last_seen > anomalies.last_seen
           OR excluded.score > anomalies.score OR (anomalies.score IS NULL AND excluded.score IS NOT NULL)
           OR excluded.explanation IS DISTINCT FROM anomalies.explanation"""
    clear_alarm: Final = """
        UPDATE anomalies SET status = 'cleared', cleared_at = %(cleared_at)s, cleared_by = 'auto',
            last_seen = greatest(last_seen, %(cleared_at)s)
        WHERE device_id = %(device_id)s AND type = %(type)s AND status <> 'cleared'
          AND first_seen <= %(cleared_at)s"""
    # Alarms no rule has seen again for a while, of types that never report their own end.
    clear_quiet: Final = """
        UPDATE anomalies SET status = 'cleared', cleared_at = now(), cleared_by = 'auto'
        WHERE status <> 'cleared' AND type = ANY(%s) AND last_seen < now() - %s"""
