"""Folder "Overview": the city map by district, and one community at a glance."""
# ruff: noqa: S608 (Grafana's SQL, expanded and sent by Grafana; psycopg never formats it)

from __future__ import annotations

from core.contract.topics import Kind
from grafana.boards.common import (
    COMMUNITY,
    DISTRICT,
    IN_COMMUNITY,
    LAST_HOUR,
    OPEN_BY_SEVERITY,
    OVERDUE_HOURS,
    TO,
    devices_of,
    markers_map,
    traffic_light,
)
from grafana.builder import Json, Panel, dashboard, query_variable

SPACES = devices_of(Kind.PARKING_SPACE)
CHARGERS = devices_of(Kind.EV_CHARGER)
LOCKERS = devices_of(Kind.PARCEL_LOCKER)
ELEVATORS = devices_of(Kind.ELEVATOR)

# Per community: open alarms and the share of parking spaces occupied by their latest reading.
_BY_COMMUNITY = f"""
WITH alarms AS (
  SELECT community_id, count(*) AS n FROM anomalies
  WHERE status <> 'cleared' AND {IN_COMMUNITY} GROUP BY community_id
), latest AS (
  SELECT DISTINCT ON (device_id) device_id, occupied FROM parking_space_telemetry
  WHERE {LAST_HOUR} AND device_id IN {SPACES} ORDER BY device_id, ts DESC
), occupancy AS (
  SELECT d.community_id, avg(l.occupied::int) AS share, count(*) FILTER (WHERE NOT l.occupied) AS free
  FROM latest l JOIN devices d ON d.id = l.device_id GROUP BY d.community_id
), fleet AS (
  SELECT community_id, count(*) AS devices FROM devices
  WHERE decommissioned_at IS NULL AND {IN_COMMUNITY} GROUP BY community_id
)
SELECT c.id, c.name, c.district, c.lat, c.lon, coalesce(f.devices, 0) AS devices,
       coalesce(a.n, 0) AS open_alarms, round(100 * o.share::numeric, 1) AS occupancy_pct,
       coalesce(o.free, 0) AS free_spaces
FROM communities c
LEFT JOIN alarms a ON a.community_id = c.id
LEFT JOIN occupancy o ON o.community_id = c.id
LEFT JOIN fleet f ON f.community_id = c.id
WHERE c.id IN (${{community:sqlstring}})"""

_ALARM_COLOURS = traffic_light(1, 5)
_GEOMAP = markers_map(
    "Communities",
    # colour: open alarms (thresholds above); size: parking occupancy
    {
        "color": {"field": "open_alarms", "fixed": "green"},
        "size": {"field": "occupancy_pct", "fixed": 8, "min": 5, "max": 20},
        "text": {"field": "name", "mode": "field"},
    },
    {"id": "coords", "lat": 30.70, "lon": 111.29, "zoom": 9},
)


def city() -> Json:
    """Communities on the map, coloured by open alarms and sized by occupancy, and by district."""
    panels = [
        Panel(
            "stat",
            "Communities",
            "SELECT count(*) AS communities FROM communities WHERE id IN (${community:sqlstring})",
            w=6,
            h=4,
        ),
        Panel(
            "stat",
            "Devices online",
            "SELECT count(*) FILTER (WHERE state = 'online') AS online, count(*) AS reporting FROM ("
            f" SELECT DISTINCT ON (device_id) device_id, state FROM device_status WHERE ts <= {TO}"
            f" AND device_id IN (SELECT id FROM devices WHERE {IN_COMMUNITY})"
            " ORDER BY device_id, ts DESC) s",
            w=6,
            h=4,
        ),
        Panel(
            "stat",
            "Open alarms",
            f"SELECT count(*) AS open_alarms FROM anomalies WHERE status <> 'cleared' AND {IN_COMMUNITY}",
            w=6,
            h=4,
            defaults=_ALARM_COLOURS,
        ),
        Panel(
            "stat",
            "Parking occupancy now",
            "SELECT round(100 * avg(occupied::int)::numeric, 1) AS occupancy_pct FROM ("
            f" SELECT DISTINCT ON (device_id) device_id, occupied FROM parking_space_telemetry"
            f" WHERE {LAST_HOUR} AND device_id IN {SPACES} ORDER BY device_id, ts DESC) s",
            w=6,
            h=4,
            unit="percent",
        ),
        Panel(
            "geomap",
            "Communities (colour: open alarms, size: parking occupancy)",
            f"SELECT name, district, lat AS latitude, lon AS longitude, devices, open_alarms, occupancy_pct"
            f" FROM ({_BY_COMMUNITY}) c",
            w=24,
            h=14,
            options=_GEOMAP,
            defaults=_ALARM_COLOURS,
        ),
        Panel(
            "table",
            "By district",
            "SELECT district, count(*) AS communities, sum(devices) AS devices,"
            " sum(open_alarms) AS open_alarms,"
            " round(avg(occupancy_pct), 1) AS occupancy_pct, sum(free_spaces) AS free_spaces"
            f" FROM ({_BY_COMMUNITY}) c GROUP BY district ORDER BY open_alarms DESC, district",
            w=24,
            h=8,
        ),
    ]
    return dashboard(
        "yiju-city",
        "City overview",
        tags=["overview"],
        variables=[DISTRICT, COMMUNITY],
        panels=panels,
        annotate=None,
    )


