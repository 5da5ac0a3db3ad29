"""Folder "Facilities": EV charging, parking, parcel lockers, elevators.

Trends over the time range read the hourly rollups (`core/db/rollups.py`, panel min interval 1h);
"now" panels read the last hour of raw telemetry; event counts read the sparse event tables.
"""
# ruff: noqa: S608 (Grafana's SQL, expanded and sent by Grafana; psycopg never formats it)

from __future__ import annotations

from core.config import Settings
from core.contract.topics import Kind
from grafana.boards.common import (
    BUILDING,
    COMMUNITY,
    DISTRICT,
    IN_COMMUNITY,
    LAST_HOUR,
    OVERDUE_HOURS,
    SELECTED,
    TO,
    device_variable,
    devices_of,
    markers_map,
    traffic_light,
)
from grafana.boards.overview import ELEVATORS_NOW, OVERDUE
from grafana.builder import Json, Panel, dashboard

ANNOTATE = f" AND {IN_COMMUNITY}"
MAX_STAY_HOURS = Settings.model_fields["parking_max_stay_hours"].default
_STATE_COLOURS = traffic_light(1, 2)
_SPACES_MAP = markers_map(
    "Spaces",
    {"color": {"field": "state", "fixed": "green"}, "size": {"fixed": 5}},
    {"id": "fit", "lat": 30.70, "lon": 111.29, "zoom": 17},
)


def ev_charging() -> Json:
    """Sessions, energy, shared chargers (多车一桩) and power against the site limit."""
    chargers = devices_of(Kind.EV_CHARGER)
    panels = [
        Panel(
            "stat",
            "Sessions and energy in range",
            "SELECT count(*) FILTER (WHERE event = 'session_start') AS sessions,"
            " coalesce(sum(energy_kwh) FILTER (WHERE event = 'session_stop'), 0) AS energy_kwh,"
            " count(*) FILTER (WHERE event = 'fault') AS faults"
            f" FROM ev_charger_events WHERE $__timeFilter(ts) AND {SELECTED}",
            w=12,
            h=4,
        ),
        Panel(
            "stat",
            "Charging now",
            "SELECT count(*) FILTER (WHERE status = 'Charging') AS charging, count(*) AS reporting,"
            " coalesce(sum(power_kw), 0) AS power_kw FROM ("
            " SELECT DISTINCT ON (device_id) device_id, status, power_kw FROM ev_charger_telemetry"
            f" WHERE {LAST_HOUR} AND {SELECTED} ORDER BY device_id, ts DESC) s",
            w=12,
            h=4,
        ),
        Panel(
            "timeseries",
            "Sessions started and energy delivered",
            "SELECT $__timeGroupAlias(ts, $__interval), count(*) FILTER (WHERE event = 'session_start')"
            " AS sessions, coalesce(sum(energy_kwh) FILTER (WHERE event = 'session_stop'), 0) AS energy_kwh"
            f" FROM ev_charger_events WHERE $__timeFilter(ts) AND {SELECTED} GROUP BY 1 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Charging power against the site limit (hourly rollup)",
            "SELECT $__timeGroupAlias(bucket, $__interval), avg(kw) AS avg_power_kw,"
            " max(peak_kw) AS sum_of_peaks_kw, (SELECT sum(site_power_limit_kw) FROM communities"
            f" WHERE id IN (${{community:sqlstring}})) AS site_limit_kw"
            " FROM (SELECT bucket, sum(avg_power_kw) AS kw, sum(max_power_kw) AS peak_kw"
            f" FROM ev_charger_hourly WHERE $__timeFilter(bucket) AND device_id IN {chargers}"
            " GROUP BY bucket) hourly GROUP BY 1 ORDER BY 1",
            unit="kwatt",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Queue at shared chargers (多车一桩): sessions begun within 5 min of the previous one's end",
            # Waiting cars send nothing; a session that starts right after the last one ended
            # on the same charger is a car that was waiting for it.
            "SELECT $__timeGroupAlias(ts, $__interval),"
            " count(*) FILTER (WHERE ts - last_stop <= INTERVAL '5 minutes') AS after_a_wait,"
            " count(*) AS sessions FROM (SELECT ts, event, max(ts) FILTER (WHERE event = 'session_stop')"
            " OVER (PARTITION BY device_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
            " AS last_stop FROM ev_charger_events WHERE event IN ('session_start', 'session_stop')"
            f" AND $__timeFilter(ts) AND {SELECTED}"
            " AND device_id IN (SELECT device_id FROM chargers WHERE shared_by > 1)) e"
            " WHERE event = 'session_start' GROUP BY 1 ORDER BY 1",
            w=24,
            interval="1h",
        ),
        Panel(
            "table",
            "Shared chargers (多车一桩): use in range",
            "SELECT c.device_id AS charger, c.shared_by AS cars_sharing, coalesce(s.sessions, 0) AS sessions,"
            " round(coalesce(s.energy_kwh, 0)::numeric, 1) AS energy_kwh,"
            " round((100.0 * h.charging / nullif(h.samples, 0))::numeric, 1) AS charging_time_pct"
            " FROM chargers c"
            " LEFT JOIN (SELECT device_id, count(*) FILTER (WHERE event = 'session_start') AS sessions,"
            " sum(energy_kwh) FILTER (WHERE event = 'session_stop') AS energy_kwh FROM ev_charger_events"
            f" WHERE $__timeFilter(ts) AND {SELECTED} GROUP BY device_id) s ON s.device_id = c.device_id"
            " LEFT JOIN (SELECT device_id, sum(charging_samples) AS charging, sum(samples) AS samples"
            f" FROM ev_charger_hourly WHERE $__timeFilter(bucket) AND {SELECTED} GROUP BY device_id) h"
            " ON h.device_id = c.device_id"
            " WHERE c.shared_by > 1 AND c.device_id IN (${device:sqlstring}) ORDER BY charging_time_pct DESC",
        ),
        Panel(
            "table",
            "Chargers now",
            "SELECT t.device_id AS charger, t.status, t.power_kw, t.temperature_c, t.energy_kwh AS meter_kwh,"
            " c.max_power_kw, c.shared_by, t.ts AS last_seen FROM ("
            " SELECT DISTINCT ON (device_id) * FROM ev_charger_telemetry"
            f" WHERE {LAST_HOUR} AND {SELECTED} ORDER BY device_id, ts DESC) t"
            " LEFT JOIN chargers c ON c.device_id = t.device_id ORDER BY t.status, t.device_id",
        ),
    ]
    return dashboard(
        "yiju-ev",
        "EV charging",
        tags=["facilities", "ev"],
        variables=[DISTRICT, COMMUNITY, device_variable(Kind.EV_CHARGER)],
        panels=panels,
        annotate=ANNOTATE,
    )


