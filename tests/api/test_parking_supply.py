"""Owners publish and withdraw their spaces' availability; bookings a withdrawal displaces move to
another space or are cancelled with a reason."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.conftest import Tenants
from tests.api.helpers import bearer
from tests.api.parking import add_space, book, idem, lot, owner_key, request, tomorrow
from yiju.cli import app as yiju

RESIDENT = {"space_type": "resident", "availability": [{"days": "daily", "start": "07:00", "end": "20:00"}]}


def _owner() -> str:
    return f"owner-{secrets.token_hex(3)}"


def test_a_withdrawal_moves_bookings_to_another_space(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    owner = _owner()
    with lot(conn, tenants, spaces=0) as place:
        mine = add_space(conn, place.community, owner_id=owner, **RESIDENT)
        booked = book(client, place, tomorrow(9), tomorrow(12)).json()
        assert booked["space_id"] == mine
        other = add_space(conn, place.community, **RESIDENT)
        body = {"start": tomorrow(8).isoformat(), "end": tomorrow(13).isoformat(), "reason": "家里来客"}
        done = client.post(
            f"/v1/parking/spaces/{mine}/withdrawals", json=body, headers=owner_key(conn, owner)
        )
        assert done.status_code == 200, done.text
        assert done.json()["moved"] == [booked["id"]] and done.json()["cancelled"] == []
        now = client.get(f"/v1/parking/bookings/{booked['id']}", headers=place.app).json()
        assert now["space_id"] == other and now["status"] == "booked"
        assert now["notice"] == "moved:owner_withdrew" and now["price"] == booked["price"]


def test_a_withdrawal_cancels_with_a_reason_when_no_space_is_left(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    owner = _owner()
    with lot(conn, tenants, spaces=0) as place:
        mine = add_space(conn, place.community, owner_id=owner, **RESIDENT)
        inside = book(client, place, tomorrow(9), tomorrow(12)).json()
        outside = book(client, place, tomorrow(15), tomorrow(17)).json()
        body = {"start": tomorrow(8).isoformat(), "end": tomorrow(13).isoformat()}
        done = client.post(
            f"/v1/parking/spaces/{mine}/withdrawals", json=body, headers=owner_key(conn, owner)
        ).json()
        assert done["cancelled"] == [inside["id"]] and done["moved"] == []
        gone = client.get(f"/v1/parking/bookings/{inside['id']}", headers=place.app).json()
        assert gone["status"] == "cancelled" and gone["cancel_reason"] == "owner_withdrew"
        kept = client.get(f"/v1/parking/bookings/{outside['id']}", headers=place.app).json()
        assert kept["status"] == "booked" and kept["space_id"] == mine
        again = book(client, place, tomorrow(10), tomorrow(11))
        assert again.status_code == 409 and again.json()["reason"] == "outside_availability"


def test_new_rules_displace_what_they_no_longer_hold(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    owner = _owner()
    with lot(conn, tenants, spaces=0) as place:
        mine = add_space(conn, place.community, owner_id=owner, **RESIDENT)
        booked = book(client, place, tomorrow(9), tomorrow(12)).json()
        rules = {"rules": [{"days": "daily", "start": "13:00", "end": "20:00"}]}
        done = client.put(
            f"/v1/parking/spaces/{mine}/availability", json=rules, headers=owner_key(conn, owner)
        )
        assert done.status_code == 200, done.text
        assert done.json()["rules"] == rules["rules"] and done.json()["cancelled"] == [booked["id"]]
        reason = client.get(f"/v1/parking/bookings/{booked['id']}", headers=place.app).json()["cancel_reason"]
        assert reason == "owner_changed_availability"


def test_a_one_off_window_opens_a_space(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    owner = _owner()
    with lot(conn, tenants, spaces=0) as place:
        mine = add_space(conn, place.community, owner_id=owner, **RESIDENT)
        late = request(place.community, tomorrow(20, 30), tomorrow(22))
        assert client.post("/v1/parking/bookings", json=late, headers=place.app | idem()).status_code == 409
        body = {"start": tomorrow(20).isoformat(), "end": tomorrow(23).isoformat()}
        opened = client.post(
            f"/v1/parking/spaces/{mine}/availability", json=body, headers=owner_key(conn, owner)
        )
        assert opened.status_code == 200, opened.text
        assert client.post("/v1/parking/bookings", json=late, headers=place.app | idem()).status_code == 201


def test_owners_manage_only_their_own_spaces_and_see_no_plates(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    owner, stranger = _owner(), _owner()
    with lot(conn, tenants, spaces=0) as place:
        mine = add_space(conn, place.community, owner_id=owner, **RESIDENT)
        late = [{"days": "daily", "start": "21:00", "end": "22:00"}]
        theirs = add_space(conn, place.community, owner_id=stranger, space_type="resident", availability=late)
        headers = owner_key(conn, owner)
        body = {"start": tomorrow(8).isoformat(), "end": tomorrow(9).isoformat()}
        assert (
            client.post(f"/v1/parking/spaces/{theirs}/withdrawals", json=body, headers=headers).status_code
            == 404
        )
        assert client.get(f"/v1/parking/spaces/{theirs}/bookings", headers=headers).status_code == 404
        assert (
            client.post(f"/v1/parking/spaces/{mine}/withdrawals", json=body, headers=place.app).status_code
            == 403
        )
        assert client.post("/v1/parking/bookings", json={}, headers=headers | idem()).status_code == 403
        assert client.get("/v1/parking/bookings", headers=headers).status_code == 403
        assert client.get("/v1/alarms", headers=headers).status_code == 403
        book(client, place, tomorrow(14), tomorrow(15))
        seen = client.get(f"/v1/parking/spaces/{mine}/bookings", headers=headers)
        assert seen.status_code == 200 and len(seen.json()["items"]) == 1
        assert set(seen.json()["items"][0]) == {"id", "arrival", "departure", "status", "notice"}
        operator = client.post(
            f"/v1/parking/spaces/{mine}/withdrawals", json=body, headers=tenants.operator_b
        )
        assert operator.status_code in {403, 404}


def test_the_cli_makes_owner_keys_tied_to_an_owner(
    cli: CliRunner, client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    owner = _owner()
    with lot(conn, tenants, spaces=0) as place:
        mine = add_space(conn, place.community, owner_id=owner, **RESIDENT)
        made = cli.invoke(yiju, ["auth", "create-key", "--role", "owner", "--owner", owner])
        assert made.exit_code == 0, made.output
        key = made.stdout.strip().splitlines()[-1]
        seen = client.get(f"/v1/parking/spaces/{mine}/bookings", headers=bearer(key))
        assert seen.status_code == 200 and seen.json()["items"] == []
        missing = cli.invoke(yiju, ["auth", "create-key", "--role", "owner"])
        assert missing.exit_code == 2 and "owner id" in missing.output
        stray = cli.invoke(yiju, ["auth", "create-key", "--role", "parking_app", "--owner", owner])
        assert stray.exit_code == 2


def test_the_database_refuses_overlapping_bookings_on_a_space(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=1) as place:
        booked = book(client, place, tomorrow(9), tomorrow(12)).json()
        copy = """INSERT INTO parking_bookings (code, community_id, space_id, requester, plate_hash, arrival,
                      departure, occupied, price, api_key_id, idempotency_key, request_hash)
                  SELECT code || 'x', community_id, space_id, requester, plate_hash,
                      arrival + interval '1 hour', departure,
                      tstzrange(lower(occupied) + interval '1 hour', upper(occupied)), price, api_key_id,
                      idempotency_key || 'x', request_hash
                  FROM parking_bookings WHERE id = %s"""
        with pytest.raises(psycopg.errors.ExclusionViolation):
            conn.execute(copy, (booked["id"],))