_ONE_COMMUNITY = {**query_variable("community", "Community", COMMUNITY["query"], multi=False)}

ELEVATORS_NOW = f"""
SELECT t.device_id AS elevator, d.location, t.floor, t.direction, t.door, t.mode,
       CASE WHEN f.event = 'fault' THEN f.fault END AS open_fault, t.ts AS last_seen
FROM (SELECT DISTINCT ON (device_id) * FROM elevator_telemetry
      WHERE {LAST_HOUR} AND device_id IN {{elevators}} ORDER BY device_id, ts DESC) t
JOIN devices d ON d.id = t.device_id
LEFT JOIN LATERAL (
  SELECT e.event, e.fault FROM elevator_events e
  WHERE e.device_id = t.device_id AND e.event IN ('fault', 'fault_cleared')
    AND e.ts <= {TO} AND e.ts > {TO} - INTERVAL '30 days'
  ORDER BY e.ts DESC LIMIT 1
) f ON true
ORDER BY (f.event = 'fault') DESC NULLS LAST, t.device_id"""

# A parcel is waiting while nothing followed its deposit in that compartment (one sort, no
# per-deposit look-ups); deposits older than 30 days are left to the fault reports.
OVERDUE = f"""
FROM (
  SELECT device_id, compartment, parcel_id, ts, event,
         lead(event) OVER (PARTITION BY device_id, compartment ORDER BY ts) AS next_event
  FROM parcel_locker_events
  WHERE event IN ('deposit', 'pickup') AND device_id IN {{lockers}}
    AND ts > {TO} - INTERVAL '30 days' AND ts <= {TO}
) dep
WHERE dep.event = 'deposit' AND dep.next_event IS NULL
  AND dep.ts <= {TO} - make_interval(hours => $overdue_hours)"""


def community() -> Json:
    """Parking, chargers, lockers, elevators and alarms of one community."""
    panels = [
        Panel(
            "stat",
            "Parking occupancy now",
            "SELECT round(100 * avg(occupied::int)::numeric, 1) AS occupancy_pct,"
            " count(*) FILTER (WHERE NOT occupied) AS free_spaces FROM ("
            " SELECT DISTINCT ON (device_id) device_id, occupied FROM parking_space_telemetry"
            f" WHERE {LAST_HOUR} AND device_id IN {SPACES} ORDER BY device_id, ts DESC) s",
            w=6,
            h=5,
        ),
        Panel(
            "bargauge",
            "Open alarms by severity",
            OPEN_BY_SEVERITY,
            w=6,
            h=5,
        ),
        Panel(
            "stat",
            "Overdue parcels (> $overdue_hours h)",
            "SELECT count(*) AS overdue_parcels" + OVERDUE.format(lockers=LOCKERS),
            w=6,
            h=5,
        ),
        Panel(
            "bargauge",
            "Locker fill now",
            "SELECT DISTINCT ON (device_id) device_id AS locker,"
            " round(100.0 * compartments_occupied / compartments_total, 1) AS fill_pct"
            f" FROM parcel_locker_telemetry WHERE {LAST_HOUR} AND device_id IN {LOCKERS}"
            " ORDER BY device_id, ts DESC",
            w=6,
            h=5,
            unit="percent",
            options={
                "reduceOptions": {"values": True, "calcs": [], "fields": ""},
                "orientation": "horizontal",
            },
        ),
        Panel(
            "timeseries",
            "Parking occupancy over the day (hourly rollup)",
            "SELECT $__timeGroupAlias(bucket, $__interval), round(100 * avg(occupied_share)::numeric, 1)"
            " AS occupancy_pct FROM parking_space_hourly"
            f" WHERE $__timeFilter(bucket) AND device_id IN {SPACES} GROUP BY 1 ORDER BY 1",
            w=16,
            unit="percent",
            interval="1h",
        ),
        Panel(
            "piechart",
            "Chargers by status now",
            "SELECT status, count(*) AS chargers FROM ("
            " SELECT DISTINCT ON (device_id) device_id, status FROM ev_charger_telemetry"
            f" WHERE {LAST_HOUR} AND device_id IN {CHARGERS} ORDER BY device_id, ts DESC) s"
            " GROUP BY status ORDER BY status",
            w=8,
            options={"reduceOptions": {"values": True, "calcs": [], "fields": ""}, "pieType": "donut"},
        ),
        Panel("table", "Elevators now", ELEVATORS_NOW.format(elevators=ELEVATORS), w=24, h=9),
    ]
    return dashboard(
        "yiju-community",
        "Community at a glance",
        tags=["overview"],
        variables=[DISTRICT, _ONE_COMMUNITY, OVERDUE_HOURS],
        panels=panels,
        annotate=f" AND {IN_COMMUNITY}",
    )
