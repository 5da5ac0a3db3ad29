"""Communities, buildings and devices through the API; device accounts really change in the broker."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.contract.topics import Kind
from tests.api.conftest import Tenants
from tests.api.helpers import provision, unique
from tests.factories import Publisher


def _login_works(settings: Settings, username: str, password: str) -> bool:
    """Whether the broker accepts this device login."""
    publisher = Publisher(settings, username, password)
    try:
        return publisher.refused is None
    finally:
        publisher.close()


def test_community_lifecycle_and_pagination(client: TestClient, tenants: Tenants) -> None:
    district = unique("区")
    ids = sorted(unique("page") for _ in range(3))
    for community_id in ids:
        body = {"id": community_id, "name": "小区", "district": district, "lat": 30.7, "lon": 111.3}
        assert client.post("/v1/communities", json=body, headers=tenants.operator_a).status_code == 201
    duplicate = {"id": ids[0], "name": "小区", "district": district, "lat": 30.7, "lon": 111.3}
    assert client.post("/v1/communities", json=duplicate, headers=tenants.operator_a).status_code == 409
    first = client.get(
        "/v1/communities", params={"district": district, "limit": 2}, headers=tenants.operator_a
    )
    assert [c["id"] for c in first.json()["items"]] == ids[:2] and first.json()["next_cursor"]
    params = {"district": district, "limit": 2, "cursor": first.json()["next_cursor"]}
    second = client.get("/v1/communities", params=params, headers=tenants.operator_a).json()
    assert [c["id"] for c in second["items"]] == ids[2:] and second["next_cursor"] is None
    changed = client.patch(
        f"/v1/communities/{ids[0]}",
        json={"name": "学院街小区", "site_power_limit_kw": 250},
        headers=tenants.operator_a,
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["site_power_limit_kw"]) == ("学院街小区", 250)
    gone = client.delete(f"/v1/communities/{ids[0]}", headers=tenants.operator_a)
    assert gone.status_code == 200 and gone.json()["decommissioned_at"]
    assert client.delete(f"/v1/communities/{ids[0]}", headers=tenants.operator_a).status_code == 404
    listed = client.get("/v1/communities", params={"district": district}, headers=tenants.operator_a).json()
    assert ids[0] not in {c["id"] for c in listed["items"]}
    params = {"district": district, "include_decommissioned": True}
    listed = client.get("/v1/communities", params=params, headers=tenants.operator_a).json()
    assert ids[0] in {c["id"] for c in listed["items"]}


def test_building_must_be_in_the_devices_community(
    client: TestClient, tenants: Tenants, device_ids: list[str]
) -> None:
    building = unique("bld")
    body = {"id": building, "community_id": tenants.community_a, "name": "5栋", "floors": 6, "households": 24}
    assert client.post("/v1/buildings", json=body, headers=tenants.admin).status_code == 201
    other = unique("bld")
    body = {"id": other, "community_id": tenants.community_b, "name": "1栋", "floors": 6}
    assert client.post("/v1/buildings", json=body, headers=tenants.admin).status_code == 201
    device = provision(
        client, tenants.admin, tenants.community_a, Kind.ELEVATOR, device_ids, building_id=building
    )
    assert device["building_id"] == building
    moved = client.patch(f"/v1/devices/{device['id']}", json={"building_id": other}, headers=tenants.admin)
    assert moved.status_code == 422 and "not in community" in moved.json()["message"]
    blocked = client.delete(f"/v1/buildings/{building}", headers=tenants.admin)
    assert blocked.status_code == 409 and "active devices" in blocked.json()["message"]
    detached = client.patch(f"/v1/devices/{device['id']}", json={"building_id": None}, headers=tenants.admin)
    assert detached.status_code == 200 and detached.json()["building_id"] is None
    assert client.delete(f"/v1/buildings/{building}", headers=tenants.admin).status_code == 200


def test_device_credentials_are_created_rotated_revoked_and_removed_in_the_broker(
    client: TestClient, tenants: Tenants, settings: Settings, device_ids: list[str]
) -> None:
    device = provision(client, tenants.operator_a, tenants.community_a, Kind.EV_CHARGER, device_ids)
    creds = device["credentials"]
    assert creds["username"] == device["id"]
    assert creds["topic_filter"] == f"community/{tenants.community_a}/ev_charger/{device['id']}/+"
    assert _login_works(settings, creds["username"], creds["password"])
    path = f"/v1/devices/{device['id']}"
    assert "credentials" not in client.get(path, headers=tenants.operator_a).json()

    rotated = client.post(f"{path}/credentials", headers=tenants.operator_a)
    assert rotated.status_code == 200
    new_password = rotated.json()["password"]
    assert new_password != creds["password"]
    assert not _login_works(settings, creds["username"], creds["password"])
    assert _login_works(settings, creds["username"], new_password)

    revoked = client.delete(f"{path}/credentials", headers=tenants.operator_a)
    assert revoked.status_code == 200 and revoked.json()["credentials_revoked_at"]
    assert not _login_works(settings, creds["username"], new_password)

    reissued = client.post(f"{path}/credentials", headers=tenants.operator_a).json()
    assert _login_works(settings, creds["username"], reissued["password"])
    assert client.get(path, headers=tenants.operator_a).json()["credentials_revoked_at"] is None

    gone = client.delete(path, headers=tenants.operator_a)
    assert gone.status_code == 200 and gone.json()["decommissioned_at"]
    assert not _login_works(settings, creds["username"], reissued["password"])
    assert client.post(f"{path}/credentials", headers=tenants.operator_a).status_code == 404
    audit = client.get("/v1/audit", params={"target": f"device:{device['id']}"}, headers=tenants.admin).json()
    assert [e["action"] for e in reversed(audit["items"])] == [
        "device.create",
        "device.credentials.rotate",
        "device.credentials.revoke",
        "device.credentials.rotate",
        "device.decommission",
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "toaster"}, 422),
        ({"community_id": "no-such-community"}, 404),
        ({"building_id": "no-such-building"}, 404),
        ({"id": "Bad_Id"}, 422),
        ({"location": "a\x00b"}, 422),
    ],
)
def test_device_requests_that_cannot_be_provisioned(
    client: TestClient, tenants: Tenants, body: dict[str, str], status: int
) -> None:
    full = {"id": unique("dev"), "community_id": tenants.community_a, "kind": "elevator", **body}
    assert client.post("/v1/devices", json=full, headers=tenants.admin).status_code == status


def test_duplicate_device_is_a_conflict_and_a_decommissioned_community_takes_none(
    client: TestClient, tenants: Tenants, device_ids: list[str]
) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.PARKING_SPACE, device_ids)
    again = {"id": device["id"], "community_id": tenants.community_a, "kind": "parking_space"}
    assert client.post("/v1/devices", json=again, headers=tenants.admin).status_code == 409
    community = unique("old")
    body = {"id": community, "name": "旧小区", "district": "点军区", "lat": 30.6, "lon": 111.2}
    assert client.post("/v1/communities", json=body, headers=tenants.admin).status_code == 201
    assert client.delete(f"/v1/communities/{community}", headers=tenants.admin).status_code == 200
    late = {"id": unique("dev"), "community_id": community, "kind": "elevator"}
    assert client.post("/v1/devices", json=late, headers=tenants.admin).status_code == 404
