"""Supply: owners (and operators) publish and withdraw a space's availability; bookings the change
leaves without a place move to another space where the engine finds one, else are cancelled with
a reason the driver is told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from analytics.parking import online
from analytics.parking.model import BUFFER_MINUTES, in_windows
from api.errors import Conflict, Invalid, NotFound
from api.pagination import bigint, decode, page
from api.queries import PARKING
from api.security import Principal, Role
from api.service.access import audit
from api.service.parking import Stale, apply_moves, visibility
from api.service.parking_state import Community, booking_request, frame_for, load
from api.service.rows import Page, all_rows, one_row
from core.config import Settings

Outcome = dict[str, list[int]]


def _space(conn: psycopg.Connection, who: Principal, id: str) -> dict[str, Any]:
    """The space, locked, if the caller manages it: its owner, or an operator of its community."""
    owner = who.owner_id if who.role is Role.OWNER else None
    row = one_row(conn, PARKING.managed_space, {"id": id, "owner": owner, **visibility(who)})
    if row is None:
        raise NotFound(f"parking space {id!r} not found")
    return row


def relocate(
    conn: psycopg.Connection, settings: Settings, community: Community, booking: dict[str, Any], *,
    now: datetime, avoid: str, reason: str,
) -> str | None:  # fmt: skip
    """Move a booking off space `avoid` to wherever the engine places it (re-packing others if it
    must); the new space, or None when nothing fits. Inside the caller's transaction."""
    frame = frame_for(booking["arrival"], booking["departure"], ZoneInfo(settings.api_timezone))
    state = load(conn, community, frame, now).without(booking["id"])
    # closed rather than dropped: the bookings still on it stay in the engine's view
    state.spaces = [replace(s, windows=()) if s.id == avoid else s for s in state.spaces]
    request = booking_request(booking, frame, community)
    placement = online.choose(
        request, state.spaces, state.bookings_by_space, BUFFER_MINUTES, frame.minute(now),
        settings.parking_bind_lead_min,
        requests=state.requests,
    )  # fmt: skip
    if placement is None:
        return None
    apply_moves(conn, state, placement.moves, reason="repacked", notice=None)
    target = placement.booking.space_id
    params = {"id": booking["id"], "to": target, "reason": f"moved:{reason}"}
    if conn.execute(PARKING.reassign, params).fetchone() is None:
        raise Stale(booking["id"])
    conn.execute(PARKING.log_change, (booking["id"], "moved", avoid, target, reason))
    return target


def cancel_for(conn: psycopg.Connection, booking_id: int, space_id: str, reason: str) -> None:
    """Cancel a booking no space can take, recording why for the notice."""
    conn.execute(PARKING.cancel, (reason, f"cancelled:{reason}", booking_id))
    conn.execute(PARKING.log_change, (booking_id, "cancelled", space_id, None, reason))


def _displace(
    conn: psycopg.Connection, settings: Settings, space: dict[str, Any], *, now: datetime, reason: str
) -> Outcome:
    """Bookings on the space that its new supply no longer holds: moved, or cancelled."""
    community = Community(space["community_id"], space["community_lat"], space["community_lon"])
    outcome: Outcome = {"moved": [], "cancelled": []}
    for booking in all_rows(conn, PARKING.pending_on_space, (space["id"], now)):
        frame = frame_for(booking["arrival"], booking["departure"], ZoneInfo(settings.api_timezone))
        state = load(conn, community, frame, now)
        here = next(s for s in state.spaces if s.id == space["id"])
        stay = (frame.minute(booking["arrival"]), frame.minute(booking["departure"], up=True))
        if in_windows(here, *stay):
            continue
        if relocate(conn, settings, community, booking, now=now, avoid=space["id"], reason=reason):
            outcome["moved"].append(booking["id"])
        else:
            cancel_for(conn, booking["id"], space["id"], reason)
            outcome["cancelled"].append(booking["id"])
    return outcome


def _change(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, id: str, action: str, reason: str,
    write: Any,
) -> dict[str, Any]:  # fmt: skip
    """Lock the space, change its supply, displace what no longer fits (retried if a booking races)."""
    for _ in range(settings.parking_booking_attempts):
        now = datetime.now(UTC)
        try:
            with conn.transaction():
                space = _space(conn, who, id)
                write(space)
                conn.execute(PARKING.bump_supply, (id,))
                outcome = _displace(conn, settings, space, now=now, reason=reason)
                audit(conn, who, f"parking.{action}", f"parking_space:{id}", **outcome)
                rules = one_row(conn, PARKING.rules, (id,))
        except (psycopg.errors.ExclusionViolation, Stale):
            continue
        assert rules is not None
        return {"space_id": id, "rules": rules["availability"], **outcome}
    raise Conflict("bookings on this space kept changing; try again")


def set_rules(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, id: str, rules: list[dict[str, str]]
) -> dict[str, Any]:
    """Replace the space's recurring availability."""

    def write(space: dict[str, Any]) -> None:
        conn.execute(PARKING.set_rules, (Jsonb(rules), id))

    return _change(
        conn, who, settings, id=id, action="availability", reason="owner_changed_availability", write=write
    )


def _future(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    if end <= now:
        raise Invalid("the range is over already")
    return max(start, now), end


def open_window(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, id: str, start: datetime, end: datetime,
    reason: str,
) -> dict[str, Any]:  # fmt: skip
    """Open the space to others for a one-off range (beyond its recurring rules)."""
    start, end = _future(start, end, datetime.now(UTC))

    def write(space: dict[str, Any]) -> None:
        conn.execute(PARKING.add_supply_change, (id, "open", start, end, reason, who.actor))

    return _change(conn, who, settings, id=id, action="open", reason="owner_opened", write=write)


def withdraw(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, id: str, start: datetime, end: datetime,
    reason: str,
) -> dict[str, Any]:  # fmt: skip
    """Take the space back for a range; its bookings there move or are cancelled (owner_withdrew)."""
    start, end = _future(start, end, datetime.now(UTC))

    def write(space: dict[str, Any]) -> None:
        conn.execute(PARKING.add_supply_change, (id, "withdrawn", start, end, reason, who.actor))

    return _change(conn, who, settings, id=id, action="withdraw", reason="owner_withdrew", write=write)


def space_bookings(
    conn: psycopg.Connection,
    who: Principal,
    *,
    id: str,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """Bookings on a space the caller manages, newest first, without personal data."""
    after = decode(cursor, [bigint])
    with conn.transaction():
        _space(conn, who, id)
        rows = all_rows(
            conn,
            PARKING.space_bookings,
            {"space": id, "since": since, "after": after and after[0], "limit": limit + 1},
        )
    return page(rows, limit, lambda r: [r["id"]])
