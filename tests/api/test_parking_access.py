"""Who may use the parking endpoints, tenancy (another company's community is 404), injection
attempts in filters, and the supply-and-demand map."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.security import Role
from tests.api.conftest import Tenants, new_key
from tests.api.parking import add_space, book, idem, lot, request, tomorrow

INJECTIONS = ["x' OR '1'='1", "x'; DROP TABLE parking_bookings; --", "1 UNION SELECT key_hash FROM api_keys"]


def test_roles_outside_parking_are_refused(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants) as place:
        body = request(place.community, tomorrow(9), tomorrow(10))
        for who in (tenants.integrator_a,):
            assert client.post("/v1/parking/bookings", json=body, headers=who | idem()).status_code == 403
            assert client.get("/v1/parking/bookings", headers=who).status_code == 403
            assert (
                client.get("/v1/parking/map", params={"community": place.community}, headers=who).status_code
                == 403
            )
        # a parking app may use only the parking endpoints
        for path in ("/v1/communities", "/v1/devices", "/v1/alarms", "/v1/keys"):
            assert client.get(path, headers=place.app).status_code == 403


def test_another_companys_community_is_not_found(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants) as place:
        booked = book(client, place, tomorrow(9), tomorrow(10)).json()
        path = f"/v1/parking/bookings/{booked['id']}"
        _, app_b = new_key(conn, Role.PARKING_APP, tenants.company_b)
        _, other_app = new_key(conn, Role.PARKING_APP)
        body = request(place.community, tomorrow(11), tomorrow(12))
        for who in (tenants.operator_b, app_b):
            assert client.post("/v1/parking/bookings", json=body, headers=who | idem()).status_code == 404
            assert (
                client.get("/v1/parking/map", params={"community": place.community}, headers=who).status_code
                == 404
            )
            assert client.get(path, headers=who).status_code == 404
        # another parking app does not see this app's bookings; the community's operator does
        assert client.get(path, headers=other_app).status_code == 404
        assert client.delete(path, headers=other_app).status_code == 404
        assert client.get(path, headers=tenants.operator_a).status_code == 200
        listed = client.get(
            "/v1/parking/bookings", params={"community": place.community}, headers=tenants.operator_b
        )
        assert listed.status_code == 200 and listed.json()["items"] == []
        mine = client.get(
            "/v1/parking/bookings", params={"community": place.community}, headers=tenants.operator_a
        )
        assert [b["id"] for b in mine.json()["items"]] == [booked["id"]]


@pytest.mark.parametrize("attack", INJECTIONS)
def test_injection_in_filters_is_refused_or_inert(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, attack: str
) -> None:
    with lot(conn, tenants) as place:
        window = {"from": tomorrow(9).isoformat(), "to": tomorrow(10).isoformat()}
        search = client.get(
            "/v1/parking/spaces/search", params={"community": attack, **window}, headers=place.app
        )
        assert search.status_code == 422
        for params in ({"community": attack}, {"status": attack}, {"space_id": attack}, {"cursor": attack}):
            assert client.get("/v1/parking/bookings", params=params, headers=place.app).status_code in {
                400,
                422,
            }
        plate = request(place.community, tomorrow(9), tomorrow(10), plate_hash=attack)
        assert client.post("/v1/parking/bookings", json=plate, headers=place.app | idem()).status_code == 422
        # a hostile idempotency key (printable ASCII without spaces) is only a string
        body, key = request(place.community, tomorrow(9), tomorrow(10)), attack.replace(" ", "")
        made = client.post("/v1/parking/bookings", json=body, headers=place.app | {"Idempotency-Key": key})
        assert made.status_code == 201, made.text
        stored = conn.execute(
            "SELECT idempotency_key FROM parking_bookings WHERE id = %s", (made.json()["id"],)
        )
        assert stored.fetchone() == (key,)
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] > 0  # type: ignore[index]


def test_the_map_is_geojson_with_supply_and_demand(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=0) as place:
        a = add_space(conn, place.community, lat=30.7001, lon=111.3001, has_charger=True)
        b = add_space(
            conn, place.community, availability=[{"days": "daily", "start": "18:00", "end": "08:00"}]
        )
        booked = book(client, place, tomorrow(9), tomorrow(11)).json()
        assert booked["space_id"] == a
        at = tomorrow(10).isoformat()
        shown = client.get(
            "/v1/parking/map", params={"community": place.community, "at": at}, headers=place.app
        )
        assert shown.status_code == 200, shown.text
        geo = shown.json()
        assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 2
        by_id = {f["properties"]["id"]: f for f in geo["features"]}
        assert by_id[a]["geometry"] == {"type": "Point", "coordinates": [111.3001, 30.7001]}
        assert by_id[a]["properties"]["status"] == "booked" and by_id[a]["properties"]["charger"] is True
        assert by_id[b]["properties"]["status"] == "free" and by_id[b]["properties"]["open"] is False
        assert geo["properties"]["supply"] == 1 and geo["properties"]["demand"] == 1
