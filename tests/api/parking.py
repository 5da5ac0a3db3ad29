"""Builders for the parking tests: a community of its own per test, spaces, keys and requests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient
from httpx import Response
from psycopg.types.json import Jsonb

from api.security import Role
from api.service import access
from tests.api.conftest import Tenants, new_key
from tests.api.helpers import Headers, bearer

LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass
class Lot:
    """A community with parking spaces, and keys that use it."""

    community: str
    spaces: list[str]
    app: Headers
    app_key_id: str


def tomorrow(hour: int, minute: int = 0, days: int = 1) -> datetime:
    """A local time `days` ahead (always in the future while the tests run)."""
    day = (datetime.now(LOCAL) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


def add_space(conn: psycopg.Connection, community: str, **attrs: Any) -> str:
    """A parking space (public, always open unless `availability` says otherwise)."""
    row = {
        "id": f"{community}-ps-{secrets.token_hex(3)}", "label": "P", "space_type": "public",
        "has_charger": False, "accessible": False, "large": False, "availability": [], "owner_id": None,
        "lat": None, "lon": None, "price_rule": {},
    } | attrs  # fmt: skip
    conn.execute(
        """INSERT INTO parking_spaces (id, community_id, label, space_type, has_charger, accessible, large,
               availability, owner_id, lat, lon, price_rule)
           VALUES (%(id)s, %(community)s, %(label)s, %(space_type)s, %(has_charger)s, %(accessible)s,
               %(large)s, %(availability)s, %(owner_id)s, %(lat)s, %(lon)s, %(price_rule)s)""",
        {
            **row,
            "community": community,
            "availability": Jsonb(row["availability"]),
            "price_rule": Jsonb(row["price_rule"]),
        },
    )
    return str(row["id"])


@contextmanager
def lot(
    conn: psycopg.Connection, tenants: Tenants, spaces: int = 1, company: str | None = None
) -> Iterator[Lot]:
    """A fresh community of company A (or `company`) with `spaces` plain spaces; removed after."""
    community = f"park-{secrets.token_hex(4)}"
    conn.execute(
        "INSERT INTO communities (id, name, district, lat, lon, company_id)"
        " VALUES (%s, '车场', '西陵区', 30.7, 111.3, %s)",
        (community, company or tenants.company_a),
    )
    made = [add_space(conn, community) for _ in range(spaces)]
    key_id, app = new_key(conn, Role.PARKING_APP)
    try:
        yield Lot(community, made, app, key_id)
    finally:
        conn.execute(
            "DELETE FROM parking_booking_changes WHERE booking_id IN "
            "(SELECT id FROM parking_bookings WHERE community_id = %s)",
            (community,),
        )
        conn.execute(
            "DELETE FROM parking_gate_matches WHERE booking_id IN"
            " (SELECT id FROM parking_bookings WHERE community_id = %s)",
            (community,),
        )
        conn.execute("DELETE FROM parking_bookings WHERE community_id = %s", (community,))
        conn.execute("DELETE FROM parking_refusals WHERE community_id = %s", (community,))
        conn.execute(
            "DELETE FROM parking_supply_changes WHERE space_id IN"
            " (SELECT id FROM parking_spaces WHERE community_id = %s)",
            (community,),
        )
        conn.execute("DELETE FROM parking_spaces WHERE community_id = %s", (community,))
        conn.execute("DELETE FROM communities WHERE id = %s", (community,))


def request(community: str, arrival: datetime, departure: datetime, **extra: Any) -> dict[str, Any]:
    """A booking body."""
    body = {
        "community_id": community,
        "arrival": arrival.isoformat(),
        "departure": departure.isoformat(),
        "plate_hash": secrets.token_hex(16),
    }
    return body | extra


def book(client: TestClient, place: Lot, arrival: datetime, departure: datetime, **extra: Any) -> Response:
    """POST a booking for the stay as the lot's parking app, with a fresh Idempotency-Key."""
    return client.post(
        "/v1/parking/bookings",
        json=request(place.community, arrival, departure, **extra),
        headers=place.app | idem(),
    )


def idem() -> Headers:
    return {"Idempotency-Key": secrets.token_urlsafe(12)}


def now() -> datetime:
    return datetime.now(UTC)


def owner_key(conn: psycopg.Connection, owner_id: str) -> Headers:
    """Headers of a fresh owner key for `owner_id`."""
    made = access.create_key(
        conn, role=Role.OWNER, company_id=None, scopes=None, expires_in_days=1, label="test",
        created_by="test", owner_id=owner_id,
    )  # fmt: skip
    return bearer(made["key"])


def insert_booking(
    conn: psycopg.Connection,
    place: Lot,
    space: str,
    arrival: datetime,
    departure: datetime,
    created_at: datetime | None = None,
) -> int:
    """A booking put on a chosen space directly, as if made earlier (at `created_at`, else now)."""
    row = conn.execute(
        """INSERT INTO parking_bookings (code, community_id, space_id, requester, plate_hash, arrival,
               departure, occupied, price, api_key_id, idempotency_key, request_hash, created_at)
           VALUES (%(code)s, %(community)s, %(space)s, 'visitor', %(plate)s, %(arrival)s, %(departure)s,
               tstzrange(%(arrival)s - interval '10 minutes', %(departure)s + interval '10 minutes'), 6,
               %(key)s, %(code)s, '\\x00'::bytea, coalesce(%(created_at)s, now()))
           RETURNING id""",
        {
            "created_at": created_at,
            "code": secrets.token_hex(6),
            "community": place.community,
            "space": space,
            "plate": secrets.token_hex(16),
            "arrival": arrival,
            "departure": departure,
            "key": place.app_key_id,
        },
    ).fetchone()
    assert row is not None
    return int(row[0])
