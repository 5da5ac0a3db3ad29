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
        INSERT INTO api_keys (id, key_hash, role, company_id, scopes, label, created_by, expires_at)
        VALUES (%(id)s, %(hash)s, %(role)s, %(company_id)s, %(scopes)s, %(label)s, %(created_by)s,
                now() + make_interval(days => %(days)s))
        RETURNING id, role, company_id, scopes, label, created_at, created_by, expires_at, revoked_at"""
    by_hash: Final = """
        SELECT id, role, company_id, scopes, expires_at <= now() AS expired, revoked_at IS NOT NULL AS revoked
        FROM api_keys WHERE key_hash = %s"""
    page: Final = """
        SELECT id, role, company_id, scopes, label, created_at, created_by, expires_at, revoked_at
        FROM api_keys WHERE (%(after)s::text IS NULL OR id > %(after)s) ORDER BY id LIMIT %(limit)s"""
    revoke: Final = """
        UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL
        RETURNING id, role, company_id, scopes, label, created_at, created_by, expires_at, revoked_at"""


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

    latest: Final = "SELECT {columns} FROM {table} WHERE device_id = %s ORDER BY ts DESC LIMIT 1"
    latest_status: Final = """
        SELECT ts, state, firmware FROM device_status WHERE device_id = %s ORDER BY ts DESC LIMIT 1"""
    community_latest: Final = """
        SELECT d.id AS device_id, t.* FROM devices d
        JOIN LATERAL (SELECT {columns} FROM {table} x WHERE x.device_id = d.id ORDER BY x.ts DESC LIMIT 1) t
            ON true
        WHERE d.community_id = %s AND d.kind = %s AND d.decommissioned_at IS NULL ORDER BY d.id"""
    series: Final = """
        SELECT time_bucket(%(bucket)s::interval, ts) AS t, {agg}({value})::double precision AS value
        FROM {table} WHERE device_id = %(device)s AND ts >= %(start)s AND ts < %(end)s
        GROUP BY t ORDER BY t"""
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
