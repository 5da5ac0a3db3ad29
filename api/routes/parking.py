"""Shared parking: search (网上寻位), bookings and their lifecycle, owners' supply, the map (供需一张图)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response, status
from fastapi.responses import JSONResponse

from analytics.parking.model import Requester
from api.deps import ConnDep, ParkingCaller, SettingsDep, SupplyCaller
from api.errors import ERROR_RESPONSES, Invalid
from api.models import Instant, Page, PathId
from api.models_parking import (
    Booking,
    BookingIn,
    BookingStatus,
    IdempotencyKey,
    Offer,
    ParkingMap,
    RangeIn,
    Refusal,
    RulesIn,
    SpaceBooking,
    Stay,
    SupplyChanged,
)
from api.pagination import Cursor, Limit
from api.routing import StrictQueryRoute
from api.service import parking, parking_map, parking_supply

router = APIRouter(
    route_class=StrictQueryRoute, prefix="/v1/parking", tags=["parking"], responses=ERROR_RESPONSES
)

BookingId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Community = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$", examples=["xueyuan"])]
Metres = Annotated[float | None, Query(gt=0, le=100_000)]
_REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": Refusal, "description": "No space fits: `reason` and `alternatives`"}
}


def refused(error: parking.Refused) -> JSONResponse:
    stays = [Stay(**s) for s in error.alternatives]
    body = Refusal(code=error.code, message=error.message, reason=error.reason, alternatives=stays)
    return JSONResponse(body.model_dump(mode="json"), status_code=error.status)


@router.get("/spaces/search", response_model=list[Offer])
def search(
    conn: ConnDep,
    who: ParkingCaller,
    settings: SettingsDep,
    community: Community,
    start: Annotated[Instant, Query(alias="from", examples=["2026-11-02T09:00:00+08:00"])],
    end: Annotated[Instant, Query(alias="to", examples=["2026-11-02T17:30:00+08:00"])],
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    max_walk_m: Metres = None,
    ev: Annotated[bool, Query(description="needs a charger")] = False,
    accessible: bool = False,
    large: bool = False,
    requester: Requester = Requester.VISITOR,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    """Spaces free for the whole stay near a point, nearest first, with the stay's price."""
    if end <= start or (lat is None) != (lon is None):
        raise Invalid("`to` must be after `from`, and lat and lon come together")
    needs = {"ev": ev, "energy_kwh": 1.0 if ev else 0.0, "accessible": accessible, "large": large}
    return parking.search(
        conn, who, settings, community_id=community, start=start, end=end, limit=limit, lat=lat, lon=lon,
        max_walk_m=max_walk_m, requester=requester.value, **needs,
    )  # fmt: skip


@router.post(
    "/bookings",
    response_model=Booking,
    status_code=status.HTTP_201_CREATED,
    responses={
        **_REFUSED,
        200: {"model": Booking, "description": "A retry: the booking made the first time"},
    },
)
def book(
    body: BookingIn,
    response: Response,
    conn: ConnDep,
    who: ParkingCaller,
    settings: SettingsDep,
    idempotency_key: Annotated[IdempotencyKey, Header(alias="Idempotency-Key", examples=["7c1e0d2a-app-42"])],
) -> Any:
    """Book a space for a stay: the space, price and confirmation code, or 409 with the reason and
    alternative stays. A retry with the same Idempotency-Key and body returns the same booking (200)."""
    try:
        booking, made = parking.book(conn, who, settings, body=body, idempotency_key=idempotency_key)
    except parking.Refused as error:
        return refused(error)
    response.status_code = status.HTTP_201_CREATED if made else status.HTTP_200_OK
    return booking


@router.get("/bookings", response_model=Page[Booking])
def list_(
    conn: ConnDep,
    who: ParkingCaller,
    community: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")] = None,
    space_id: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")] = None,
    status: BookingStatus | None = None,
    since: Annotated[Instant | None, Query(description="stays ending after")] = None,
    until: Annotated[Instant | None, Query(description="stays beginning before")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The caller's bookings (a parking app's own; an operator's communities'), newest first."""
    filters = {"community": community, "space": space_id, "status": status, "since": since, "until": until}
    items, next_cursor = parking.list_bookings(conn, who, filters=filters, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/bookings/{booking_id}", response_model=Booking)
def get(booking_id: BookingId, conn: ConnDep, who: ParkingCaller) -> dict[str, Any]:
    """One booking."""
    return parking.get(conn, who, id=booking_id)


@router.delete("/bookings/{booking_id}", response_model=Booking)
def cancel(booking_id: BookingId, conn: ConnDep, who: ParkingCaller) -> dict[str, Any]:
    """Cancel a booking not yet checked in; 409 in any other status."""
    return parking.cancel(conn, who, id=booking_id)


@router.post("/bookings/{booking_id}/check-in", response_model=Booking)
def check_in(booking_id: BookingId, conn: ConnDep, who: ParkingCaller) -> dict[str, Any]:
    """The car has arrived (gates check in by plate on their own)."""
    return parking.check_in(conn, who, id=booking_id)


@router.post("/bookings/{booking_id}/check-out", response_model=Booking)
def check_out(booking_id: BookingId, conn: ConnDep, who: ParkingCaller) -> dict[str, Any]:
    """The car has left."""
    return parking.check_out(conn, who, id=booking_id)


@router.put("/spaces/{space_id}/availability", response_model=SupplyChanged)
def set_rules(
    space_id: PathId, body: RulesIn, conn: ConnDep, who: SupplyCaller, settings: SettingsDep
) -> dict[str, Any]:
    """Replace the space's recurring availability (owner: own spaces only); bookings it no longer
    holds move to other spaces or are cancelled with a reason."""
    rules = [r.model_dump() for r in body.rules]
    return parking_supply.set_rules(conn, who, settings, id=space_id, rules=rules)


@router.post("/spaces/{space_id}/availability", response_model=SupplyChanged)
def open_window(
    space_id: PathId, body: RangeIn, conn: ConnDep, who: SupplyCaller, settings: SettingsDep
) -> dict[str, Any]:
    """Open the space to others for a one-off range."""
    return parking_supply.open_window(
        conn, who, settings, id=space_id, start=body.start, end=body.end, reason=body.reason
    )


@router.post("/spaces/{space_id}/withdrawals", response_model=SupplyChanged)
def withdraw(
    space_id: PathId, body: RangeIn, conn: ConnDep, who: SupplyCaller, settings: SettingsDep
) -> dict[str, Any]:
    """Take the space back for a future range: its bookings there move or are cancelled (owner_withdrew)."""
    return parking_supply.withdraw(
        conn, who, settings, id=space_id, start=body.start, end=body.end, reason=body.reason
    )


@router.get("/spaces/{space_id}/bookings", response_model=Page[SpaceBooking])
def space_bookings(
    space_id: PathId,
    conn: ConnDep,
    who: SupplyCaller,
    since: Annotated[Instant | None, Query(description="stays ending after")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Bookings on a space the caller manages: times and status only."""
    items, next_cursor = parking_supply.space_bookings(
        conn, who, id=space_id, since=since, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/map", response_model=ParkingMap)
def map_(
    conn: ConnDep,
    who: ParkingCaller,
    settings: SettingsDep,
    community: Community,
    at: Annotated[Instant | None, Query(description="default: now")] = None,
) -> dict[str, Any]:
    """GeoJSON of the community's spaces (free, booked, occupied) with supply and demand for the hour."""
    return parking_map.geojson(conn, who, settings, community_id=community, at=at or datetime.now(UTC))
