"""A simulated history of shared-parking bookings for dashboards and their benchmark.

The simulated parking app's requests (`simulators.parking_app`) over the window are placed, in
the order they were made, by Yiju's online allocator on the community's registered spaces (the
same state the API builds: windows, prices, attributes), then written as the API writes bookings,
each with the status it has at the window's end: completed or no-show when over, checked in
while the car is there, booked when still ahead. The API itself refuses stays in the past, so
history cannot go through it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from analytics.parking import online
from analytics.parking.model import BUFFER_MINUTES, price
from api.queries import PARKING
from api.security import Role
from api.service import access, parking_state
from bench.queries import BOOKINGS
from core.config import Settings
from simulators.community import Community
from simulators.parking_app import intents

NO_SHOW_AFTER = timedelta(minutes=20)


def fill_bookings(
    conn: psycopg.Connection, settings: Settings, community: Community, window: tuple[datetime, datetime],
    *, seed: int, per_day: float = 400,
) -> int:  # fmt: skip
    """Write the window's bookings, and the requests refused as the API records them; returns how
    many bookings were made."""
    start, end = window
    made = list(intents([community], start, end, seed, per_day))
    if not made:
        return 0
    place = parking_state.Community(community.id, community.lat, community.lon)
    last = max(datetime.fromisoformat(i.body["departure"]) for i in made)
    frame = parking_state.frame_for(start, last, ZoneInfo(settings.api_timezone))
    state = parking_state.load(conn, place, frame, start)
    allocator = online.OnlineAllocator(state.spaces)
    requests, shows, refused = {}, {}, []
    for n, intent in enumerate(made):
        body = intent.body
        request = parking_state.to_request(
            str(n), frame, place, arrival=datetime.fromisoformat(body["arrival"]),
            departure=datetime.fromisoformat(body["departure"]), requester=body["requester"], ev=body["ev"],
            energy_kwh=body["energy_kwh"], accessible=body["accessible"], large=body["large"],
            lat=body["lat"], lon=body["lon"], max_walk_m=body["max_walk_m"], max_price=body["max_price"],
        )  # fmt: skip
        if allocator.place(request, now=frame.minute(intent.made_at)) is not None:
            requests[request.id], shows[request.id] = (request, intent), intent.shows
        else:
            refused.append((request, intent))
    key = access.create_key(
        conn, role=Role.PARKING_APP, company_id=None, scopes=None, expires_in_days=1,
        label="bench: simulated booking history", created_by="bench",
    )  # fmt: skip
    spaces = {s.id: s for s in state.spaces}
    rows = []
    for booking in allocator.bookings.values():
        request, intent = requests[booking.request_id]
        arrival, departure = frame.instant(booking.arrival), frame.instant(booking.departure)
        status, checked_in, checked_out = _status(arrival, departure, end, shows[booking.request_id])
        rows.append({
            **{k: intent.body[k] for k in ("community_id", "requester", "plate_hash", "ev", "energy_kwh",
                                           "accessible", "large")},
            "code": f"SIM-{community.id}-{seed}-{booking.request_id}", "space_id": booking.space_id,
            "arrival": arrival, "departure": departure,
            "held_from": arrival - timedelta(minutes=BUFFER_MINUTES),
            "held_to": departure + timedelta(minutes=BUFFER_MINUTES),
            "price": price(spaces[booking.space_id], request), "status": status, "bound": arrival <= end,
            "created_at": intent.made_at, "checked_in_at": checked_in, "checked_out_at": checked_out,
            "api_key_id": key["id"], "idempotency_key": f"sim-{seed}-{booking.request_id}",
            "request_hash": hashlib.sha256(json.dumps(intent.body, sort_keys=True).encode()).digest(),
        })  # fmt: skip
    unmet = [
        {
            "community": body["community_id"], "arrival": body["arrival"], "departure": body["departure"],
            "requester": body["requester"], "ev": body["ev"], "accessible": body["accessible"],
            "reason": online.refusal_reason(request, state.spaces), "key": key["id"],
            "idempotency_key": f"sim-{seed}-{request.id}",
        }
        for request, body in ((r, i.body) for r, i in refused)
    ]  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(BOOKINGS.insert, rows)
        cur.executemany(PARKING.refused, unmet)  # as the API records a refusal
    return len(rows)


def _status(
    arrival: datetime, departure: datetime, end: datetime, shows: bool
) -> tuple[str, datetime | None, datetime | None]:
    """(status, checked in at, checked out at) as of `end`."""
    came = arrival + timedelta(minutes=3)
    if departure <= end:
        return ("completed", came, departure) if shows else ("no_show", None, None)
    if arrival <= end:
        if shows and came <= end:
            return "checked_in", came, None
        return ("no_show", None, None) if end - arrival > NO_SHOW_AFTER else ("booked", None, None)
    return "booked", None, None
