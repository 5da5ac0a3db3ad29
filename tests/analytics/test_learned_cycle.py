"""The learned detectors as the service runs them: fitted on stored history, scoring new windows."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import psycopg

from analytics import service
from analytics.features import WINDOW
from core.contract.payloads import ChargerTelemetry
from core.contract.topics import Channel, Kind
from core.db.tables import DEVICE_TABLES
from ingest import store
from ingest.models import Batch
from tests.factories import Fleet

TABLE = DEVICE_TABLES[(Kind.EV_CHARGER, Channel.TELEMETRY)]


def _history(
    device_ids: list[str], start: datetime, minutes: int, drifting: str, drift_from: datetime
) -> Batch:
    """Idle chargers a minute apart, warmer by day; one heats up 4 °C an hour from `drift_from`."""
    rng, batch = random.Random(1), Batch()
    for minute in range(minutes):
        ts = start + timedelta(minutes=minute)
        weather = 18 + 5 * math.sin(2 * math.pi * (ts.hour + ts.minute / 60) / 24)
        for device_id in device_ids:
            heat = (
                4 * (ts - drift_from) / timedelta(hours=1)
                if device_id == drifting and ts >= drift_from
                else 0
            )
            payload = ChargerTelemetry(
                ts=ts, seq=minute, status="Available", power_kw=0.0, energy_kwh=1000.0, current_a=0.0,
                voltage_v=220.0, temperature_c=round(weather + heat + rng.gauss(0, 0.3), 1),
            )  # fmt: skip
            batch.add(TABLE.name, TABLE.row(device_id, payload))
    return batch


def test_a_drifting_charger_raises_one_unusual_behaviour_alarm(
    conn: psycopg.Connection, fleet: Fleet
) -> None:
    ids = [d.id for d in fleet.add(Kind.EV_CHARGER, 10)]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    drift_from = now - timedelta(hours=3)
    store.prepare_connection(conn)
    store.write(conn, _history(ids, now - timedelta(hours=30), 30 * 60, ids[0], drift_from),
                track_rollups=False, worker="test")  # fmt: skip
    # fitted on every charger in the database: 20 h keep clear of the end-to-end test's faulty day,
    # which ends a day before the hour (a 24 h fit took in its overheating chargers at some hours)
    models = service.fit_learned(conn, drift_from, history=timedelta(hours=20), sample=500)
    assert models[Kind.EV_CHARGER].detector == "KNN"
    since = drift_from
    while since < now:  # one window per cycle, as the service runs it
        since = service.run_learned(conn, models, since, since + WINDOW, context=timedelta(hours=6)).until
    query = "SELECT device_id, type, detector, status, explanation FROM anomalies WHERE device_id = ANY(%s)"
    alarms = conn.execute(query, (ids,)).fetchall()
    assert [(a[0], a[1], a[2], a[3]) for a in alarms] == [
        (ids[0], "unusual_behaviour", "pyod:KNN", "active-unacknowledged")
    ]
    assert "temp" in alarms[0][4]
    # the next cycle over the same windows extends that alarm, never a second one
    service.run_learned(conn, models, drift_from, now, context=timedelta(hours=6))
    assert len(conn.execute(query, (ids,)).fetchall()) == 1
