"""Alarms in the database: one open per (device, type), extended, cleared, raised within seconds."""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics import service, store
from analytics.models import Detection
from analytics.rules import Limits
from core.config import Settings
from core.contract.codec import encode
from core.contract.payloads import ElevatorFault, ElevatorFaultCleared
from core.contract.topics import Channel, Kind
from tests.factories import Device, Fleet, Publisher
from tests.processes import IngestProcess, wait_until

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _entrapment(device_id: str, seen: datetime, cleared: datetime | None = None) -> Detection:
    return Detection(device_id, "entrapment", "rule:event", "critical", T0, seen, cleared, "test")


def _alarms(conn: psycopg.Connection, device_id: str) -> list[tuple[str, datetime, datetime | None]]:
    query = "SELECT status, last_seen, cleared_at FROM anomalies WHERE device_id = %s ORDER BY id"
    return [(r[0], r[1], r[2]) for r in conn.execute(query, (device_id,)).fetchall()]


def test_repeated_detections_extend_one_alarm_and_a_clearing_closes_it(
    conn: psycopg.Connection, fleet: Fleet
) -> None:
    lift = fleet.add(Kind.ELEVATOR)[0].id
    store.record(conn, [_entrapment(lift, T0)])
    store.record(conn, [_entrapment(lift, T0 + timedelta(minutes=2))])
    assert _alarms(conn, lift) == [("active-unacknowledged", T0 + timedelta(minutes=2), None)]
    cleared = T0 + timedelta(minutes=5)
    store.record(conn, [_entrapment(lift, cleared, cleared)])
    assert _alarms(conn, lift) == [("cleared", cleared, cleared)]
    store.record(conn, [_entrapment(lift, cleared, cleared)])  # the same episode read again
    assert len(_alarms(conn, lift)) == 1


def test_concurrent_writers_still_make_one_open_alarm(settings: Settings, fleet: Fleet) -> None:
    lift = fleet.add(Kind.ELEVATOR)[0].id
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as own:
                barrier.wait()
                for k in range(5):
                    store.record(own, [_entrapment(lift, T0 + timedelta(seconds=10 * i + k))])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        (status, last_seen, _), *rest = _alarms(conn, lift)
    assert not rest and status == "active-unacknowledged" and last_seen == T0 + timedelta(seconds=74)


def test_the_database_refuses_a_second_open_alarm(conn: psycopg.Connection, fleet: Fleet) -> None:
    lift = fleet.add(Kind.ELEVATOR)[0].id
    insert = """INSERT INTO anomalies
                    (device_id, community_id, type, detector, severity, first_seen, last_seen)
                VALUES (%s, %s, 'entrapment', 'manual', 'critical', now(), now())"""
    conn.execute(insert, (lift, fleet.community_id))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(insert, (lift, fleet.community_id))


def test_a_cycle_over_stored_events_raises_and_clears(conn: psycopg.Connection, fleet: Fleet) -> None:
    lift = fleet.add(Kind.ELEVATOR)[0].id
    row = (
        "INSERT INTO elevator_events (device_id, ts, boot, seq, event, fault) VALUES (%s, %s, 0, %s, %s, %s)"
    )
    conn.execute(row, (lift, T0, 1, "fault", "entrapment"))
    now = datetime.now(UTC)
    service.run_once(
        conn, service.fast_window_start(conn, now, timedelta(hours=2)), now, fast=True, limits=Limits()
    )
    assert [a[0] for a in _alarms(conn, lift)] == ["active-unacknowledged"]
    conn.execute(row, (lift, T0 + timedelta(minutes=20), 2, "fault_cleared", "entrapment"))
    # the clearing comes long after the fast window: the window reaches back to the open alarm
    service.run_once(conn, service.fast_window_start(conn, now, timedelta(minutes=1)), now, fast=True,
                     limits=Limits())  # fmt: skip
    assert _alarms(conn, lift) == [("cleared", T0 + timedelta(minutes=20), T0 + timedelta(minutes=20))]


