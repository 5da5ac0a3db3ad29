"""The parking tick: gate passages check cars in and out, no-shows release their space, and the
booking after an overstay moves to another space or is marked at risk."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.service import parking_live
from core.config import Settings
from tests.api.conftest import Tenants
from tests.api.parking import LOCAL, Lot, add_space, book, insert_booking, lot, tomorrow


@pytest.fixture
def place(conn: psycopg.Connection, tenants: Tenants) -> Iterator[Lot]:
    with lot(conn, tenants, spaces=0) as made:
        yield made


def _book(client: TestClient, place: Lot, arrival: datetime, departure: datetime, **extra: object) -> dict:
    made = book(client, place, arrival, departure, **extra)
    assert made.status_code == 201, made.text
    return made.json()


def _get(client: TestClient, place: Lot, booking: dict) -> dict:
    return client.get(f"/v1/parking/bookings/{booking['id']}", headers=place.app).json()


def test_a_no_show_releases_the_space(
    client: TestClient, place: Lot, conn: psycopg.Connection, settings: Settings
) -> None:
    add_space(conn, place.community)
    booking = _book(client, place, tomorrow(9), tomorrow(12))
    parking_live.tick(conn, settings, now=tomorrow(9, 19))
    assert _get(client, place, booking)["status"] == "booked", "still inside the 20-minute grace"
    done = parking_live.tick(conn, settings, now=tomorrow(9, 21))
    assert done["no_show"] >= 1
    assert _get(client, place, booking)["status"] == "no_show"
    _book(client, place, tomorrow(10), tomorrow(11))  # the space is free again


def test_gate_passages_check_in_and_out_by_plate(
    client: TestClient, place: Lot, conn: psycopg.Connection, settings: Settings
) -> None:
    add_space(conn, place.community)
    plate = secrets.token_hex(16)
    booking = _book(client, place, tomorrow(9), tomorrow(12), plate_hash=plate)
    gate = f"{place.community}-gate"
    conn.execute(
        "INSERT INTO devices (id, community_id, kind) VALUES (%s, %s, 'parking_gate')",
        (gate, place.community),
    )
    passage = """INSERT INTO parking_gate_events (device_id, ts, boot, seq, event, direction, plate_hash,
                     lane) VALUES (%s, %s, 0, %s, 'passage', %s, %s, 1)"""
    try:
        conn.execute(passage, (gate, tomorrow(8, 55), 1, "in", secrets.token_hex(16)))  # someone else
        conn.execute(passage, (gate, tomorrow(8, 57), 2, "in", plate))
        parking_live.tick(conn, settings, now=tomorrow(9, 30))
        inside = _get(client, place, booking)
        assert inside["status"] == "checked_in" and inside["checked_in_at"].startswith(
            str(tomorrow(8, 57).date())
        )
        conn.execute(passage, (gate, tomorrow(11, 40), 3, "out", plate))
        parking_live.tick(conn, settings, now=tomorrow(11, 45))
        parking_live.tick(conn, settings, now=tomorrow(11, 46))  # a passage is used once
        assert _get(client, place, booking)["status"] == "completed"
        changes = conn.execute(
            "SELECT change FROM parking_booking_changes WHERE booking_id = %s ORDER BY id", (booking["id"],)
        ).fetchall()
        assert [c[0] for c in changes] == ["checked_in", "checked_out"]
    finally:
        conn.execute("DELETE FROM parking_gate_matches WHERE device_id = %s", (gate,))
        conn.execute("DELETE FROM parking_gate_events WHERE device_id = %s", (gate,))
        conn.execute("DELETE FROM devices WHERE id = %s", (gate,))


def test_an_overstay_moves_the_next_booking(
    client: TestClient, place: Lot, conn: psycopg.Connection, settings: Settings
) -> None:
    first_space = add_space(conn, place.community)
    staying = _book(client, place, tomorrow(9), tomorrow(12))
    following = _book(client, place, tomorrow(12, 30), tomorrow(14))
    assert following["space_id"] == first_space
    other = add_space(conn, place.community)
    client.post(f"/v1/parking/bookings/{staying['id']}/check-in", headers=place.app)
    parking_live.tick(conn, settings, now=tomorrow(11, 50))
    assert _get(client, place, following)["space_id"] == first_space, "nobody has overstayed yet"
    done = parking_live.tick(conn, settings, now=tomorrow(12, 10))
    assert done.get("moved") == 1
    moved = _get(client, place, following)
    assert moved["space_id"] == other and moved["notice"] == "moved:overstay" and moved["status"] == "booked"


def test_an_overstay_with_no_other_space_marks_the_next_booking(
    client: TestClient, place: Lot, conn: psycopg.Connection, settings: Settings
) -> None:
    add_space(conn, place.community)
    staying = _book(client, place, tomorrow(9), tomorrow(12))
    following = _book(client, place, tomorrow(12, 30), tomorrow(14))
    client.post(f"/v1/parking/bookings/{staying['id']}/check-in", headers=place.app)
    assert parking_live.tick(conn, settings, now=tomorrow(12, 10)).get("at_risk") == 1
    assert parking_live.tick(conn, settings, now=tomorrow(12, 11)).get("at_risk") is None, "marked once"
    marked = _get(client, place, following)
    assert marked["notice"] == "at_risk:overstay" and marked["status"] == "booked"


def test_a_sensor_still_occupied_after_departure_is_an_overstay(
    client: TestClient, place: Lot, conn: psycopg.Connection, settings: Settings
) -> None:
    sensor = f"{place.community}-ps1"
    conn.execute(
        "INSERT INTO devices (id, community_id, kind) VALUES (%s, %s, 'parking_space')",
        (sensor, place.community),
    )
    space = add_space(conn, place.community)
    conn.execute("UPDATE parking_spaces SET sensor_device_id = %s WHERE id = %s", (sensor, space))
    try:
        staying = _book(client, place, tomorrow(9), tomorrow(12))
        following = _book(client, place, tomorrow(12, 30), tomorrow(14))
        path = f"/v1/parking/bookings/{staying['id']}"
        client.post(f"{path}/check-in", headers=place.app)
        client.post(f"{path}/check-out", headers=place.app)  # the app says so; the sensor does not
        conn.execute(
            "INSERT INTO parking_space_telemetry (device_id, ts, boot, seq, occupied, battery_pct)"
            " VALUES (%s, %s, 0, 1, true, 90)",
            (sensor, tomorrow(12, 5)),
        )
        assert (
            parking_live.tick(conn, settings, now=tomorrow(12, 10) + timedelta(seconds=1)).get("at_risk") == 1
        )
        assert _get(client, place, following)["notice"] == "at_risk:overstay"
    finally:
        conn.execute("UPDATE parking_spaces SET sensor_device_id = NULL WHERE id = %s", (space,))
        conn.execute("DELETE FROM parking_space_telemetry WHERE device_id = %s", (sensor,))
        conn.execute("DELETE FROM devices WHERE id = %s", (sensor,))


def test_bookings_go_on_while_an_overstay_waits_for_the_tick(
    client: TestClient, place: Lot, conn: psycopg.Connection
) -> None:
    # a car still in past its departure holds its space a while longer in the engine's view,
    # up to the next booking there (the tick moves that one or marks it at risk)
    space = add_space(conn, place.community)
    now = datetime.now(LOCAL).replace(second=0, microsecond=0)
    staying = insert_booking(conn, place, space, now - timedelta(hours=3), now - timedelta(minutes=5))
    conn.execute(
        "UPDATE parking_bookings SET status = 'checked_in', checked_in_at = arrival WHERE id = %s", (staying,)
    )
    insert_booking(conn, place, space, now + timedelta(minutes=20), now + timedelta(hours=2))
    later = book(client, place, now + timedelta(hours=3), now + timedelta(hours=4))
    assert later.status_code == 201, later.text
    between = book(client, place, now, now + timedelta(minutes=10))
    assert between.status_code == 409 and between.json()["reason"] == "full", between.text
