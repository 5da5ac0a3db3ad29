"""Hourly rollups of device telemetry that work on both TimescaleDB editions.

Community edition: continuous aggregates with refresh and retention policies. Apache edition
(Debian's build): plain hypertables filled by `refresh()`, which recomputes only the hours that
ingest marked as written in `rollup_invalidations`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from core.db.queries import ROLLUPS

logger = logging.getLogger(__name__)

BUCKET = timedelta(hours=1)


@dataclass(frozen=True)
class Rollup:
    """An hourly aggregate of one telemetry hypertable, per device."""

    name: str
    source: str
    aggregates: str  # select-list after bucket, device_id


ALL = (
    Rollup(
        "ev_charger_hourly",
        "ev_charger_telemetry",
        "count(*) AS samples, avg(power_kw) AS avg_power_kw, max(power_kw) AS max_power_kw,"
        " max(temperature_c) AS max_temperature_c, min(energy_kwh) AS energy_kwh_min,"
        " max(energy_kwh) AS energy_kwh_max,"
        " count(*) FILTER (WHERE status = 'Charging') AS charging_samples",
    ),
    Rollup(
        "parking_space_hourly",
        "parking_space_telemetry",
        "count(*) AS samples, avg(occupied::int) AS occupied_share, min(battery_pct) AS min_battery_pct",
    ),
    Rollup(
        "parcel_locker_hourly",
        "parcel_locker_telemetry",
        "count(*) AS samples, avg(compartments_occupied) AS avg_occupied,"
        " max(compartments_occupied) AS max_occupied, max(compartments_total) AS compartments_total,"
        " max(temperature_c) AS max_temperature_c",
    ),
    Rollup(
        "elevator_hourly",
        "elevator_telemetry",
        "count(*) AS samples, avg(vibration_rms) AS avg_vibration_rms,"
        " max(vibration_rms) AS max_vibration_rms, max(load_kg) AS max_load_kg,"
        " avg((direction <> 'idle')::int) AS moving_share, avg((door = 'open')::int) AS door_open_share",
    ),
)
BY_SOURCE = {r.source: r for r in ALL}


def license_of(conn: psycopg.Connection) -> str:
    """'timescale' (community edition) or 'apache'."""
    row = conn.execute(ROLLUPS.license).fetchone()
    return str(row[0]) if row else "apache"


def _select(rollup: Rollup, *, ranged: bool) -> sql.Composed:
    return sql.SQL(ROLLUPS.select).format(
        aggregates=sql.SQL(rollup.aggregates),  # trusted constant above, never user input
        source=sql.Identifier(rollup.source),
        where=sql.SQL(ROLLUPS.where_range if ranged else ""),
    )


def ensure(conn: psycopg.Connection) -> None:
    """Create every rollup for the edition present; idempotent (conn in autocommit)."""
    community = license_of(conn) == "timescale"
    for rollup in ALL:
        name = sql.Identifier(rollup.name)
        if community:
            conn.execute(sql.SQL(ROLLUPS.create_cagg).format(name=name, select=_select(rollup, ranged=False)))
            conn.execute(ROLLUPS.add_cagg_policy, (rollup.name,))
        else:
            conn.execute(
                sql.SQL(ROLLUPS.create_table).format(name=name, select=_select(rollup, ranged=False))
            )
            conn.execute(
                sql.SQL(ROLLUPS.create_index).format(index=sql.Identifier(f"{rollup.name}_key"), name=name)
            )
            conn.execute(ROLLUPS.make_hypertable, (rollup.name,))


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Hour-aligned, merged ranges; adjacent or overlapping hours join."""
    aligned = sorted(
        (
            lo.replace(minute=0, second=0, microsecond=0),
            hi.replace(minute=0, second=0, microsecond=0) + BUCKET,
        )
        for lo, hi in ranges
    )
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in aligned:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def refresh(conn: psycopg.Connection) -> int:
    """Apache edition: recompute the hours written since the last refresh; returns hours done."""
    hours = 0
    for rollup in ALL:
        with conn.transaction():
            ranges = conn.execute(ROLLUPS.take_invalidations, (rollup.source,)).fetchall()
            for lo, hi in _merge([(r[0], r[1]) for r in ranges]):
                name = sql.Identifier(rollup.name)
                conn.execute(sql.SQL(ROLLUPS.delete_range).format(name=name), (lo, hi))
                conn.execute(
                    sql.SQL(ROLLUPS.insert_range).format(name=name, select=_select(rollup, ranged=True)),
                    {"lo": lo, "hi": hi},
                )
                hours += int((hi - lo) / BUCKET)
    return hours