def test_a_locker_with_an_overdue_parcel_has_one_alarm_until_it_is_picked_up(
    conn: psycopg.Connection, fleet: Fleet
) -> None:
    waiting, emptied = (d.id for d in fleet.add(Kind.PARCEL_LOCKER, 2))
    limit = Limits().parcel_overdue
    old, now = datetime.now(UTC) - limit - timedelta(hours=3), datetime.now(UTC)
    event = (
        "INSERT INTO parcel_locker_events (device_id, ts, boot, seq, event, compartment, parcel_id)"
        " VALUES (%s, %s, 0, %s, %s, %s, %s)"
    )
    conn.execute(event, (waiting, old, 1, "deposit", 3, "p-1"))
    conn.execute(event, (waiting, now - timedelta(hours=1), 2, "deposit", 4, "p-2"))  # not overdue yet
    conn.execute(event, (emptied, old, 1, "deposit", 1, "p-3"))
    conn.execute(event, (emptied, old + timedelta(hours=5), 2, "pickup", 1, "p-3"))
    service.overdue(conn, now, Limits())
    service.overdue(conn, now, Limits())  # the next cycle extends, never duplicates
    query = (
        "SELECT device_id, status, explanation FROM anomalies"
        " WHERE type = 'parcel_overdue' AND device_id = ANY(%s)"
    )
    assert conn.execute(query, ([waiting, emptied],)).fetchall() == [
        (waiting, "active-unacknowledged", "1 parcels waiting over 48 h")
    ]
    conn.execute(event, (waiting, now, 3, "pickup", 3, "p-1"))
    service.overdue(conn, now + timedelta(minutes=1), Limits())
    assert [r[1] for r in conn.execute(query, ([waiting, emptied],)).fetchall()] == ["cleared"]


def test_compartments_reading_full_without_deposits_raise_one_alarm_cleared_when_they_read_right(
    conn: psycopg.Connection, fleet: Fleet
) -> None:
    faulty, busy = (d.id for d in fleet.add(Kind.PARCEL_LOCKER, 2))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    reading = (
        "INSERT INTO parcel_locker_telemetry (device_id, ts, boot, seq, compartments_total,"
        " compartments_occupied, temperature_c) VALUES (%s, %s, 0, %s, 24, %s, 20)"
    )
    event = (
        "INSERT INTO parcel_locker_events (device_id, ts, boot, seq, event, compartment, parcel_id)"
        " VALUES (%s, %s, 0, %s, %s, %s, %s)"
    )
    for i in range(36):  # every 10 minutes for 6 hours
        t = start + timedelta(minutes=10 * i)
        # three compartments read full from the second to the fourth hour, with nothing deposited
        conn.execute(reading, (faulty, t, i, 5 + (3 if 12 <= i < 24 else 0)))
        # the busy locker fills for real: each step is a deposit reported just before the reading
        if 12 <= i < 24:
            conn.execute(event, (busy, t - timedelta(minutes=2), 100 + i, "deposit", i, f"p-{i}"))
        conn.execute(reading, (busy, t, i, 5 + max(0, min(i, 23) - 11)))
    query = (
        "SELECT device_id, status FROM anomalies"
        " WHERE type = 'compartment_sensor_fault' AND device_id = ANY(%s)"
    )
    during = start + timedelta(hours=3, minutes=5)
    service.phantoms(conn, during, Limits())
    service.phantoms(conn, during + timedelta(minutes=1), Limits())  # the next cycle extends it
    assert conn.execute(query, ([faulty, busy],)).fetchall() == [(faulty, "active-unacknowledged")]
    service.phantoms(conn, start + timedelta(hours=6), Limits())
    assert conn.execute(query, ([faulty, busy],)).fetchall() == [(faulty, "cleared")]


@pytest.mark.slow
def test_an_entrapment_is_a_critical_alarm_seconds_after_ingest(
    settings: Settings, conn: psycopg.Connection, fleet: Fleet, ingest: IngestProcess
) -> None:
    lift, other = fleet.add(Kind.ELEVATOR, 2)
    proc = subprocess.Popen([sys.executable, "-m", "analytics", "run"], env=settings.to_env())
    publisher = Publisher(settings, lift.id, lift.password)
    query = """SELECT a.severity, a.raised_at - e.ingested_at FROM anomalies a
               JOIN elevator_events e ON e.device_id = a.device_id AND e.event = 'fault'
               WHERE a.device_id = %s AND a.type = 'entrapment' AND a.status <> 'cleared'"""

    def trapped(device: Device, publisher: Publisher, when: str) -> None:
        fault = ElevatorFault(ts=datetime.now(UTC), seq=1, fault="entrapment")
        publisher.publish_all([(device.topic(Channel.EVENT), encode(fault))])
        wait_until(
            lambda: conn.execute(query, (device.id,)).fetchone() is not None, timeout=60, what="the alarm"
        )
        severity, delay = conn.execute(query, (device.id,)).fetchone()  # type: ignore[misc]
        print(f"entrapment alarm raised {delay.total_seconds():.2f} s after the event was stored ({when})")
        assert severity == "critical"

    try:
        now = datetime.now(UTC)
        trapped(lift, publisher, "the service just started")
        with closing(Publisher(settings, other.id, other.password)) as second:
            trapped(other, second, "the service running")
        cleared = ElevatorFaultCleared(ts=now + timedelta(seconds=30), seq=2, fault="entrapment")
        publisher.publish_all([(lift.topic(Channel.EVENT), encode(cleared))])
        wait_until(lambda: _alarms(conn, lift.id)[0][0] == "cleared", timeout=60, what="the alarm cleared")
    finally:
        publisher.close()
        proc.terminate()
        proc.wait(30)
