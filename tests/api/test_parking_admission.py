"""Admission control in the booking API: a stay that would hold a space the same day of an earlier
week had more drivers for is refused with its own reason; without that history it is booked."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from api.main import create_app
from api.service import parking_admission
from core.config import Settings
from tests.api.conftest import Tenants
from tests.api.parking import book, insert_booking, lot, tomorrow

WEEK = timedelta(days=7)


def test_a_long_stay_is_held_back_for_the_visits_the_same_day_last_week_had(
    client: TestClient, api_settings: Settings, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=1) as place:
        # last week, five one-hour visits between 08:00 and 18:00, booked an hour after this moment
        later = datetime.now(UTC) - WEEK + timedelta(hours=1)
        for k in range(5):
            start = tomorrow(8 + 2 * k, 15) - WEEK
            insert_booking(conn, place, place.spaces[0], start, start + timedelta(hours=1), created_at=later)
        off = api_settings.model_copy(update={"parking_forecast_weeks": 0})
        with TestClient(create_app(off)) as without:
            taken = book(without, place, tomorrow(8), tomorrow(18))
            assert taken.status_code == 201, taken.text  # only admission control stands in the way
            cancelled = without.delete(f"/v1/parking/bookings/{taken.json()['id']}", headers=place.app)
            assert cancelled.status_code == 200, cancelled.text
        # The first request starts solving the prices in the background and does not wait: it is
        # answered with whatever prices there are by then (none, unless this small LP won the race).
        first = book(client, place, tomorrow(8), tomorrow(18))
        assert first.status_code in (201, 409), first.text
        if first.status_code == 201:
            cancelled = client.delete(f"/v1/parking/bookings/{first.json()['id']}", headers=place.app)
            assert cancelled.status_code == 200, cancelled.text
        parking_admission.settle()
        long = book(client, place, tomorrow(8), tomorrow(18))
        assert long.status_code == 409, long.text
        assert long.json()["reason"] == "held_for_expected_demand"
        visit = book(client, place, tomorrow(10, 15), tomorrow(11, 15))
        assert visit.status_code == 201, visit.text
        reasons = conn.execute(
            "SELECT reason FROM parking_refusals WHERE community_id = %s", (place.community,)
        ).fetchall()
        assert reasons and set(reasons) == {("held_for_expected_demand",)}


def test_with_no_earlier_weeks_every_stay_that_fits_is_booked(
    client: TestClient, tenants: Tenants, conn: psycopg.Connection
) -> None:
    with lot(conn, tenants, spaces=1) as place:
        # bookings this week only: no earlier week's same day to forecast from
        start = tomorrow(8, 15) - timedelta(days=1)
        insert_booking(conn, place, place.spaces[0], start, start + timedelta(hours=1))
        assert book(client, place, tomorrow(8), tomorrow(18)).status_code == 201


def test_a_process_stops_without_waiting_for_the_prices_being_solved() -> None:
    # A solve that would take ten minutes: the process still ends as soon as its main thread does
    # (a ThreadPoolExecutor's worker was joined at exit, and `yiju api` hung on SIGTERM).
    script = (
        "import time; from api.service import parking_admission as a;"
        " a._submit(lambda: time.sleep(600)); time.sleep(0.5)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
