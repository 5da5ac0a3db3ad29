"""Parking sensors stuck reading occupied, caught by what they contradict (crafted data, real database)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics import service
from analytics.recent import Recent
from analytics.rules import Limits
from core.contract.topics import Kind
from core.registry import service as registry
from tests.factories import Fleet

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
READING = (
    "INSERT INTO parking_space_telemetry (device_id, ts, boot, seq, occupied, battery_pct, rssi_dbm)"
    " VALUES (%s, %s, 0, %s, %s, 80, -70)"
)
PASSAGE = (
    "INSERT INTO parking_gate_events (device_id, ts, boot, seq, event, direction, plate_hash, lane)"
    " VALUES (%s, %s, 0, %s, 'passage', %s, %s, 0)"
)
BEAT = (
    "INSERT INTO parking_gate_telemetry (device_id, ts, boot, seq, barrier) VALUES (%s, %s, 0, %s, 'closed')"
)


class Yard:
    """A community's spaces with sensors, and a gate whose heartbeat runs over the last days."""

    def __init__(self, conn: psycopg.Connection, fleet: Fleet) -> None:
        self.conn, self.fleet, self.seq = conn, fleet, 0
        self.gate = fleet.add(Kind.PARKING_GATE)[0].id
        t = NOW - timedelta(days=3)
        while t <= NOW:
            self._insert(BEAT, self.gate, t)
            t += timedelta(minutes=10)

    def _insert(self, query: str, *values: object) -> None:
        self.seq += 1
        self.conn.execute(query, (values[0], values[1], self.seq, *values[2:]))

    def space(self, space_type: str, availability: Sequence[Mapping[str, str]] = ()) -> str:
        sensor = self.fleet.add(Kind.PARKING_SPACE)[0].id
        registry.add_parking_space(
            self.conn, id=f"ps-{secrets.token_hex(4)}", community_id=self.fleet.community_id, label="P",
            space_type=space_type, sensor_device_id=sensor, availability=availability,
        )  # fmt: skip
        return sensor

    def reads(self, sensor: str, changes: Sequence[tuple[datetime, bool]], until: datetime = NOW) -> None:
        """Changes as the sensor reports them, plus a heartbeat every 30 minutes in between."""
        for (t, occupied), following in zip(changes, [*(c[0] for c in changes[1:]), until], strict=True):
            while t < following:
                self._insert(READING, sensor, t, occupied)
                t += timedelta(minutes=30)

    def passes(self, direction: str, plate: str, t: datetime) -> None:
        self._insert(PASSAGE, self.gate, t, direction, plate)


@pytest.fixture
def yard(conn: psycopg.Connection, fleet: Fleet) -> Iterator[Yard]:
    yield Yard(conn, fleet)
    conn.execute("DELETE FROM parking_spaces WHERE community_id = %s", (fleet.community_id,))


def _alarms(conn: psycopg.Connection, sensor: str) -> list[tuple[str, str]]:
    query = (
        "SELECT status, explanation FROM anomalies WHERE device_id = %s AND type = 'sensor_stuck' ORDER BY id"
    )
    return [(r[0], r[1]) for r in conn.execute(query, (sensor,)).fetchall()]


def test_a_home_space_reading_occupied_after_its_car_went_out_is_stuck_until_it_reads_free(
    conn: psycopg.Connection, yard: Yard
) -> None:
    home, neighbour = yard.space("resident"), yard.space("resident")
    plate, other = secrets.token_hex(8), secrets.token_hex(8)
    day = NOW - timedelta(days=3)
    changes: list[tuple[datetime, bool]] = [(day - timedelta(hours=1), True)]
    for d in range(2):  # two days of commuting: out in the morning, back in the evening
        morning, evening = day + timedelta(days=d, hours=1), day + timedelta(days=d, hours=11)
        changes += [(morning, False), (evening + timedelta(minutes=2), True)]
        yard.passes("out", plate, morning + timedelta(minutes=2))
        yard.passes("in", plate, evening)
    # the neighbour's car leaves and comes back through the same gate, its sensor seeing it
    yard.reads(neighbour, [(day - timedelta(hours=1), True), (day + timedelta(hours=5), False),
                           (day + timedelta(hours=6, minutes=3), True)])  # fmt: skip
    yard.passes("out", other, day + timedelta(hours=5, minutes=2))
    yard.passes("in", other, day + timedelta(hours=6))
    # on the third morning the car goes out, and the sensor goes on reading occupied
    gone = day + timedelta(days=2, hours=1)
    yard.passes("out", plate, gone + timedelta(minutes=2))
    yard.reads(home, changes, until=NOW - timedelta(hours=2))
    yard.reads(home, [(NOW - timedelta(hours=2), True)], until=NOW)  # still the same stuck reading
    # as the service runs it: the days read once, then only the readings stored since
    rows = Recent(reread=timedelta(minutes=1))
    service.stuck(conn, NOW, Limits(), rows.frames)
    service.stuck(conn, NOW + timedelta(minutes=15), Limits(), rows.frames)  # seen again: the same alarm
    [(status, why)] = _alarms(conn, home)
    assert status == "active-unacknowledged" and "went out through the gate" in why
    assert _alarms(conn, neighbour) == []
    yard.reads(home, [(NOW + timedelta(minutes=20), False)], until=NOW + timedelta(minutes=21))
    service.stuck(conn, NOW + timedelta(minutes=30), Limits(), rows.frames)
    assert [s for s, _ in _alarms(conn, home)] == ["cleared"]


