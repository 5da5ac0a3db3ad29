"""Parking as it happens, run every minute by `yiju parking tick`: bookings bind to their space
near arrival, gate passages check cars in and out by plate hash, no-shows release their space,
and the booking after an overstay moves to another space (or is marked at risk)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg

from api.queries import PARKING, PARKING_LIVE
from api.service.parking import Stale
from api.service.parking_state import Community
from api.service.parking_supply import relocate
from api.service.rows import all_rows
from core.config import Settings

logger = logging.getLogger(__name__)

EARLY_MIN = 60  # a car may enter this long before its booked arrival
GATE_LOOKBACK = timedelta(days=1)


def match_passages(conn: psycopg.Connection, settings: Settings, now: datetime) -> Counter[str]:
    """Check bookings in and out from gate passages (each passage is used once)."""
    counts: Counter[str] = Counter()
    for event in all_rows(conn, PARKING_LIVE.passages, {"since": now - GATE_LOOKBACK, "now": now}):
        query = PARKING_LIVE.arrive if event["direction"] == "in" else PARKING_LIVE.leave
        params = {"ts": event["ts"], "community": event["community_id"], "plate": event["plate_hash"]}
        with conn.transaction():
            row = conn.execute(query, {**params, "early": EARLY_MIN}).fetchone()
            booking = row[0] if row else None
            if booking is not None:
                change = "checked_in" if event["direction"] == "in" else "checked_out"
                conn.execute(PARKING.log_change, (booking, change, None, None, f"gate:{event['device_id']}"))
                counts[change] += 1
            identity = (event["device_id"], event["ts"], event["seq"])
            conn.execute(PARKING_LIVE.matched, (*identity, booking))
    return counts


def release_no_shows(conn: psycopg.Connection, settings: Settings, now: datetime) -> int:
    """Bookings not checked in within the grace period after arrival: no_show, space free."""
    with conn.transaction():
        released = conn.execute(PARKING_LIVE.no_shows, (settings.parking_no_show_grace_min, now)).fetchall()
        for booking_id, space_id in released:
            conn.execute(PARKING.log_change, (booking_id, "no_show", space_id, None, "no_check_in"))
    return len(released)


def handle_overstays(conn: psycopg.Connection, settings: Settings, now: datetime) -> Counter[str]:
    """The bookings about to start on a space still held past a departure: moved, or marked."""
    counts: Counter[str] = Counter()
    ahead = timedelta(minutes=max(settings.parking_bind_lead_min, 15))
    for (space_id,) in conn.execute(PARKING_LIVE.overstayed, {"now": now}).fetchall():
        for booking in all_rows(
            conn, PARKING_LIVE.next_on_space, {"space": space_id, "now": now, "ahead": ahead}
        ):
            community = Community(booking["community_id"], booking["community_lat"], booking["community_lon"])
            try:
                with conn.transaction():
                    moved = relocate(
                        conn, settings, community, booking, now=now, avoid=space_id, reason="overstay"
                    )
                    if moved is None:
                        conn.execute(PARKING_LIVE.at_risk, (booking["id"],))
                        conn.execute(
                            PARKING.log_change, (booking["id"], "at_risk", space_id, None, "overstay")
                        )
            except (psycopg.errors.ExclusionViolation, Stale):
                logger.info(
                    "booking %s raced while moving off overstayed %s; next tick", booking["id"], space_id
                )
                continue
            counts["moved" if moved else "at_risk"] += 1
    return counts


def tick(conn: psycopg.Connection, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """One pass of everything above; what it did."""
    now = now or datetime.now(UTC)
    bound = conn.execute(PARKING_LIVE.bind, (settings.parking_bind_lead_min, now)).rowcount
    done: Counter[str] = Counter(bound=bound)
    done.update(match_passages(conn, settings, now))
    done["no_show"] = release_no_shows(conn, settings, now)
    done.update(handle_overstays(conn, settings, now))
    return dict(done)
