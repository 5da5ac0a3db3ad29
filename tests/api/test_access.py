"""Every principal against every resource of company A: its own see it, others get 403 or 404."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.contract.topics import Kind
from tests.api.conftest import Tenants
from tests.api.helpers import insert_alarm, provision, unique

WHO = ("admin", "operator_a", "operator_b", "integrator_a", "parking_app")


@dataclass
class World:
    community: str
    building: str
    device: str
    alarm: int


@pytest.fixture(scope="module")
def world(client: TestClient, tenants: Tenants, settings: Settings) -> Iterator[World]:
    """Company A's building, device and alarm."""
    building = unique("bld")
    body = {"id": building, "community_id": tenants.community_a, "name": "1栋", "floors": 6}
    assert client.post("/v1/buildings", json=body, headers=tenants.admin).status_code == 201
    made: list[str] = []
    device = provision(client, tenants.admin, tenants.community_a, Kind.ELEVATOR, made)["id"]
    tenants.devices.extend(made)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        alarm = insert_alarm(
            conn,
            device_id=device,
            community_id=tenants.community_a,
            type="entrapment",
            severity="critical",
            first_seen=datetime.now(UTC),
        )
    yield World(tenants.community_a, building, device, alarm)


# (method, path template, json body) -> expected status per principal, in WHO order.
RULES = [
    ("GET", "/v1/communities/{community}", None, (200, 200, 404, 200, 403)),
    ("PATCH", "/v1/communities/{community}", {"name": "改名"}, (200, 200, 404, 403, 403)),
    ("GET", "/v1/buildings/{building}", None, (200, 200, 404, 200, 403)),
    ("PATCH", "/v1/buildings/{building}", {"households": 12}, (200, 200, 404, 403, 403)),
    ("GET", "/v1/devices/{device}", None, (200, 200, 404, 200, 403)),
    ("PATCH", "/v1/devices/{device}", {"location": "东侧"}, (200, 200, 404, 200, 403)),
    ("GET", "/v1/devices/{device}/latest", None, (200, 200, 404, 200, 403)),
    (
        "GET",
        "/v1/devices/{device}/series?field=load_kg&start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&bucket=1h",
        None,
        (200, 200, 404, 200, 403),
    ),
    (
        "GET",
        "/v1/devices/{device}/telemetry.csv?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z",
        None,
        (200, 200, 404, 200, 403),
    ),
    ("GET", "/v1/communities/{community}/latest?kind=elevator", None, (200, 200, 404, 200, 403)),
    ("GET", "/v1/communities/{community}/kpis?day=2026-01-01", None, (200, 200, 404, 403, 403)),
    ("GET", "/v1/alarms/{alarm}", None, (200, 200, 404, 403, 403)),
    ("POST", "/v1/alarms/{alarm}/acknowledge", None, (None, None, 404, 403, 403)),
    ("POST", "/v1/alarms/{alarm}/clear", None, (None, None, 404, 403, 403)),
    ("DELETE", "/v1/devices/{device}", None, (None, None, 404, None, 403)),
    ("POST", "/v1/devices/{device}/credentials", None, (None, None, 404, None, 403)),
    ("DELETE", "/v1/devices/{device}/credentials", None, (None, None, 404, None, 403)),
    ("DELETE", "/v1/buildings/{building}", None, (None, None, 404, 403, 403)),
    ("DELETE", "/v1/communities/{community}", None, (None, None, 404, 403, 403)),
    (
        "POST",
        "/v1/buildings",
        {"id": "bld-x1", "community_id": "{community}", "name": "x", "floors": 6},
        (None, None, 404, 403, 403),
    ),
    (
        "POST",
        "/v1/devices",
        {"id": "dev-x1", "community_id": "{community}", "kind": "elevator"},
        (None, None, 404, None, 403),
    ),
    ("GET", "/v1/companies", None, (200, 403, 403, 403, 403)),
    ("POST", "/v1/companies", {"id": "wuye-x", "name": "x"}, (None, 403, 403, 403, 403)),
    ("GET", "/v1/keys", None, (200, 403, 403, 403, 403)),
    ("POST", "/v1/keys", {"role": "admin"}, (None, 403, 403, 403, 403)),
    ("GET", "/v1/audit", None, (200, 403, 403, 403, 403)),
    ("GET", "/v1/communities", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/alarms", None, (200, 200, 200, 403, 403)),
]
CASES = [
    pytest.param(method, path, body, who, expected[i], id=f"{who}-{method}-{path.split('?')[0]}")
    for method, path, body, expected in RULES
    for i, who in enumerate(WHO)
    if expected[i] is not None  # successful changes are tested on their own (they change state)
]


def _fill(template: object, world: World) -> object:
    values = {"community": world.community, "building": world.building, "device": world.device}
    if isinstance(template, str):
        return template.replace("{alarm}", str(world.alarm)).format(**values)
    if isinstance(template, dict):
        return {k: _fill(v, world) for k, v in template.items()}
    return template


@pytest.mark.parametrize(("method", "path", "body", "who", "expected"), CASES)
def test_access_rule(
    client: TestClient,
    tenants: Tenants,
    world: World,
    method: str,
    path: str,
    body: object,
    who: str,
    expected: int,
) -> None:
    response = client.request(
        method, str(_fill(path, world)), json=_fill(body, world), headers=tenants.headers(who)
    )
    assert response.status_code == expected, response.text
    if expected >= 400:
        error = response.json()
        assert error["code"] in {"forbidden", "not_found"} and error["message"]
        # A 404 for another company's resource says nothing of it.
        assert "改名" not in response.text and "东侧" not in response.text


@pytest.mark.parametrize("path", ["/v1/communities", "/v1/buildings", "/v1/devices", "/v1/alarms"])
def test_lists_hold_only_the_callers_company(
    client: TestClient, tenants: Tenants, world: World, path: str
) -> None:
    own = client.get(path, params={"limit": 500}, headers=tenants.operator_a).json()["items"]
    other = client.get(path, params={"limit": 500}, headers=tenants.operator_b).json()["items"]
    admin = client.get(path, params={"limit": 500}, headers=tenants.admin).json()["items"]
    community = "id" if path == "/v1/communities" else "community_id"
    assert own and all(item[community] == tenants.community_a for item in own)
    assert all(item[community] != tenants.community_a for item in other)
    assert {i[community] for i in own} <= {i[community] for i in admin}


def test_another_companys_community_cannot_be_filtered_into_view(
    client: TestClient, tenants: Tenants, world: World
) -> None:
    for path in ("/v1/buildings", "/v1/devices", "/v1/alarms"):
        response = client.get(path, params={"community_id": tenants.community_a}, headers=tenants.operator_b)
        assert response.status_code == 200 and response.json()["items"] == []


def test_operator_creates_communities_for_its_own_company_only(client: TestClient, tenants: Tenants) -> None:
    body = {"id": unique("own"), "name": "新小区", "district": "伍家岗区", "lat": 30.6, "lon": 111.3}
    made = client.post("/v1/communities", json=body, headers=tenants.operator_a)
    assert made.status_code == 201 and made.json()["company_id"] == tenants.company_a
    foreign = {**body, "id": unique("foreign"), "company_id": tenants.company_b}
    refused = client.post("/v1/communities", json=foreign, headers=tenants.operator_a)
    assert refused.status_code == 403
    handover = client.patch(
        f"/v1/communities/{body['id']}", json={"company_id": tenants.company_b}, headers=tenants.operator_a
    )
    assert handover.status_code == 403
    assert client.get(f"/v1/communities/{body['id']}", headers=tenants.operator_b).status_code == 404