def test_a_space_turning_occupied_with_no_car_through_the_gate_is_stuck(
    conn: psycopg.Connection, yard: Yard
) -> None:
    phantom, visited = yard.space("public"), yard.space("public")
    t = NOW - timedelta(hours=4)
    yard.reads(phantom, [(NOW - timedelta(days=1), False), (t, True)])
    # a visitor: through the gate two minutes before the space turns occupied
    yard.passes("in", secrets.token_hex(8), t + timedelta(minutes=30))
    yard.reads(visited, [(NOW - timedelta(days=1), False), (t + timedelta(minutes=32), True)])
    service.stuck(conn, NOW, Limits())
    [(status, why)] = _alarms(conn, phantom)
    assert status == "active-unacknowledged" and "no car through the gate" in why
    assert _alarms(conn, visited) == []


def test_no_car_through_a_gate_that_reports_a_fault_proves_nothing(
    conn: psycopg.Connection, yard: Yard
) -> None:
    space = yard.space("public")
    fault = (
        "INSERT INTO parking_gate_events (device_id, ts, boot, seq, event, code)"
        " VALUES (%s, %s, 0, %s, 'fault', 'camera_fault')"
    )
    yard.conn.execute(fault, (yard.gate, NOW - timedelta(hours=5), 10**6))  # not cleared yet
    yard.reads(space, [(NOW - timedelta(days=1), False), (NOW - timedelta(hours=4), True)])
    service.stuck(conn, NOW, Limits())
    assert _alarms(conn, space) == []


def test_spaces_occupied_past_their_hours_or_longer_than_any_visit_are_stuck(
    conn: psycopg.Connection, yard: Yard
) -> None:
    night = [{"days": "daily", "start": "19:00", "end": "07:00"}]
    street, public, short = yard.space("street", night), yard.space("public"), yard.space("public")
    # every car passed the gate: only the hours and the length of the stay give them away
    for sensor in (street, public):
        yard.passes("in", secrets.token_hex(8), NOW - timedelta(hours=40, minutes=2))
        yard.reads(sensor, [(NOW - timedelta(days=3), False), (NOW - timedelta(hours=40), True)])
    yard.passes("in", secrets.token_hex(8), NOW - timedelta(hours=3, minutes=2))
    yard.reads(short, [(NOW - timedelta(days=3), False), (NOW - timedelta(hours=3), True)])
    service.stuck(conn, NOW, Limits())
    assert "after its hours ended" in _alarms(conn, street)[0][1]
    assert "longer than any visit" in _alarms(conn, public)[0][1]
    assert _alarms(conn, short) == []


def test_a_visitors_space_reading_occupied_after_the_visitor_went_out_is_stuck(
    conn: psycopg.Connection, yard: Yard
) -> None:
    stuck, fine = yard.space("public"), yard.space("public")
    visitor, other = secrets.token_hex(8), secrets.token_hex(8)
    came = NOW - timedelta(hours=5)
    yard.passes("in", visitor, came)
    yard.passes("out", visitor, came + timedelta(hours=2))  # and its space never turned free
    yard.reads(stuck, [(NOW - timedelta(days=1), False), (came + timedelta(minutes=2), True)])
    yard.passes("in", other, came + timedelta(hours=1))
    yard.passes("out", other, came + timedelta(hours=3))
    yard.reads(fine, [(NOW - timedelta(days=1), False), (came + timedelta(hours=1, minutes=2), True),
                      (came + timedelta(hours=2, minutes=58), False)])  # fmt: skip
    service.stuck(conn, NOW, Limits())
    [(status, why)] = _alarms(conn, stuck)
    assert status == "active-unacknowledged" and "went out through the gate" in why
    assert _alarms(conn, fine) == []


def test_a_car_that_parked_elsewhere_does_not_explain_a_space_turning_occupied(
    conn: psycopg.Connection, yard: Yard
) -> None:
    phantom, visited = yard.space("public"), yard.space("public")
    plate, t = secrets.token_hex(8), NOW - timedelta(hours=5)
    # one car comes in, and two spaces turn occupied within minutes: the car's whole stay (in,
    # then out as the visited space turns free) says which one it parked in
    yard.passes("in", plate, t - timedelta(minutes=2))
    yard.passes("out", plate, t + timedelta(hours=2, minutes=2))
    yard.reads(visited, [(NOW - timedelta(days=1), False), (t - timedelta(minutes=1), True),
                         (t + timedelta(hours=2), False)])  # fmt: skip
    yard.reads(phantom, [(NOW - timedelta(days=1), False), (t, True)])
    service.stuck(conn, NOW, Limits())
    [(status, why)] = _alarms(conn, phantom)
    assert status == "active-unacknowledged" and "no car through the gate" in why
    assert _alarms(conn, visited) == []


def test_a_change_first_read_after_a_silent_spell_is_no_car(conn: psycopg.Connection, yard: Yard) -> None:
    space = yard.space("public")
    # the sensor went quiet for two hours; the car it reads when heard again came meanwhile,
    # at a moment nobody knows, so the gate cannot be asked about it
    yard.reads(space, [(NOW - timedelta(days=1), False)], until=NOW - timedelta(hours=6))
    yard.reads(space, [(NOW - timedelta(hours=4), True)])
    service.stuck(conn, NOW, Limits())
    assert _alarms(conn, space) == []