def parking() -> Json:
    """Supply and demand, shared-space utilisation, bookings and what became of them, the map."""
    spaces, gates = devices_of(Kind.PARKING_SPACE), devices_of(Kind.PARKING_GATE)
    panels = [
        Panel(
            "timeseries",
            "Supply and demand: spaces occupied of spaces sensed (hourly rollup)",
            "SELECT $__timeGroupAlias(bucket, $__interval), avg(occupied) AS occupied_spaces,"
            " max(sensed) AS sensed_spaces FROM (SELECT bucket, sum(occupied_share) AS occupied,"
            " count(*) AS sensed FROM parking_space_hourly"
            f" WHERE $__timeFilter(bucket) AND device_id IN {spaces} GROUP BY bucket) hourly"
            " GROUP BY 1 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Gate entries and exits",
            "SELECT $__timeGroupAlias(ts, $__interval), count(*) FILTER (WHERE direction = 'in') AS entries,"
            " count(*) FILTER (WHERE direction = 'out') AS exits FROM parking_gate_events"
            f" WHERE event = 'passage' AND $__timeFilter(ts) AND device_id IN {gates} GROUP BY 1 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Occupancy by space type (resident, public, 错时 institutional, street)",
            "SELECT $__timeGroupAlias(h.bucket, $__interval), s.space_type AS metric,"
            " round(100 * avg(h.occupied_share)::numeric, 1) AS occupancy_pct"
            " FROM parking_space_hourly h JOIN parking_spaces s ON s.sensor_device_id = h.device_id"
            f" WHERE $__timeFilter(h.bucket) AND s.{IN_COMMUNITY} GROUP BY 1, 2 ORDER BY 1",
            w=24,
            unit="percent",
            interval="1h",
        ),
        Panel(
            "table",
            "Shared-space utilisation in range",
            "SELECT s.space_type, count(*) AS spaces,"
            " count(*) FILTER (WHERE s.availability <> '[]'::jsonb) AS with_sharing_windows,"
            " count(*) FILTER (WHERE s.has_charger) AS with_charger,"
            " round(100 * avg(h.share)::numeric, 1) AS occupancy_pct"
            " FROM parking_spaces s LEFT JOIN (SELECT device_id, avg(occupied_share) AS share"
            f" FROM parking_space_hourly WHERE $__timeFilter(bucket) AND device_id IN {spaces}"
            f" GROUP BY device_id) h ON h.device_id = s.sensor_device_id WHERE s.{IN_COMMUNITY}"
            " GROUP BY s.space_type ORDER BY s.space_type",
        ),
        Panel(
            "table",
            "Sensors with the lowest battery (last 24 h of the range)",
            "SELECT device_id AS sensor, round(min(min_battery_pct)::numeric, 1) AS min_battery_pct,"
            " max(bucket) AS last_hour FROM parking_space_hourly"
            f" WHERE bucket > {TO} - INTERVAL '1 day' AND bucket <= {TO}"
            f" AND device_id IN {spaces} GROUP BY device_id ORDER BY 2 LIMIT 20",
        ),
        Panel(
            "stat",
            "Bookings arriving in range",
            "SELECT count(*) AS bookings, count(*) FILTER (WHERE status = 'completed') AS completed,"
            " count(*) FILTER (WHERE status = 'no_show') AS no_shows,"
            " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
            # a car still there after its stay (and the turnover buffer) ended
            f" count(*) FILTER (WHERE coalesce(checked_out_at, {TO}) > upper(occupied)"
            " AND checked_in_at IS NOT NULL) AS overstays,"
            " coalesce(sum(price) FILTER (WHERE status IN ('completed', 'checked_in')), 0) AS revenue_yuan"
            f" FROM parking_bookings WHERE $__timeFilter(arrival) AND {IN_COMMUNITY}",
            w=24,
            h=4,
        ),
        Panel(
            "timeseries",
            "Bookings by arrival hour and how they ended",
            "SELECT $__timeGroupAlias(arrival, $__interval), status AS metric, count(*) AS bookings"
            f" FROM parking_bookings WHERE $__timeFilter(arrival) AND {IN_COMMUNITY}"
            " GROUP BY 1, 2 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Requests refused, by reason (unmet demand)",
            "SELECT $__timeGroupAlias(arrival, $__interval), reason AS metric, count(*) AS refused"
            f" FROM parking_refusals WHERE $__timeFilter(arrival) AND {IN_COMMUNITY}"
            " GROUP BY 1, 2 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Spaces held by bookings, by space type",
            # each hour of the range, the bookings whose stay reaches into it
            "SELECT hour AS time, space_type AS metric, count(*) AS booked_spaces FROM ("
            " SELECT generate_series(date_trunc('hour', greatest(b.arrival, $__timeFrom()::timestamptz)),"
            f" least(b.departure, {TO}), INTERVAL '1 hour') AS hour, s.space_type"
            " FROM parking_bookings b JOIN parking_spaces s ON s.id = b.space_id"
            f" WHERE b.{IN_COMMUNITY} AND b.arrival < {TO} AND b.departure > $__timeFrom()::timestamptz"
            # stays are bounded (parking_max_stay_hours), so the arrival index bounds the scan
            f" AND b.arrival > $__timeFrom()::timestamptz - INTERVAL '{MAX_STAY_HOURS} hours'"
            " AND b.status IN ('completed', 'checked_in', 'booked')) held"
            " GROUP BY 1, 2 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "geomap",
            "Supply and demand now (供需一张图): free, booked, occupied",
            # state: 0 free, 1 held by a booking now, 2 the sensor says occupied
            "SELECT s.label, s.space_type, s.has_charger, s.lat AS latitude, s.lon AS longitude,"
            " CASE WHEN t.occupied THEN 2 WHEN b.id IS NOT NULL THEN 1 ELSE 0 END AS state"
            " FROM parking_spaces s"
            " LEFT JOIN LATERAL (SELECT occupied FROM parking_space_telemetry"
            f" WHERE device_id = s.sensor_device_id AND ts <= {TO} AND ts > {TO} - INTERVAL '1 day'"
            " ORDER BY ts DESC LIMIT 1) t ON true"
            " LEFT JOIN LATERAL (SELECT id FROM parking_bookings WHERE community_id = s.community_id"
            f" AND space_id = s.id AND status IN ('booked', 'checked_in') AND occupied @> {TO}"
            " LIMIT 1) b ON true"
            f" WHERE s.{IN_COMMUNITY} AND s.lat IS NOT NULL",
            w=24,
            h=12,
            options=_SPACES_MAP,
            defaults=_STATE_COLOURS,
        ),
        Panel(
            "table",
            "Bookings changed after they were made (moves, withdrawals, overstays)",
            "SELECT c.at, c.change, c.reason, c.from_space, c.to_space, b.code"
            " FROM parking_booking_changes c JOIN parking_bookings b ON b.id = c.booking_id"
            f" WHERE $__timeFilter(c.at) AND b.{IN_COMMUNITY} ORDER BY c.at DESC LIMIT 50",
            w=24,
        ),
    ]
    return dashboard(
        "yiju-parking",
        "Parking and sharing",
        tags=["facilities", "parking"],
        variables=[DISTRICT, COMMUNITY],
        panels=panels,
        annotate=ANNOTATE,
    )


