"""KPIs of one community-day on crafted data, checked against figures worked out by hand."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from core.contract.topics import Kind
from tests.api.conftest import Tenants
from tests.api.helpers import insert_alarm, insert_telemetry, provision, unique

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 10, 12, tzinfo=LOCAL)  # local midnight, 16:00 UTC the day before


def _event(
    conn: psycopg.Connection, table: str, device: str, at: datetime, seq: int, **fields: object
) -> None:
    columns = ", ".join(["device_id", "ts", "boot", "seq", *fields])
    marks = ", ".join(["%s"] * (4 + len(fields)))
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", (device, at, 0, seq, *fields.values()))  # noqa: S608


def test_day_kpis(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    body = {"id": unique("kpi"), "name": "指标小区", "district": "西陵区", "lat": 30.7, "lon": 111.3}
    community = client.post("/v1/communities", json=body, headers=tenants.operator_a).json()["id"]
    made = {
        kind: provision(client, tenants.operator_a, community, kind, device_ids)["id"]
        for kind in (Kind.EV_CHARGER, Kind.PARKING_SPACE, Kind.PARCEL_LOCKER, Kind.ELEVATOR)
    }
    # The devices were there before the day (their history is written below).
    conn.execute(
        "UPDATE devices SET created_at = %s WHERE community_id = %s", (DAY - timedelta(days=30), community)
    )
    # Charger: 12 hours, one sample an hour, Charging 3 of 12; energy register 100 -> 111.
    insert_telemetry(
        conn,
        Kind.EV_CHARGER,
        made[Kind.EV_CHARGER],
        [
            {"ts": DAY + timedelta(hours=h), "seq": h, "status": "Charging" if h < 3 else "Available",
             "energy_kwh": 100.0 + h, "voltage_v": 230.0, "temperature_c": 25.0}
            for h in range(12)
        ],
    )  # fmt: skip
    # Parking space: occupied in local hours 8 and 9 (two samples each, one occupied in hour 9).
    insert_telemetry(
        conn,
        Kind.PARKING_SPACE,
        made[Kind.PARKING_SPACE],
        [
            {"ts": DAY + timedelta(hours=8), "seq": 1, "occupied": True, "battery_pct": 90.0},
            {"ts": DAY + timedelta(hours=8, minutes=30), "seq": 2, "occupied": True, "battery_pct": 90.0},
            {"ts": DAY + timedelta(hours=9), "seq": 3, "occupied": True, "battery_pct": 90.0},
            {"ts": DAY + timedelta(hours=9, minutes=30), "seq": 4, "occupied": False, "battery_pct": 90.0},
        ],
    )
    # Locker: 10 compartments, 2 then 4 occupied -> mean fill 0.3; sent in 2 hours.
    insert_telemetry(
        conn,
        Kind.PARCEL_LOCKER,
        made[Kind.PARCEL_LOCKER],
        [
            {"ts": DAY + timedelta(hours=1), "seq": 1, "compartments_total": 10, "compartments_occupied": 2},
            {"ts": DAY + timedelta(hours=2), "seq": 2, "compartments_total": 10, "compartments_occupied": 4},
        ],
    )
    locker = made[Kind.PARCEL_LOCKER]
    # Deposited 3 days before the day ends: one picked up, one not (overdue), one too recent.
    _event(conn, "parcel_locker_events", locker, DAY - timedelta(days=2), 10, event="deposit", parcel_id="p1")
    _event(conn, "parcel_locker_events", locker, DAY - timedelta(days=2), 11, event="deposit", parcel_id="p2")
    _event(
        conn, "parcel_locker_events", locker, DAY + timedelta(hours=3), 12, event="deposit", parcel_id="p3"
    )
    _event(conn, "parcel_locker_events", locker, DAY + timedelta(hours=4), 13, event="pickup", parcel_id="p1")
    lift = made[Kind.ELEVATOR]
    for i in range(5):
        _event(conn, "elevator_events", lift, DAY + timedelta(hours=10, minutes=i), i, event="trip")
    _event(conn, "elevator_events", lift, DAY + timedelta(hours=11), 9, event="fault", fault="entrapment")
    _event(conn, "elevator_events", lift, DAY - timedelta(minutes=1), 8, event="trip")  # the day before
    for i, severity in enumerate(("critical", "major", "major")):
        alarm = insert_alarm(
            conn,
            device_id=lift,
            community_id=community,
            type=f"t{i}",
            severity=severity,
            first_seen=DAY + timedelta(hours=11),
        )
        if i < 2:  # acknowledged after 60 s and 180 s: median 120 s
            conn.execute(
                "UPDATE anomalies SET status = 'active-acknowledged', acknowledged_at = first_seen + %s"
                " WHERE id = %s",
                (timedelta(seconds=60 if i == 0 else 180), alarm),
            )

    response = client.get(
        f"/v1/communities/{community}/kpis", params={"day": "2026-10-12"}, headers=tenants.operator_a
    )
    assert response.status_code == 200, response.text
    kpis = response.json()
    assert kpis["devices"] == 4
    # device-hours with telemetry: charger 12 + space 2 + locker 2 + elevator 0 = 16 of 4 x 24
    assert kpis["availability"] == 16 / 96
    assert kpis["charger_utilisation"] == 0.25 and kpis["charger_energy_kwh"] == 11.0
    occupancy = kpis["parking_occupancy_by_hour"]
    assert occupancy[8] == 1.0 and occupancy[9] == 0.5 and occupancy.count(None) == 22
    assert kpis["locker_fill"] == pytest.approx(0.3) and kpis["parcels_overdue"] == 1
    assert (kpis["elevator_trips"], kpis["elevator_faults"]) == (5, 1)
    assert kpis["alarms_raised"] == 3
    assert kpis["alarms_by_severity"] == {"critical": 1, "major": 2, "minor": 0, "warning": 0}
    assert kpis["median_time_to_acknowledge_s"] == 120.0
    other = client.get(
        f"/v1/communities/{community}/kpis", params={"day": "2026-10-12"}, headers=tenants.operator_b
    )
    assert other.status_code == 404


def test_monthly_bulletin(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    body = {"id": unique("report"), "name": "学院街小区", "district": "西陵区", "lat": 30.7, "lon": 111.3}
    community = client.post("/v1/communities", json=body, headers=tenants.operator_a).json()["id"]
    lift = provision(client, tenants.operator_a, community, Kind.ELEVATOR, device_ids)["id"]
    conn.execute("UPDATE devices SET created_at = %s WHERE id = %s", (DAY - timedelta(days=30), lift))
    for day in range(3):
        for i in range(4 + day):
            at = DAY + timedelta(days=day, hours=8, minutes=i)
            _event(conn, "elevator_events", lift, at, 100 * day + i, event="trip")
    insert_alarm(
        conn, device_id=lift, community_id=community, type="entrapment", severity="critical", first_seen=DAY
    )
    response = client.get(f"/v1/communities/{community}/reports/2026-10", headers=tenants.operator_a)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "学院街小区 运维月通报 2026年10月" in page
    assert "<th>电梯运行 Elevator trips</th><td>15</td>" in page  # 4 + 5 + 6
    assert "<th>告警 Alarms raised</th><td>1</td>" in page
    png = base64.b64decode(page.split("data:image/png;base64,")[1].split('"')[0])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert (
        client.get(f"/v1/communities/{community}/reports/2026-10", headers=tenants.operator_b).status_code
        == 404
    )
    assert (
        client.get(f"/v1/communities/{community}/reports/2026-13", headers=tenants.operator_a).status_code
        == 422
    )
