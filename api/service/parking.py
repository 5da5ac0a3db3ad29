"""Parking: search, book (never twice: the exclusion constraint is the final guard), the booking's
lifecycle. A booking's path: HTTP -> `book` -> engine `choose` -> constrained insert -> response."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from analytics.parking import online
from analytics.parking.admission import Admission
from analytics.parking.model import BUFFER_MINUTES, Booking, Request, Space, overlaps, price, refusal, walk_m
from api.errors import ApiError, Conflict, Invalid, NotFound
from api.models_parking import BookingIn
from api.pagination import bigint, decode, page
from api.queries import PARKING
from api.security import Principal, Role
from api.service import parking_admission
from api.service.access import audit
from api.service.parking_state import Community, Frame, State, frame_for, load, to_request
from api.service.rows import Page, all_rows, one_row
from core.config import Settings

logger = logging.getLogger(__name__)


class Refused(ApiError):
    """No space can take the request: a machine-readable reason and stays that would fit."""

    status, code = 409, "refused"

    def __init__(self, message: str, *, reason: str, alternatives: list[dict[str, datetime]]) -> None:
        super().__init__(message)
        self.reason = reason
        self.alternatives = alternatives


class KeyReused(ApiError):
    """An Idempotency-Key sent again with another request (422: the 409 of booking is a refusal)."""

    status, code = 422, "idempotency_key_reused"


class Stale(Exception):
    """The supply or a booking to move changed since the choice: choose again."""


def visibility(who: Principal) -> dict[str, Any]:
    """Query parameters limiting what a caller sees: its company's communities (a parking app
    without a company: all of them) and, for a parking app, the bookings it made."""
    everywhere = who.role is Role.ADMIN or (who.role is Role.PARKING_APP and who.company_id is None)
    return {
        "tenant": None if everywhere else (who.company_id or ""),
        "maker": who.key_id if who.role is Role.PARKING_APP else None,
    }


def community(conn: psycopg.Connection, who: Principal, id: str) -> Community:
    """A community in service the caller may park in; 404 otherwise (another company's too)."""
    row = one_row(conn, PARKING.community, {"id": id, **visibility(who)})
    if row is None:
        raise NotFound(f"community {id!r} not found")
    return Community(row["id"], row["lat"], row["lon"])


def whole_minutes(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole minutes."""
    lo = start.astimezone(UTC).replace(second=0, microsecond=0)
    hi = end.astimezone(UTC).replace(second=0, microsecond=0)
    return lo, hi if hi == end else hi + timedelta(minutes=1)


def check_stay(arrival: datetime, departure: datetime, now: datetime, settings: Settings) -> None:
    """422 for a stay in the past, too long or too far ahead."""
    if departure <= now:
        raise Invalid("the stay is over already")
    if departure - arrival > timedelta(hours=settings.parking_max_stay_hours):
        raise Invalid(f"a stay may last at most {settings.parking_max_stay_hours} hours")
    if arrival > now + timedelta(days=settings.parking_max_advance_days):
        raise Invalid(f"bookings open {settings.parking_max_advance_days} days ahead")


def stays(frame: Frame, spans: Sequence[tuple[int, int]]) -> list[dict[str, datetime]]:
    return [{"arrival": frame.instant(a), "departure": frame.instant(d)} for a, d in spans]


def refusal_of(
    request: Request,
    state: State,
    allocator: online.OnlineAllocator,
    now: datetime,
    control: Admission | None = None,
) -> Refused:
    """Why nothing fits, from the engine (the allocator that refused it), with alternative stays
    (none in the past) that admission control would let in too."""
    minute = state.frame.minute(now)
    reason = online.refusal_reason(request, state.spaces, state.bookings_by_space, BUFFER_MINUTES)
    # where admission control turned no space away, the refused search was the whole one
    if reason == "full" and control is not None and allocator.held_back and allocator.fits(request, minute):
        reason = online.HELD
    spans = online.alternatives(request, allocator, limit=3, now=minute, clock=minute)
    message = (
        "this stay would hold spaces that more drivers are expected to need; a shorter stay or other"
        " hours may fit"
        if reason == online.HELD
        else f"no space can take this stay: {reason}"
    )
    return Refused(message, reason=reason, alternatives=stays(state.frame, spans))


def free_for(space: Space, request: Request, state: State) -> bool:
    """Whether no live booking on `space` overlaps the request's stay with its buffers."""
    wanted = (request.arrival - BUFFER_MINUTES, request.departure + BUFFER_MINUTES)
    return not any(overlaps(b.occupied(0), wanted) for b in state.bookings_by_space.get(space.id, ()))


def search(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, community_id: str, start: datetime,
    end: datetime, limit: int, **needs: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """Spaces free for the whole stay that the driver may use, nearest first, with their price."""
    place = community(conn, who, community_id)
    now = datetime.now(UTC)
    start, end = whole_minutes(start, end)
    check_stay(start, end, now, settings)
    frame = frame_for(start, end, ZoneInfo(settings.api_timezone))
    state = load(conn, place, frame, now)
    request = to_request("search", frame, place, arrival=start, departure=end, **needs)
    offers = []
    for space in state.spaces:
        if refusal(space, request) is None and free_for(space, request, state):
            row = state.rows[space.id]
            offers.append(
                {
                    "space_id": space.id,
                    "label": row["label"],
                    "kind": space.kind.value,
                    "charger_kw": space.charger_kw,
                    "accessible": space.accessible,
                    "large": space.large,
                    "covered": row["covered"],
                    "lat": row["lat"],
                    "lon": row["lon"],
                    "walk_m": round(walk_m(space, request), 1),
                    "price": price(space, request),
                }
            )
    return sorted(offers, key=lambda o: (o["walk_m"], o["price"], o["space_id"]))[:limit]


def _digest(body: BookingIn) -> bytes:
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).digest()


def _replay(conn: psycopg.Connection, who: Principal, key: str, digest: bytes) -> int | None:
    """The booking an earlier request with this idempotency key made, if any."""
    row = one_row(conn, PARKING.by_idempotency, (who.key_id, key))
    if row is None:
        return None
    if bytes(row["request_hash"]) != digest:
        raise KeyReused("this Idempotency-Key was used for another request; use a new key for a new booking")
    return int(row["id"])


def apply_moves(
    conn: psycopg.Connection, state: State, moves: Sequence[Booking], *, reason: str, notice: str | None
) -> None:
    """Re-assign not-yet-bound bookings as the engine re-packed them; Stale if one has changed."""
    if moves:
        # A re-packing may swap bookings between spaces: check overlaps once all have moved.
        conn.execute("SET CONSTRAINTS parking_bookings_no_overlap DEFERRED")
    for move in moves:
        before = state.booking_rows[int(move.request_id)]["space_id"]
        change = {"id": int(move.request_id), "from": before, "to": move.space_id, "reason": notice}
        if conn.execute(PARKING.move, change).fetchone() is None:
            raise Stale(move.request_id)
        conn.execute(PARKING.log_change, (change["id"], "moved", before, move.space_id, reason))


def _apply(
    conn: psycopg.Connection,
    who: Principal,
    state: State,
    placement: online.Placement,
    params: dict[str, Any],
) -> int:
    """Write a placement: check the supply it saw is current, move, insert (one transaction)."""
    targets = sorted({placement.booking.space_id, *(m.space_id for m in placement.moves)})
    for space_id, version in conn.execute(PARKING.lock_spaces, (targets,)).fetchall():
        if version != state.rows[space_id]["supply_version"]:
            raise Stale(space_id)
    apply_moves(conn, state, placement.moves, reason="repacked", notice=None)
    row = conn.execute(PARKING.insert, params).fetchone()
    assert row is not None
    booking_id = int(row[0])
    audit(conn, who, "parking.book", f"booking:{booking_id}", space_id=placement.booking.space_id)
    return booking_id


def _choose(
    conn: psycopg.Connection,
    settings: Settings,
    place: Community,
    frame: Frame,
    request: Request,
    now: datetime,
) -> tuple[State, Admission | None, online.OnlineAllocator, online.Placement | None]:
    """The engine's placement of the request on the community's current state, through the
    community's admission control; the allocator holds the placement, if any."""
    state = load(conn, place, frame, now)
    control = parking_admission.control(conn, place, state, now, settings)
    allocator = online.current(
        state.spaces, state.bookings_by_space, BUFFER_MINUTES, settings.parking_bind_lead_min,
        state.requests, control,
    )  # fmt: skip
    placement = allocator.place(request, frame.minute(now), clock=frame.minute(now))
    return state, control, allocator, placement


def book(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, body: BookingIn, idempotency_key: str
) -> tuple[dict[str, Any], bool]:
    """Book a space for the stay, or refuse with a reason; (booking, made now). A retry with the
    same Idempotency-Key and body returns the first booking; racing requests for the last space
    meet at the exclusion constraint, and the loser chooses again."""
    place = community(conn, who, body.community_id)
    digest = _digest(body)
    now = datetime.now(UTC)
    arrival, departure = whole_minutes(body.arrival, body.departure)
    frame = frame_for(arrival, departure, ZoneInfo(settings.api_timezone))
    needs = body.model_dump(exclude={"community_id", "arrival", "departure", "plate_hash"})
    request = to_request("new", frame, place, arrival=arrival, departure=departure, **needs)
    for attempt in range(settings.parking_booking_attempts):
        earlier = _replay(conn, who, idempotency_key, digest)
        if earlier is not None:
            return get(conn, who, id=earlier), False
        if attempt == 0:
            check_stay(arrival, departure, now, settings)
        try:
            with conn.transaction():
                state, control, allocator, placement = _choose(conn, settings, place, frame, request, now)
                if placement is None:
                    raise refusal_of(request, state, allocator, now, control)
                space = next(s for s in state.spaces if s.id == placement.booking.space_id)
                params = {
                    "code": "YJ-" + secrets.token_hex(5).upper(),
                    "community": place.id,
                    "space": space.id,
                    "plate_hash": body.plate_hash,
                    **needs,
                    "requester": request.requester.value,
                    "arrival": arrival,
                    "departure": departure,
                    "buffer": BUFFER_MINUTES,
                    "price": price(space, request),
                    "bound": arrival - timedelta(minutes=settings.parking_bind_lead_min) <= now,
                    "key": who.key_id,
                    "idempotency_key": idempotency_key,
                    "hash": digest,
                }
                booking_id = _apply(conn, who, state, placement, params)
        except (psycopg.errors.ExclusionViolation, psycopg.errors.UniqueViolation, Stale) as lost:
            logger.debug("booking attempt %d lost a race: %s", attempt + 1, type(lost).__name__)
            continue
        except Refused as refused:
            _remember(conn, who, body, refused, idempotency_key)
            raise
        return get(conn, who, id=booking_id), True
    earlier = _replay(conn, who, idempotency_key, digest)
    if earlier is not None:
        return get(conn, who, id=earlier), False
    contention = Refused(
        "too many requests raced for these spaces; try again", reason="contention", alternatives=[]
    )
    _remember(conn, who, body, contention, idempotency_key)
    raise contention


def _remember(
    conn: psycopg.Connection, who: Principal, body: BookingIn, refused: Refused, idempotency_key: str
) -> None:
    """Record a refused request (once per Idempotency-Key): unmet demand, for the map and operators."""
    conn.execute(
        PARKING.refused,
        {
            "community": body.community_id, "arrival": body.arrival, "departure": body.departure,
            "requester": body.requester.value, "ev": body.ev, "accessible": body.accessible,
            "reason": refused.reason, "key": who.key_id, "idempotency_key": idempotency_key,
        },
    )  # fmt: skip


def get(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """A booking the caller may see."""
    row = one_row(conn, PARKING.get, {"id": id, **visibility(who)})
    if row is None:
        raise NotFound(f"booking {id} not found")
    return row


def list_bookings(
    conn: psycopg.Connection, who: Principal, *, filters: dict[str, Any], limit: int, cursor: str | None
) -> Page:
    """Bookings newest first."""
    after = decode(cursor, [bigint])
    params = {**filters, **visibility(who), "after": after and after[0], "limit": limit + 1}
    return page(all_rows(conn, PARKING.page, params), limit, lambda r: [r["id"]])


def _transition(
    conn: psycopg.Connection, who: Principal, *, id: int, query: Any, args: tuple[Any, ...], action: str
) -> dict[str, Any]:
    booking = get(conn, who, id=id)
    with conn.transaction():
        if conn.execute(query, (*args, id)).fetchone() is None:
            raise Conflict(f"booking {id} is {booking['status']}: {action} does not apply")
        change = {"cancel": "cancelled", "check-in": "checked_in", "check-out": "checked_out"}[action]
        conn.execute(PARKING.log_change, (id, change, None, None, "api"))
        audit(conn, who, f"parking.{action}", f"booking:{id}")
    return get(conn, who, id=id)


def cancel(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """Cancel a booking not yet checked in; the space is free again at once."""
    reason = "cancelled_by_requester"
    return _transition(conn, who, id=id, query=PARKING.cancel, args=(reason, None), action="cancel")


def check_in(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """The car is in (the gate usually says so; an attendant may too)."""
    return _transition(conn, who, id=id, query=PARKING.check_in, args=(datetime.now(UTC),), action="check-in")


def check_out(conn: psycopg.Connection, who: Principal, *, id: int) -> dict[str, Any]:
    """The car has left."""
    return _transition(
        conn, who, id=id, query=PARKING.check_out, args=(datetime.now(UTC),), action="check-out"
    )
