"""The slow and learned cycles' rows: read once, then only the rows stored since."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg

from analytics import service
from analytics.recent import Recent
from analytics.rules import Frames
from core.contract.topics import Kind
from tests.factories import Fleet

TABLE = "parking_space_telemetry"
READING = (
    "INSERT INTO parking_space_telemetry (device_id, ts, boot, seq, occupied, battery_pct, rssi_dbm)"
    " VALUES (%s, %s, 0, %s, %s, 80, -70)"
)
WINDOW = timedelta(hours=2)


def _rows(frames: Frames) -> pd.DataFrame:
    return frames[TABLE].reset_index(drop=True)


def test_a_cycle_reads_its_window_once_then_only_the_rows_stored_since(
    conn: psycopg.Connection, fleet: Fleet
) -> None:
    devices = [d.id for d in fleet.add(Kind.PARKING_SPACE, 3)]
    # long ago, where no other test stores readings, so that every row read is one of these
    now = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=secrets.randbelow(3000))
    seq = 0

    def store(ts: datetime) -> None:
        nonlocal seq
        for d in devices:
            seq += 1
            conn.execute(READING, (d, ts, seq, seq % 2 == 0))

    for minute in range(120, 0, -5):  # two hours, a reading every five minutes
        store(now - timedelta(minutes=minute))
    exact, again = Recent(reread=timedelta(0)), Recent(reread=timedelta(hours=1))
    for recent in (exact, again):
        first = recent.frames(conn, [TABLE], now - WINDOW, now)
        pd.testing.assert_frame_equal(_rows(first), _rows(service.read(conn, [TABLE], now - WINDOW, now)))
        assert recent.rows_read == 24 * len(devices)
    # a minute on: a new reading, and one from 90 minutes ago (a device's buffer flushed late)
    later = now + timedelta(minutes=1)
    store(now)
    store(now - timedelta(minutes=90, seconds=30))
    expected = _rows(service.read(conn, [TABLE], later - WINDOW, later))
    assert len(expected) == 25 * len(devices)  # one reading fell out of the window, two came in
    for recent in (exact, again):
        pd.testing.assert_frame_equal(_rows(recent.frames(conn, [TABLE], later - WINDOW, later)), expected)
    assert exact.rows_read == 2 * len(devices)  # only the two stored since
    # asked again for everything stored within the hour before its last read: nothing twice
    assert again.rows_read == (24 - 1 + 2) * len(devices)
