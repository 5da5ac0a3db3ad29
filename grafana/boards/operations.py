"""Folder "Operations": alarms for the people on duty, and the platform's own health."""
# ruff: noqa: S608 (Grafana's SQL, expanded and sent by Grafana; psycopg never formats it)

from __future__ import annotations

from core.db.tables import TELEMETRY_TABLES
from grafana.boards.common import COMMUNITY, DISTRICT, IN_COMMUNITY, OPEN_BY_SEVERITY, TO
from grafana.builder import Json, Panel, dashboard

# Each alarm's device opens the dashboard of its kind, on that device and the alarm's time range.
_DEVICE_LINK = {
    "matcher": {"id": "byName", "options": "device"},
    "properties": [
        {
            "id": "links",
            "value": [
                {
                    "title": "Open the device's dashboard",
                    "url": "/d/${__data.fields.dashboard}?var-community=${__data.fields.community}"
                    "&var-device=${__value.raw}&${__url_time_range}",
                }
            ],
        }
    ],
}
_HIDDEN = {
    "matcher": {"id": "byName", "options": "dashboard"},
    "properties": [{"id": "custom.hidden", "value": True}],
}
_SEVERITY = "CASE a.severity WHEN 'critical' THEN 1 WHEN 'major' THEN 2 WHEN 'minor' THEN 3 ELSE 4 END"


def alarms() -> Json:
    """Open and recent alarms with links to the device, counts by severity and type."""
    panels = [
        Panel(
            "bargauge",
            "Open alarms by severity",
            OPEN_BY_SEVERITY,
            w=8,
            h=6,
        ),
        Panel(
            "barchart",
            "Open alarms by type",
            f"SELECT type, count(*) AS alarms FROM anomalies WHERE status <> 'cleared' AND {IN_COMMUNITY}"
            " GROUP BY type ORDER BY 2 DESC",
            w=8,
            h=6,
            options={"orientation": "horizontal", "xField": "type"},
        ),
        Panel(
            "timeseries",
            "Alarms raised by severity",
            "SELECT $__timeGroupAlias(first_seen, $__interval), severity AS metric, count(*) AS alarms"
            f" FROM anomalies WHERE $__timeFilter(first_seen) AND {IN_COMMUNITY} GROUP BY 1, 2 ORDER BY 1",
            w=8,
            h=6,
            interval="1h",
        ),
        Panel(
            "table",
            "Alarms: open first, then the time range's",
            "SELECT a.first_seen, a.last_seen, a.severity, a.status, a.type, a.device_id AS device,"
            " d.kind, a.community_id AS community, a.detector, a.explanation, a.acknowledged_by,"
            " CASE d.kind WHEN 'elevator' THEN 'yiju-elevators' WHEN 'ev_charger' THEN 'yiju-ev'"
            " WHEN 'parcel_locker' THEN 'yiju-lockers' ELSE 'yiju-parking' END AS dashboard"
            " FROM anomalies a JOIN devices d ON d.id = a.device_id"
            f" WHERE a.{IN_COMMUNITY} AND (a.status <> 'cleared'"
            " OR (a.first_seen <= $__timeTo() AND a.last_seen >= $__timeFrom()))"
            f" ORDER BY (a.status = 'cleared'), {_SEVERITY}, a.last_seen DESC LIMIT 500",
            w=24,
            h=14,
            overrides=[_DEVICE_LINK, _HIDDEN],
        ),
    ]
    return dashboard(
        "yiju-alarms",
        "Alarms",
        tags=["operations", "alarms"],
        variables=[DISTRICT, COMMUNITY],
        panels=panels,
        annotate=f" AND {IN_COMMUNITY}",
    )


_ROLLED = {
    "ev_charger_telemetry": "ev_charger_hourly",
    "parking_space_telemetry": "parking_space_hourly",
    "parcel_locker_telemetry": "parcel_locker_hourly",
    "elevator_telemetry": "elevator_hourly",
}


