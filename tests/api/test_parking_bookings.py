"""Booking on the real database: the engine's choice, idempotent retries, refusals with reasons,
the lifecycle, and many clients racing for the last space."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.config import Settings
from tests.api.conftest import Tenants
from tests.api.parking import add_space, book, idem, insert_booking, lot, request, tomorrow


def test_a_booking_gets_a_space_price_and_code(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=2) as place:
        body = request(place.community, tomorrow(9), tomorrow(17, 30))
        made = client.post("/v1/parking/bookings", json=body, headers=place.app | idem())
        assert made.status_code == 201, made.text
        booking = made.json()
        assert booking["space_id"] in place.spaces and booking["status"] == "booked"
        assert booking["code"].startswith("YJ-") and booking["price"] > 0
        again = client.get(f"/v1/parking/bookings/{booking['id']}", headers=place.app)
        assert again.status_code == 200 and again.json() == booking


def test_a_retry_with_the_same_key_returns_the_same_booking(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=3) as place:
        body, key = request(place.community, tomorrow(9), tomorrow(12)), idem()
        first = client.post("/v1/parking/bookings", json=body, headers=place.app | key)
        second = client.post("/v1/parking/bookings", json=body, headers=place.app | key)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json() == second.json()
        count = conn.execute(
            "SELECT count(*) FROM parking_bookings WHERE community_id = %s", (place.community,)
        )
        assert count.fetchone() == (1,)
        other = client.post("/v1/parking/bookings", json={**body, "large": True}, headers=place.app | key)
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_concurrent_retries_with_one_key_book_once(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=5) as place:
        body, key = request(place.community, tomorrow(10), tomorrow(11)), idem()
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda _: client.post("/v1/parking/bookings", json=body, headers=place.app | key),
                    range(8),
                )
            )
        assert sorted(a.status_code for a in answers).count(201) == 1
        assert {a.json()["id"] for a in answers} == {answers[0].json()["id"]}
        count = conn.execute(
            "SELECT count(*) FROM parking_bookings WHERE community_id = %s", (place.community,)
        )
        assert count.fetchone() == (1,)


def test_the_idempotency_key_is_required(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants) as place:
        body = request(place.community, tomorrow(9), tomorrow(10))
        response = client.post("/v1/parking/bookings", json=body, headers=place.app)
        assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_many_clients_racing_for_the_last_space_exactly_one_wins(
    api_settings: Settings, tenants: Tenants, conn: psycopg.Connection
) -> None:
    clients = 24
    with lot(conn, tenants, spaces=1) as place, TestClient(create_app(api_settings)) as app:
        start = threading.Barrier(clients)

        def attempt(i: int) -> tuple[int, dict[str, object]]:
            body = request(place.community, tomorrow(9), tomorrow(18))
            start.wait()
            answer = app.post("/v1/parking/bookings", json=body, headers=place.app | idem())
            return answer.status_code, answer.json()

        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(attempt, range(clients)))
        assert sorted(s for s, _ in answers) == [201] + [409] * (clients - 1)
        assert all(b["reason"] in {"full", "contention"} for s, b in answers if s == 409)
        live = "SELECT count(*) FROM parking_bookings WHERE community_id = %s AND status = 'booked'"
        assert conn.execute(live, (place.community,)).fetchone() == (1,)


def test_refusals_carry_a_reason_and_alternatives(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=1) as place:
        taken = book(client, place, tomorrow(9), tomorrow(12))
        assert taken.status_code == 201
        full = book(client, place, tomorrow(10), tomorrow(11))
        assert full.status_code == 409, full.text
        refusal = full.json()
        assert refusal["code"] == "refused" and refusal["reason"] == "full" and refusal["message"]
        assert refusal["alternatives"], "a one-hour stay fits before 9:00 or after 12:00"
        for stay in refusal["alternatives"]:
            a, d = datetime.fromisoformat(stay["arrival"]), datetime.fromisoformat(stay["departure"])
            assert d - a == timedelta(hours=1)
            assert d + timedelta(minutes=10) <= tomorrow(9) - timedelta(minutes=10) or a >= tomorrow(
                12
            ) + timedelta(minutes=20)
        charger = book(client, place, tomorrow(14), tomorrow(15), ev=True, energy_kwh=10.0)
        assert charger.status_code == 409 and "charger" in charger.json()["reason"]


def test_a_refused_request_counts_once_as_unmet_demand_on_the_map(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=1) as place:
        booked = book(client, place, tomorrow(9), tomorrow(12))
        assert booked.status_code == 201
        again = idem()
        for _ in range(2):  # the app retries with the same Idempotency-Key: one request
            refused = client.post(
                "/v1/parking/bookings",
                json=request(place.community, tomorrow(10), tomorrow(11), requester="resident"),
                headers=place.app | again,
            )
            assert refused.status_code == 409 and refused.json()["reason"] == "full"
        rows = conn.execute(
            "SELECT requester, reason, arrival FROM parking_refusals WHERE community_id = %s",
            (place.community,),
        ).fetchall()
        assert rows == [("resident", "full", tomorrow(10))]
        shown = client.get(
            "/v1/parking/map",
            params={"community": place.community, "at": tomorrow(10).isoformat()},
            headers=place.app,
        ).json()["properties"]
        assert (shown["booked"], shown["unmet"], shown["demand"], shown["supply"]) == (1, 1, 2, 1)


def test_a_space_outside_its_hours_is_not_offered(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=0) as place:
        add_space(conn, place.community, availability=[{"days": "daily", "start": "18:00", "end": "08:00"}])
        day = book(client, place, tomorrow(9), tomorrow(12))
        assert day.status_code == 409 and day.json()["reason"] == "outside_availability"
        night = book(client, place, tomorrow(20), tomorrow(7, days=2))
        assert night.status_code == 201, night.text


def test_a_space_added_is_bookable_on_every_day_at_once(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    # the engine keeps each day's supply, and the space rows behind all days, while they are current
    with lot(conn, tenants, spaces=1) as place:
        for days in (1, 2):
            assert book(client, place, tomorrow(9, days=days), tomorrow(12, days=days)).status_code == 201
        add_space(conn, place.community)
        for days in (2, 1):
            again = book(client, place, tomorrow(9, days=days), tomorrow(12, days=days))
            assert again.status_code == 201, again.text


def test_lifecycle_cancel_check_in_check_out(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=1) as place:
        body = request(place.community, tomorrow(9), tomorrow(10))
        one = client.post("/v1/parking/bookings", json=body, headers=place.app | idem()).json()
        cancelled = client.delete(f"/v1/parking/bookings/{one['id']}", headers=place.app)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["cancel_reason"] == "cancelled_by_requester"
        assert client.delete(f"/v1/parking/bookings/{one['id']}", headers=place.app).status_code == 409
        two = client.post("/v1/parking/bookings", json=body, headers=place.app | idem())
        assert two.status_code == 201, "a cancelled booking frees its space at once"
        path = f"/v1/parking/bookings/{two.json()['id']}"
        assert client.post(f"{path}/check-out", headers=place.app).status_code == 409
        assert client.post(f"{path}/check-in", headers=place.app).json()["status"] == "checked_in"
        assert client.delete(path, headers=place.app).status_code == 409
        done = client.post(f"{path}/check-out", headers=place.app).json()
        assert done["status"] == "completed" and done["checked_out_at"] is not None


def test_list_pages_with_a_cursor(client: TestClient, tenants: Tenants, conn: psycopg.Connection) -> None:
    with lot(conn, tenants, spaces=3) as place:
        for hour in (8, 9, 10):
            body = request(place.community, tomorrow(hour), tomorrow(hour, 30))
            assert (
                client.post("/v1/parking/bookings", json=body, headers=place.app | idem()).status_code == 201
            )
        seen, cursor = [], None
        while True:
            params = {"limit": 2, "community": place.community} | ({"cursor": cursor} if cursor else {})
            page = client.get("/v1/parking/bookings", params=params, headers=place.app).json()
            seen += [b["id"] for b in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 3 and seen == sorted(seen, reverse=True)


def test_search_offers_free_spaces_nearest_first_with_price(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=0) as place:
        near = add_space(conn, place.community, lat=30.7001, lon=111.3001)
        far = add_space(conn, place.community, lat=30.7050, lon=111.3050)
        charger = add_space(conn, place.community, lat=30.7002, lon=111.3002, has_charger=True)
        params = {
            "community": place.community, "lat": 30.7, "lon": 111.3, "from": tomorrow(9).isoformat(),
            "to": tomorrow(11).isoformat(),
        }  # fmt: skip
        offers = client.get("/v1/parking/spaces/search", params=params, headers=place.app)
        assert offers.status_code == 200, offers.text
        assert [o["space_id"] for o in offers.json()] == [near, charger, far]
        assert all(o["price"] == 12.0 for o in offers.json())  # 2 h at the default 6 yuan/h
        close = client.get(
            "/v1/parking/spaces/search", params=params | {"max_walk_m": 100}, headers=place.app
        )
        assert {o["space_id"] for o in close.json()} == {near, charger}
        ev = client.get("/v1/parking/spaces/search", params=params | {"ev": True}, headers=place.app)
        assert [o["space_id"] for o in ev.json()] == [charger]


def test_a_booking_not_yet_bound_moves_to_make_room(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=2) as place:
        a, b = place.spaces
        # 11:00-14:30 fits on neither space as they stand, but on either once the other booking moves
        before = {
            insert_booking(conn, place, a, tomorrow(9), tomorrow(12)): a,
            insert_booking(conn, place, b, tomorrow(13), tomorrow(16)): b,
        }
        made = book(client, place, tomorrow(11), tomorrow(14, 30))
        assert made.status_code == 201, made.text
        after = {
            i: client.get(f"/v1/parking/bookings/{i}", headers=place.app).json()["space_id"] for i in before
        }
        moved = [i for i in before if after[i] != before[i]]
        assert len(moved) == 1 and made.json()["space_id"] == before[moved[0]]
        log = conn.execute(
            "SELECT change, from_space, to_space FROM parking_booking_changes WHERE booking_id = %s",
            (moved[0],),
        ).fetchall()
        assert log == [("moved", before[moved[0]], after[moved[0]])]


@pytest.mark.parametrize("walk", [None, 50.0])
def test_a_booking_moves_to_another_kind_of_space_at_its_quoted_price_within_its_walk(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, walk: float | None
) -> None:
    with lot(conn, tenants, spaces=0) as place:
        here = {"lat": 30.7, "lon": 111.3}
        cheap = add_space(conn, place.community, space_type="resident", price_rule={"per_hour": 2.0}, **here)
        limit = {} if walk is None else here | {"max_walk_m": walk}
        first = book(client, place, tomorrow(9), tomorrow(12), **limit)
        assert first.status_code == 201, first.text
        assert (first.json()["space_id"], first.json()["price"]) == (cheap, 6.0)  # 3 h at 2 yuan/h
        # a public space 1.1 km away at 8 yuan/h; a driver who will walk 50 m needs the cheap one
        dear = add_space(conn, place.community, price_rule={"per_hour": 8.0}, lat=30.71, lon=111.3)
        near = book(client, place, tomorrow(10), tomorrow(11), **here, max_walk_m=50.0)
        after = client.get(f"/v1/parking/bookings/{first.json()['id']}", headers=place.app).json()
        if walk is None:  # the first driver named no limit: their booking moves, at the price quoted
            assert near.status_code == 201, near.text
            assert near.json()["space_id"] == cheap
            assert (after["space_id"], after["price"]) == (dear, 6.0)
        else:  # the first driver would walk 50 m too: their booking stays
            assert near.status_code == 409, near.text
            assert after["space_id"] == cheap


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"energy_kwh": 20.0, "ev": True}, "charger"),
        ({"accessible": True}, "accessible"),
        ({"large": True}, "large"),
        ({"lat": 30.71, "lon": 111.31, "max_walk_m": 50.0}, "too_far"),
        ({"max_price": 0.5}, "too_expensive"),
    ],
)
def test_every_refusal_names_its_reason(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection, extra: dict[str, object], reason: str
) -> None:
    with lot(conn, tenants, spaces=0) as place:
        add_space(conn, place.community, lat=30.7, lon=111.3)
        body = request(place.community, tomorrow(9), tomorrow(11), **extra)
        refused = client.post("/v1/parking/bookings", json=body, headers=place.app | idem())
        assert refused.status_code == 409, refused.text
        assert reason in refused.json()["reason"] and refused.json()["code"] == "refused"
