"""The simulated parking app (simulators/parking_app.py) booking through the API in process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from simulators.community import load_community, resolve
from simulators.parking_app import App, intents
from tests.api.conftest import Tenants
from tests.api.parking import lot


def test_the_app_books_and_every_refusal_names_its_reason(
    conn: psycopg.Connection, client: TestClient, tenants: Tenants
) -> None:
    with lot(conn, tenants, spaces=2) as place:
        # the demo's traffic, sent to a two-space community: some fit, the rest are refused
        here = load_community(resolve("demo")).model_copy(
            update={"id": place.community, "lat": 30.7, "lon": 111.3}
        )
        now = datetime.now(UTC)
        made = list(intents([here], now, now + timedelta(hours=12), 3, 2000))[:25]
        key = place.app["Authorization"].removeprefix("Bearer ")
        app = App(client, key)
        for intent in made:
            app.book(intent)
        tally = app.tally
        assert tally.errors == 0
        assert tally.booked + sum(tally.refused.values()) == len(made)
        assert tally.booked >= 1 and tally.refused and all(tally.refused)
        stored = conn.execute(
            "SELECT count(*) FROM parking_bookings WHERE community_id = %s", (place.community,)
        ).fetchone()
        assert stored == (tally.booked,)
