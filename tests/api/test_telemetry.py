"""Latest state, bucketed series and CSV export over rows written as ingest writes them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from core.contract.topics import Channel, Kind
from core.db.tables import DEVICE_TABLES
from tests.api.conftest import Tenants
from tests.api.helpers import insert_telemetry, provision

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _charger_rows(n: int) -> list[dict[str, object]]:
    """One row a minute; power_kw = minute index, status Charging on even minutes."""
    return [
        {
            "ts": T0 + timedelta(minutes=i),
            "seq": i,
            "status": "Charging" if i % 2 == 0 else "Available",
            "power_kw": float(i),
            "energy_kwh": 100.0 + i,
            "voltage_v": 230.0,
            "temperature_c": 30.0,
        }
        for i in range(n)
    ]


def test_latest_state_is_the_newest_row_and_status(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.operator_a, tenants.community_a, Kind.EV_CHARGER, device_ids)["id"]
    empty = client.get(f"/v1/devices/{device}/latest", headers=tenants.operator_a).json()
    assert empty["ts"] is None and empty["values"] == {} and empty["status"] is None
    insert_telemetry(conn, Kind.EV_CHARGER, device, _charger_rows(90))
    conn.execute(
        "INSERT INTO device_status (device_id, ts, boot, seq, state, firmware)"
        " VALUES (%s, %s, 0, 1000, 'online', '1.2')",
        (device, T0),
    )
    latest = client.get(f"/v1/devices/{device}/latest", headers=tenants.operator_a).json()
    assert datetime.fromisoformat(latest["ts"]) == T0 + timedelta(minutes=89)
    assert latest["values"]["power_kw"] == 89.0 and latest["values"]["status"] == "Available"
    assert latest["status"]["state"] == "online" and latest["status"]["firmware"] == "1.2"
    community = client.get(
        f"/v1/communities/{tenants.community_a}/latest",
        params={"kind": "ev_charger"},
        headers=tenants.operator_a,
    ).json()
    assert {d["device_id"]: d["values"]["power_kw"] for d in community}[device] == 89.0


def test_series_buckets_and_aggregates(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.EV_CHARGER, device_ids)["id"]
    insert_telemetry(conn, Kind.EV_CHARGER, device, _charger_rows(90))
    path = f"/v1/devices/{device}/series"
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=2)).isoformat()}
    hourly = client.get(path, params={**window, "field": "power_kw", "bucket": "1h"}, headers=tenants.admin)
    assert hourly.status_code == 200, hourly.text
    points = hourly.json()["points"]
    # minutes 0..59 average 29.5; 60..89 average 74.5
    assert [(p["t"][:16], p["value"]) for p in points] == [
        ("2026-11-01T08:00", 29.5),
        ("2026-11-01T09:00", 74.5),
    ]
    peak = client.get(
        path, params={**window, "field": "power_kw", "bucket": "30m", "agg": "max"}, headers=tenants.admin
    )
    assert [p["value"] for p in peak.json()["points"]] == [29.0, 59.0, 89.0]
    minutes = client.get(
        path, params={**window, "field": "power_kw", "bucket": "1m"}, headers=tenants.admin
    ).json()
    assert len(minutes["points"]) == 90 and minutes["bucket_s"] == 60


def test_series_refuses_too_many_points_and_unknown_fields(
    client: TestClient, tenants: Tenants, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.PARKING_SPACE, device_ids)["id"]
    path = f"/v1/devices/{device}/series"
    year = {"start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
    too_many = client.get(
        path, params={**year, "field": "battery_pct", "bucket": "1m"}, headers=tenants.admin
    )
    assert too_many.status_code == 422 and "at most 5000" in too_many.json()["message"]
    ok = client.get(path, params={**year, "field": "occupied", "bucket": "1d"}, headers=tenants.admin)
    assert ok.status_code == 200
    unknown = client.get(path, params={**year, "field": "power_kw", "bucket": "1d"}, headers=tenants.admin)
    assert unknown.status_code == 422 and "occupied" in unknown.json()["message"]
    backwards = {"start": year["end"], "end": year["start"], "field": "occupied"}
    assert client.get(path, params=backwards, headers=tenants.admin).status_code == 422
    naive = {"start": "2025-01-01T00:00:00", "end": "2025-01-02T00:00:00", "field": "occupied"}
    assert client.get(path, params=naive, headers=tenants.admin).status_code == 422


def test_another_companys_device_is_not_found_whatever_the_field(
    client: TestClient, tenants: Tenants, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.PARKING_SPACE, device_ids)["id"]
    path = f"/v1/devices/{device}/series"
    day = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    for field in ("occupied", "power_kw"):  # its own field, and one only a charger has
        answer = client.get(path, params={**day, "field": field}, headers=tenants.operator_b)
        assert answer.status_code == 404 and "series" not in answer.text
    assert client.get(f"/v1/devices/{device}/latest", headers=tenants.operator_b).status_code == 404


def test_reads_follow_a_device_kind_that_changed(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.EV_CHARGER, device_ids)["id"]
    insert_telemetry(conn, Kind.EV_CHARGER, device, _charger_rows(2))
    path = f"/v1/devices/{device}/latest"
    assert client.get(path, headers=tenants.admin).json()["kind"] == "ev_charger"  # now remembered
    conn.execute("UPDATE devices SET kind = 'parking_space' WHERE id = %s", (device,))
    insert_telemetry(conn, Kind.PARKING_SPACE, device, [{"ts": T0, "seq": 0, "occupied": True}])
    latest = client.get(path, headers=tenants.admin).json()
    assert latest["kind"] == "parking_space" and latest["values"]["occupied"] is True


def test_csv_export_streams_every_row(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.EV_CHARGER, device_ids)["id"]
    insert_telemetry(conn, Kind.EV_CHARGER, device, _charger_rows(2500))  # more than one batch
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(days=3)).isoformat()}
    with client.stream(
        "GET", f"/v1/devices/{device}/telemetry.csv", params=params, headers=tenants.admin
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        text = "".join(response.iter_text())
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == DEVICE_TABLES[(Kind.EV_CHARGER, Channel.TELEMETRY)].columns
    assert len(rows) == 2501
    assert rows[1][1] == T0.isoformat() and rows[-1][1] == (T0 + timedelta(minutes=2499)).isoformat()
