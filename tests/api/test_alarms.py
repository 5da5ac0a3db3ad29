"""The alarm lifecycle on the anomalies table, and its one-open-alarm guarantee in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from core.contract.topics import Kind
from tests.api.conftest import Tenants
from tests.api.helpers import insert_alarm, provision, unique


def test_acknowledge_then_clear_with_who_and_when(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.ELEVATOR, device_ids)["id"]
    alarm = insert_alarm(
        conn,
        device_id=device,
        community_id=tenants.community_a,
        type="entrapment",
        severity="critical",
        first_seen=datetime.now(UTC),
    )
    acked = client.post(f"/v1/alarms/{alarm}/acknowledge", headers=tenants.operator_a)
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "active-acknowledged" and acked.json()["acknowledged_by"].startswith(
        "key:"
    )
    assert acked.json()["acknowledged_at"] and acked.json()["kind"] == "elevator"
    again = client.post(f"/v1/alarms/{alarm}/acknowledge", headers=tenants.operator_a)
    assert again.status_code == 409 and "active-acknowledged" in again.json()["message"]
    cleared = client.post(f"/v1/alarms/{alarm}/clear", headers=tenants.operator_a)
    assert (
        cleared.status_code == 200 and cleared.json()["status"] == "cleared" and cleared.json()["cleared_at"]
    )
    assert client.post(f"/v1/alarms/{alarm}/clear", headers=tenants.operator_a).status_code == 409
    assert client.post(f"/v1/alarms/{alarm}/acknowledge", headers=tenants.operator_a).status_code == 409
    audit = client.get("/v1/audit", params={"target": f"alarm:{alarm}"}, headers=tenants.admin).json()[
        "items"
    ]
    assert [e["action"] for e in audit] == ["alarm.clear", "alarm.acknowledge"]
    assert client.post("/v1/alarms/999999999/clear", headers=tenants.operator_a).status_code == 404


def test_one_open_alarm_per_device_and_type_is_enforced_by_the_database(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.EV_CHARGER, device_ids)["id"]
    at = datetime.now(UTC)
    common = {"device_id": device, "community_id": tenants.community_a, "type": "offline", "first_seen": at}
    first = insert_alarm(conn, severity="major", **common)
    with pytest.raises(psycopg.errors.UniqueViolation):
        insert_alarm(conn, severity="minor", **common)
    insert_alarm(conn, severity="warning", **{**common, "type": "overheat"})  # another type is another alarm
    assert client.post(f"/v1/alarms/{first}/clear", headers=tenants.admin).status_code == 200
    insert_alarm(conn, severity="major", **common)  # after clearing, a new episode may open


def test_filters_and_cursor(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.PARCEL_LOCKER, device_ids)["id"]
    base = datetime(2026, 10, 1, tzinfo=UTC)
    types = [unique("t") for _ in range(5)]
    for i, kind in enumerate(types):
        insert_alarm(
            conn,
            device_id=device,
            community_id=tenants.community_a,
            type=kind,
            severity="minor" if i % 2 else "major",
            first_seen=base + timedelta(hours=i),
            status="cleared" if i == 4 else "active-unacknowledged",
        )
    params = {"device_id": device, "limit": 2}
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            "/v1/alarms",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=tenants.operator_a,
        ).json()
        seen += [a["type"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(types))  # newest first, each once

    def query(**filters: str) -> list[str]:
        response = client.get(
            "/v1/alarms", params={"device_id": device, **filters}, headers=tenants.operator_a
        )
        assert response.status_code == 200, response.text
        return [a["type"] for a in response.json()["items"]]

    assert query(severity="minor") == [types[3], types[1]]
    assert query(status="cleared") == [types[4]]
    assert query(type=types[2]) == [types[2]]
    assert query(kind="parcel_locker", until=(base + timedelta(hours=1)).isoformat()) == [types[0]]
    assert query(since=(base + timedelta(hours=3)).isoformat()) == [types[4], types[3]]
    assert query(kind="elevator") == []
    assert query(community_id=tenants.community_a, severity="major", status="active-unacknowledged") == [
        types[2],
        types[0],
    ]