def _messages() -> str:
    """Rows per table: the telemetry's from its hourly rollup's sample counts, the rest raw.

    Each table is bucketed on its own before the union, so no branch hands on a row per message.
    """
    parts = [
        f"SELECT $__timeGroup(bucket, $__interval) AS t, '{table}' AS metric, sum(samples) AS n"
        f" FROM {_ROLLED[table]} WHERE $__timeFilter(bucket) GROUP BY 1"
        if table in _ROLLED
        else f"SELECT $__timeGroup(ts, $__interval) AS t, '{table}' AS metric, count(*) AS n"
        f" FROM {table} WHERE $__timeFilter(ts) GROUP BY 1"
        for table in TELEMETRY_TABLES
    ]
    return (
        'SELECT t AS "time", metric, n * 1000.0 / $__interval_ms AS msg_per_s'
        " FROM (" + " UNION ALL ".join(parts) + ") m ORDER BY 1"
    )


def _lag() -> str:
    parts = [
        f"SELECT '{table}' AS source, extract(epoch FROM ingested_at - ts) AS lag_s FROM {table}"
        f" WHERE ts > {TO} - INTERVAL '1 hour' AND ts <= {TO}"
        for table in TELEMETRY_TABLES
    ]
    return (
        "SELECT source, count(*) AS rows,"
        " round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_s)::numeric, 2) AS p50_s,"
        " round(percentile_cont(0.95) WITHIN GROUP (ORDER BY lag_s)::numeric, 2) AS p95_s,"
        " round(max(lag_s)::numeric, 2) AS max_s FROM (" + " UNION ALL ".join(parts) + ") l"
        " GROUP BY source ORDER BY p95_s DESC"
    )


def platform() -> Json:
    """Ingest rate, rejects by reason, lag, database size, rollup backlog."""
    panels = [
        Panel(
            "stat",
            "Database size",
            "SELECT pg_database_size(current_database()) AS size",
            w=6,
            h=4,
            unit="bytes",
        ),
        Panel(
            "stat",
            "Devices online",
            "SELECT count(*) FILTER (WHERE state = 'online') AS online,"
            " count(*) FILTER (WHERE state = 'offline') AS offline FROM ("
            f" SELECT DISTINCT ON (device_id) device_id, state FROM device_status WHERE ts <= {TO}"
            " ORDER BY device_id, ts DESC) s",
            w=6,
            h=4,
        ),
        Panel(
            "stat",
            "Rejects in range",
            "SELECT count(*) AS rejects FROM ingest_rejects WHERE $__timeFilter(received_at)",
            w=6,
            h=4,
        ),
        Panel(
            "stat",
            "Rollup backlog (Apache edition: ranges waiting for `yiju db maintain`)",
            "SELECT count(*) AS pending_ranges FROM rollup_invalidations",
            w=6,
            h=4,
        ),
        Panel(
            "timeseries",
            "Messages stored per second, by table (by device time)",
            _messages(),
            w=24,
            unit="short",
            interval="1h",
        ),
        Panel(
            "timeseries",
            "Rejects by reason",
            "SELECT $__timeGroupAlias(received_at, $__interval), reason AS metric, count(*) AS rejects"
            " FROM ingest_rejects WHERE $__timeFilter(received_at) GROUP BY 1, 2 ORDER BY 1",
        ),
        Panel("table", "Ingest lag, last hour of the range (ingested_at - ts)", _lag()),
        Panel(
            "table",
            "Latest rejects",
            "SELECT received_at, reason, topic, detail, payload_size, worker FROM ingest_rejects"
            " WHERE $__timeFilter(received_at) ORDER BY received_at DESC LIMIT 100",
        ),
        Panel(
            "table",
            "Tables by size",
            # Chunks inherit from their hypertable: summing them from the catalog is much cheaper
            # than hypertable_size() per table.
            "SELECT p.relname AS table_name, sum(pg_total_relation_size(c.oid)) AS bytes, count(*) AS chunks"
            " FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid"
            " GROUP BY p.relname ORDER BY bytes DESC",
            unit="bytes",
        ),
    ]
    return dashboard(
        "yiju-platform",
        "Platform health",
        tags=["operations", "platform"],
        variables=[],
        panels=panels,
        annotate=None,
    )
