"""Request and response bodies of /v1/parking, with the examples OpenAPI shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, Strict, StringConstraints, model_validator

from analytics.parking.model import Requester
from analytics.parking.windows import Days
from api.errors import ErrorBody
from api.models import Body, Id, Instant, Lat, Lon, Note

PlateHash = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{16,128}$"),
    Field(description="hex digest of the plate (the gate camera's hash); never the plate itself"),
]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
Hhmm = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Metres = Annotated[float, Strict(), Field(gt=0, le=100_000)]
Yuan = Annotated[float, Strict(), Field(ge=0, le=100_000)]
Kwh = Annotated[float, Strict(), Field(ge=0, le=500)]
BookingStatus = Literal["booked", "checked_in", "completed", "cancelled", "no_show"]

_ARRIVAL = "2026-11-02T09:00:00+08:00"
_DEPARTURE = "2026-11-02T17:30:00+08:00"


class Stay(BaseModel):
    """A stay [arrival, departure)."""

    arrival: datetime = Field(examples=[_ARRIVAL])
    departure: datetime = Field(examples=[_DEPARTURE])


class BookingIn(Body):
    """A request for a space; the service chooses which."""

    community_id: Id
    arrival: Instant = Field(examples=[_ARRIVAL], description="whole minutes (seconds are rounded out)")
    departure: Instant = Field(examples=[_DEPARTURE])
    plate_hash: PlateHash = Field(examples=["9f86d081884c7d659a2feaa0c55ad015"])
    requester: Requester = Requester.VISITOR
    ev: bool = False
    energy_kwh: Kwh = Field(0.0, description="> 0: needs a space with a charger", examples=[20.0])
    accessible: bool = False
    large: bool = False
    lat: Lat | None = Field(None, examples=[30.7005], description="where the driver is going")
    lon: Lon | None = Field(None, examples=[111.2903])
    max_walk_m: Metres | None = Field(None, examples=[300.0], description="from lat/lon")
    max_price: Yuan | None = Field(None, examples=[40.0])

    @model_validator(mode="after")
    def _order(self) -> BookingIn:
        if self.departure <= self.arrival:
            raise ValueError("departure must be after arrival")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class Booking(BaseModel):
    """A booking and where it stands."""

    id: int = Field(examples=[1042])
    code: str = Field(examples=["YJ-7K3F9Q2M"], description="confirmation code for the driver")
    community_id: str
    space_id: str = Field(examples=["xueyuan-ps-012"])
    space_label: str = Field(examples=["B1-012"])
    requester: Requester
    plate_hash: str
    ev: bool
    energy_kwh: float
    accessible: bool
    large: bool
    arrival: datetime = Field(examples=[_ARRIVAL])
    departure: datetime = Field(examples=[_DEPARTURE])
    price: float = Field(examples=[25.5], description="yuan, as quoted: kept wherever the booking moves")
    status: BookingStatus
    bound: bool = Field(
        description="the space is fixed (until then it may move to another with what the driver asked for)"
    )
    notice: str | None = Field(
        None, examples=["moved:owner_withdrew"], description="what the driver must be told"
    )
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None = Field(examples=["owner_withdrew"])
    checked_in_at: datetime | None
    checked_out_at: datetime | None


class Refusal(ErrorBody):
    """No space fits: why, and stays of the same length that would be accepted."""

    code: str = Field(examples=["refused"])
    reason: str = Field(
        examples=["full"],
        description="full, held_for_expected_demand, no_space_with_charger, outside_availability,"
        " too_far, ...",
    )
    alternatives: list[Stay] = Field(default_factory=list)


class Offer(BaseModel):
    """A space free for the whole of a stay."""

    space_id: str = Field(examples=["xueyuan-ps-012"])
    label: str = Field(examples=["B1-012"])
    kind: str = Field(examples=["resident"])
    charger_kw: float = Field(examples=[7.0])
    accessible: bool
    large: bool
    covered: bool
    lat: float | None
    lon: float | None
    walk_m: float = Field(examples=[120.0])
    price: float = Field(examples=[25.5], description="yuan for the stay")


class Rule(Body):
    """A recurring window, in the community's local time; `end` before `start` runs past midnight."""

    days: Days = "daily"
    start: Hhmm = Field(examples=["08:00"])
    end: Hhmm = Field(examples=["18:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> Rule:
        if self.start == self.end:
            raise ValueError("a window must not be empty")
        return self


class RulesIn(Body):
    """A space's recurring availability; an empty list means always available."""

    rules: list[Rule] = Field(
        max_length=28, examples=[[{"days": "workdays", "start": "08:00", "end": "18:00"}]]
    )


class RangeIn(Body):
    """A one-off window opened, or a range withdrawn."""

    start: Instant = Field(examples=["2026-11-07T08:00:00+08:00"])
    end: Instant = Field(examples=["2026-11-07T20:00:00+08:00"])
    reason: Note = Field("", examples=["family visiting"])

    @model_validator(mode="after")
    def _order(self) -> RangeIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class SupplyChanged(BaseModel):
    """What a change of supply did to the bookings on the space."""

    space_id: str
    rules: list[dict[str, str]]
    moved: list[int] = Field(description="bookings moved to another space (the driver is told)")
    cancelled: list[int] = Field(description="bookings no other space could take, cancelled with a reason")


class SpaceBooking(BaseModel):
    """What an owner sees of a booking on its space: no plate, no requester."""

    id: int
    arrival: datetime
    departure: datetime
    status: BookingStatus
    notice: str | None


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(examples=[{"type": "Point", "coordinates": [111.2903, 30.7005]}])
    properties: dict[str, Any] = Field(
        examples=[
            {"id": "xueyuan-ps-012", "kind": "resident", "status": "free", "charger_kw": 7.0, "price": 6.0}
        ]
    )


class ParkingMap(BaseModel):
    """GeoJSON of a community's spaces at an instant (Grafana geomap), with supply and demand."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    properties: dict[str, Any] = Field(
        examples=[{"community_id": "xueyuan", "at": _ARRIVAL, "supply": 40, "demand": 37, "free": 3}]
    )
