"""Bad requests get precise 4xx JSON: malformed and oversize bodies, wrong types, SQL in every filter."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.pagination import encode
from core.config import Settings
from core.contract.topics import Kind
from tests.api.conftest import Tenants
from tests.api.helpers import provision, unique

INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE devices; --",
    "1 UNION SELECT key_hash FROM api_keys",
    "elevator' --",
    "%' OR 1=1 --",
    "a\x00b",
]
# Every filter of every list and query endpoint.
FILTERS = [
    ("/v1/communities", "district"),
    ("/v1/communities", "cursor"),
    ("/v1/buildings", "community_id"),
    ("/v1/buildings", "cursor"),
    ("/v1/devices", "community_id"),
    ("/v1/devices", "kind"),
    ("/v1/devices", "cursor"),
    ("/v1/alarms", "community_id"),
    ("/v1/alarms", "device_id"),
    ("/v1/alarms", "kind"),
    ("/v1/alarms", "type"),
    ("/v1/alarms", "severity"),
    ("/v1/alarms", "status"),
    ("/v1/alarms", "since"),
    ("/v1/alarms", "until"),
    ("/v1/alarms", "cursor"),
    ("/v1/audit", "target"),
    ("/v1/audit", "actor"),
    ("/v1/keys", "cursor"),
    ("/v1/companies", "cursor"),
]


def _counts(conn: psycopg.Connection) -> tuple[int, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM api_keys),"
        " (SELECT count(*) FROM communities)"
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize(("path", "param"), FILTERS)
def test_sql_injection_in_filters_is_refused_or_matches_nothing(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, path: str, param: str
) -> None:
    before = _counts(conn)
    for attempt in INJECTIONS:
        response = client.get(path, params={param: attempt}, headers=tenants.admin)
        assert response.status_code in (200, 400, 422), response.text
        if response.status_code == 200:
            assert response.json()["items"] == []
        else:
            assert response.json()["code"] in {"validation_error", "bad_request"}
    assert _counts(conn) == before


@pytest.mark.parametrize(
    "path",
    ["/v1/devices/{}", "/v1/devices/{}/latest", "/v1/communities/{}", "/v1/buildings/{}"],
)
def test_sql_injection_in_path_ids_is_refused(client: TestClient, tenants: Tenants, path: str) -> None:
    for attempt in ("x' OR '1'='1", "lift-01'; DROP TABLE devices; --"):
        response = client.get(path.format(attempt), headers=tenants.admin)
        assert response.status_code in (404, 422) and response.json()["code"] in {
            "validation_error",
            "not_found",
        }


def test_series_field_is_never_sql(client: TestClient, tenants: Tenants, device_ids: list[str]) -> None:
    device = provision(client, tenants.admin, tenants.community_a, Kind.EV_CHARGER, device_ids)
    base = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    for field in ("power_kw) FROM api_keys --", "status", "ts", "device_id"):
        response = client.get(
            f"/v1/devices/{device['id']}/series", params={**base, "field": field}, headers=tenants.admin
        )
        assert response.status_code == 422, response.text


def test_malformed_json_is_400(client: TestClient, tenants: Tenants) -> None:
    response = client.post(
        "/v1/communities",
        content=b'{"id": "x", "name": ',
        headers={**tenants.admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"id": "ok-id", "name": "n", "district": "d", "lat": "north", "lon": 111}, ["body", "lat"]),
        ({"id": "ok-id", "name": "n", "district": "d", "lat": 91, "lon": 111}, ["body", "lat"]),
        (
            {"id": "ok-id", "name": "n", "district": "d", "lat": 30, "lon": 111, "owner": "x"},
            ["body", "owner"],
        ),
        ({"id": "ok-id", "name": "", "district": "d", "lat": 30, "lon": 111}, ["body", "name"]),
        ({"id": "ok-id", "district": "d", "lat": 30, "lon": 111}, ["body", "name"]),
    ],
)
def test_invalid_bodies_say_where(
    client: TestClient, tenants: Tenants, body: object, where: list[str]
) -> None:
    response = client.post("/v1/communities", json=body, headers=tenants.admin)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert where in [d["loc"] for d in response.json()["details"]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/communities/{community}", {"name": None}),
        ("/v1/communities/{community}", {"lat": None}),
        ("/v1/buildings/{building}", {"floors": 0, "households": None}),  # once a 500 (found by fuzzing)
        ("/v1/communities/{community}", {"lat": "30.1"}),
        ("/v1/buildings/{building}", {"households": False}),
    ],
)
def test_null_or_wrong_type_in_a_patch_is_422(
    client: TestClient, tenants: Tenants, path: str, body: object
) -> None:
    building = unique("bld")
    made = {"id": building, "community_id": tenants.community_a, "name": "n", "floors": 6}
    assert client.post("/v1/buildings", json=made, headers=tenants.admin).status_code == 201
    url = path.format(community=tenants.community_a, building=building)
    response = client.patch(url, json=body, headers=tenants.admin)
    assert response.status_code == 422 and response.json()["code"] == "validation_error", response.text


def test_nullable_fields_accept_null(client: TestClient, tenants: Tenants) -> None:
    url = f"/v1/communities/{tenants.community_a}"
    limited = client.patch(url, json={"site_power_limit_kw": 120}, headers=tenants.admin)
    assert limited.json()["site_power_limit_kw"] == 120
    unlimited = client.patch(url, json={"site_power_limit_kw": None}, headers=tenants.admin)
    assert unlimited.json()["site_power_limit_kw"] is None


def test_unknown_query_parameters_are_422(client: TestClient, tenants: Tenants) -> None:
    response = client.get("/v1/alarms", params={"severty": "critical"}, headers=tenants.admin)
    assert response.status_code == 422 and "severty" in response.json()["message"]


def test_non_finite_numbers_are_refused(client: TestClient, tenants: Tenants) -> None:
    body = b'{"id": "nan-c", "name": "n", "district": "d", "lat": NaN, "lon": 111}'
    response = client.post(
        "/v1/communities", content=body, headers={**tenants.admin, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)


@pytest.fixture
def small_client(settings: Settings) -> Iterator[TestClient]:
    """An app taking bodies of at most 1 KiB."""
    small = settings.model_copy(update={"api_max_body_bytes": 1024, "api_rate_limit": "10000/minute"})
    with TestClient(create_app(small)) as test_client:
        yield test_client


def test_oversize_bodies_are_413_declared_or_streamed(small_client: TestClient, tenants: Tenants) -> None:
    big = {"id": "big-one", "name": "x" * 2000, "district": "d", "lat": 30, "lon": 111}
    declared = small_client.post("/v1/communities", json=big, headers=tenants.admin)
    assert declared.status_code == 413 and declared.json()["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"id": "big-two", "name": "'
        for _ in range(40):
            yield b"x" * 100
        yield b'", "district": "d", "lat": 30, "lon": 111}'

    streamed = small_client.post(
        "/v1/communities", content=chunks(), headers={**tenants.admin, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["code"] == "payload_too_large"
    small = {"id": "small-one", "name": "x", "district": "d", "lat": 30, "lon": 111}
    assert small_client.post("/v1/communities", json=small, headers=tenants.admin).status_code == 201


def test_unknown_route_and_method_use_the_error_body(client: TestClient, tenants: Tenants) -> None:
    assert client.get("/v1/nothing", headers=tenants.admin).json()["code"] == "not_found"
    response = client.put("/v1/communities", headers=tenants.admin)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/audit", [2**70]),
        ("/v1/alarms", ["2026-01-01T00:00:00+00:00", 2**70]),
        ("/v1/alarms", ["not a time", 1]),
        ("/v1/communities", [1, 2]),
    ],
)
def test_forged_cursors_are_400(client: TestClient, tenants: Tenants, path: str, key: list[object]) -> None:
    response = client.get(path, params={"cursor": encode(key)}, headers=tenants.admin)
    assert response.status_code == 400 and response.json()["message"] == "invalid cursor"