def parcel_lockers() -> Json:
    """Fill, deposits and pickups, overdue parcels, doors left open and faults."""
    lockers = "(${device:sqlstring})"
    panels = [
        Panel(
            "timeseries",
            "Fill (hourly rollup)",
            "SELECT $__timeGroupAlias(bucket, $__interval),"
            " round(100 * sum(avg_occupied) / nullif(sum(compartments_total), 0), 1) AS fill_pct"
            f" FROM parcel_locker_hourly WHERE $__timeFilter(bucket) AND {SELECTED} GROUP BY 1 ORDER BY 1",
            unit="percent",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Deposits and pickups",
            "SELECT $__timeGroupAlias(ts, $__interval),"
            " count(*) FILTER (WHERE event = 'deposit') AS deposits,"
            " count(*) FILTER (WHERE event = 'pickup') AS pickups FROM parcel_locker_events"
            " WHERE event IN ('deposit', 'pickup')"
            f" AND $__timeFilter(ts) AND {SELECTED} GROUP BY 1 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "table",
            "Overdue parcels (> $overdue_hours h, oldest first)",
            "SELECT dep.device_id AS locker, dep.compartment, dep.parcel_id, dep.ts AS deposited,"
            f" round(extract(epoch FROM {TO} - dep.ts)::numeric / 3600, 1) AS hours_waiting"
            + OVERDUE.format(lockers=lockers)
            + " ORDER BY dep.ts LIMIT 200",
        ),
        Panel(
            "table",
            "Doors left open and faults in range",
            "SELECT ts, device_id AS locker, compartment, event, code, open_s FROM parcel_locker_events"
            f" WHERE event IN ('door_left_open', 'fault') AND $__timeFilter(ts) AND {SELECTED}"
            " ORDER BY ts DESC LIMIT 200",
        ),
    ]
    return dashboard(
        "yiju-lockers",
        "Parcel lockers",
        tags=["facilities", "lockers"],
        variables=[DISTRICT, COMMUNITY, device_variable(Kind.PARCEL_LOCKER), OVERDUE_HOURS],
        panels=panels,
        annotate=ANNOTATE,
    )


