"""Retention and rollups on the edition present (Apache here): our own refresh and drop_chunks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from core.config import Settings
from core.contract.topics import Channel, Kind
from core.db import maintenance, rollups
from core.db.tables import DEVICE_TABLES
from ingest import store
from ingest.models import Batch
from tests.factories import Fleet


@pytest.fixture
def writer(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection prepared as an ingest worker's (staging tables)."""
    with psycopg.connect(settings.database_url) as conn:
        store.prepare_connection(conn)
        yield conn


def _write(conn: psycopg.Connection, device_id: str, kind: Kind, times: list[datetime], fleet: Fleet) -> None:
    device = next(d for d in fleet.devices if d.id == device_id)
    table = DEVICE_TABLES[(kind, Channel.TELEMETRY)]
    batch = Batch()
    for ts in times:
        batch.add(table.name, table.row(device_id, device.messages.telemetry(ts)))
    store.write(conn, batch, track_rollups=True, worker="test")


def test_apache_refresh_recomputes_only_written_hours(
    settings: Settings, fleet: Fleet, writer: psycopg.Connection, conn: psycopg.Connection
) -> None:
    if rollups.license_of(conn) == "timescale":
        pytest.skip("community edition: continuous aggregates refresh themselves")
    (space,) = fleet.add(Kind.PARKING_SPACE)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    _write(writer, space.id, Kind.PARKING_SPACE, [hour + timedelta(minutes=m) for m in (1, 2, 3)], fleet)
    _write(writer, space.id, Kind.PARKING_SPACE, [hour + timedelta(hours=2, minutes=5)], fleet)
    report = maintenance.run_once(conn, settings)
    assert report.edition == "apache" and not report.skipped
    query = "SELECT bucket, samples, occupied_share FROM parking_space_hourly WHERE device_id = %s"
    rows = conn.execute(query + " ORDER BY bucket", (space.id,)).fetchall()
    raw = conn.execute(
        "SELECT time_bucket('1 hour', ts), count(*), avg(occupied::int) FROM parking_space_telemetry"
        " WHERE device_id = %s GROUP BY 1 ORDER BY 1",
        (space.id,),
    ).fetchall()
    assert [(r[0], r[1], float(r[2])) for r in rows] == [(r[0], r[1], float(r[2])) for r in raw]
    assert [r[1] for r in rows] == [3, 1]
    # A late message for the first hour: only that hour is recomputed, and correctly.
    _write(writer, space.id, Kind.PARKING_SPACE, [hour + timedelta(minutes=30)], fleet)
    assert maintenance.run_once(conn, settings).rollup_hours == 1
    samples = conn.execute(
        "SELECT samples FROM parking_space_hourly WHERE device_id = %s AND bucket = %s", (space.id, hour)
    ).fetchone()
    assert samples == (4,)
    conn.execute("DELETE FROM parking_space_hourly WHERE device_id = %s", (space.id,))


def test_apache_retention_drops_old_chunks(
    settings: Settings, fleet: Fleet, writer: psycopg.Connection, conn: psycopg.Connection
) -> None:
    if rollups.license_of(conn) == "timescale":
        pytest.skip("community edition: retention policies run inside TimescaleDB")
    (charger,) = fleet.add(Kind.EV_CHARGER)
    now = datetime.now(UTC)
    old = now - timedelta(days=settings.retention_days + 10)
    _write(writer, charger.id, Kind.EV_CHARGER, [old, now - timedelta(minutes=1)], fleet)
    report = maintenance.run_once(conn, settings)
    assert report.chunks_dropped >= 1
    left = conn.execute("SELECT ts FROM ev_charger_telemetry WHERE device_id = %s", (charger.id,)).fetchall()
    assert [r[0] > old for r in left] == [True]


def test_maintenance_runs_once_at_a_time(settings: Settings, conn: psycopg.Connection) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (maintenance.LOCK_KEY,))
        try:
            assert maintenance.run_once(conn, settings).skipped
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", (maintenance.LOCK_KEY,))


def _physical_order(conn: psycopg.Connection, devices: tuple[str, str]) -> list[str]:
    """The two devices' rows in the order they lie in their (one) chunk."""
    (chunk,) = conn.execute(
        "SELECT DISTINCT tableoid::regclass::text FROM parking_space_telemetry WHERE device_id = ANY(%s)",
        (list(devices),),
    ).fetchall()
    query = sql.SQL("SELECT device_id FROM {} WHERE device_id = ANY(%s) ORDER BY ctid").format(
        sql.Identifier(*chunk[0].split("."))
    )
    return [r[0] for r in conn.execute(query, (list(devices),)).fetchall()]


def _day_without_chunk(conn: psycopg.Connection, days_ago: range) -> datetime:
    """Noon of the first of those days whose parking chunk does not exist yet: other tests write
    telemetry on random days, and a chunk an earlier pass ordered stays marked as ordered."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    taken = conn.execute(
        "SELECT range_start, range_end FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'parking_space_telemetry'"
    ).fetchall()
    for ago in days_ago:
        day = noon - timedelta(days=ago)
        if not any(start <= day < end for start, end in taken):
            return day
    raise AssertionError(f"every day {days_ago.start}-{days_ago.stop} days ago has a parking chunk")


def test_closed_chunks_are_ordered_by_device_once(
    settings: Settings, fleet: Fleet, writer: psycopg.Connection, conn: psycopg.Connection
) -> None:
    if rollups.license_of(conn) == "timescale":
        pytest.skip("community edition: the reorder policy runs inside TimescaleDB")
    first, second = fleet.add(Kind.PARKING_SPACE, 2)
    day = _day_without_chunk(conn, days_ago=range(47, settings.retention_days - 1))
    for minute in range(4):  # as devices report: interleaved in time
        for space in (first, second):
            _write(writer, space.id, Kind.PARKING_SPACE, [day + timedelta(minutes=minute)], fleet)
    devices = (first.id, second.id)
    assert _physical_order(conn, devices) == [first.id, second.id] * 4
    share = maintenance.ordered_share(conn)
    everything = settings.model_copy(update={"maintenance_reorder_chunks": 10_000})
    assert maintenance.run_once(conn, everything).chunks_reordered >= 1
    low, high = sorted(devices)  # by device id, as the identity index orders them
    assert _physical_order(conn, devices) == [low] * 4 + [high] * 4
    assert maintenance.ordered_share(conn) > share
    assert maintenance.reorder(conn, after=timedelta(hours=2), limit=None) == 0  # each chunk once


def test_open_chunks_are_left_in_arrival_order(
    fleet: Fleet, writer: psycopg.Connection, conn: psycopg.Connection
) -> None:
    first, second = fleet.add(Kind.PARKING_SPACE, 2)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for space in (first, second, first):
        _write(writer, space.id, Kind.PARKING_SPACE, [now - timedelta(minutes=5)], fleet)
    maintenance.reorder(conn, after=timedelta(hours=2), limit=None)
    assert _physical_order(conn, (first.id, second.id)) == [first.id, second.id, first.id]