def elevators() -> Json:
    """Trips, faults by GB/T 24476 type, door use, vibration trend, status and fault log."""
    panels = [
        Panel(
            "timeseries",
            "Trips",
            "SELECT $__timeGroupAlias(ts, $__interval), count(*) AS trips FROM elevator_events"
            f" WHERE event = 'trip' AND $__timeFilter(ts) AND {SELECTED} GROUP BY 1 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "barchart",
            "Faults by GB/T 24476 type",
            "SELECT fault, count(*) AS faults FROM elevator_events"
            f" WHERE event = 'fault' AND $__timeFilter(ts) AND {SELECTED} GROUP BY fault ORDER BY 2 DESC",
            options={"orientation": "horizontal", "xField": "fault"},
        ),
        Panel(
            "timeseries",
            "Vibration trend per elevator (hourly rollup, RMS m/s²)",
            "SELECT $__timeGroupAlias(bucket, $__interval), device_id AS metric,"
            " avg(avg_vibration_rms) AS vibration_rms FROM elevator_hourly"
            f" WHERE $__timeFilter(bucket) AND {SELECTED} GROUP BY 1, 2 ORDER BY 1",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Door open and moving time share (hourly rollup)",
            "SELECT $__timeGroupAlias(bucket, $__interval), round(100 * avg(door_open_share)::numeric, 2)"
            " AS door_open_pct, round(100 * avg(moving_share)::numeric, 2) AS moving_pct FROM elevator_hourly"
            f" WHERE $__timeFilter(bucket) AND {SELECTED} GROUP BY 1 ORDER BY 1",
            unit="percent",
            interval="1h",
        ),
        Panel("table", "Elevators now", ELEVATORS_NOW.format(elevators="(${device:sqlstring})"), w=24),
        Panel(
            "table",
            "Fault log",
            "SELECT f.ts AS started, f.device_id AS elevator, f.fault, c.ts AS cleared,"
            " round(extract(epoch FROM coalesce(c.ts, $__timeTo()::timestamptz) - f.ts)::numeric / 60, 1)"
            " AS minutes FROM elevator_events f LEFT JOIN LATERAL (SELECT e.ts FROM elevator_events e"
            " WHERE e.device_id = f.device_id AND e.event = 'fault_cleared' AND e.fault = f.fault"
            " AND e.ts >= f.ts ORDER BY e.ts LIMIT 1) c ON true"
            f" WHERE f.event = 'fault' AND $__timeFilter(f.ts) AND f.{SELECTED} ORDER BY f.ts DESC LIMIT 200",
            w=24,
        ),
    ]
    return dashboard(
        "yiju-elevators",
        "Elevators",
        tags=["facilities", "elevators"],
        variables=[DISTRICT, COMMUNITY, BUILDING, device_variable(Kind.ELEVATOR, by_building=True)],
        panels=panels,
        annotate=ANNOTATE,
    )
