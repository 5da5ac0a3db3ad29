"""The allocation problem's vocabulary, shared by the engine, the benchmark and the API.

Time is whole minutes from an instance's origin (the API's origin is a UTC instant it chooses;
the benchmark's is midnight of the generated day). Positions are metres on a local plane (the API
projects lat/lon around the community). Everything here is immutable and free of I/O.
The engine beside it: `windows` (availability), `check` (feasibility), `fcfs`, `online`, `optimum`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

BUFFER_MINUTES = 10
"""Turnover buffer: a booking occupies [arrival - buffer, departure + buffer) on its space."""


class SpaceKind(StrEnum):
    """Who a space belongs to; the registry's `parking_spaces.space_type`."""

    RESIDENT = "resident"  # an owner's space, shared while the owner is away
    PUBLIC = "public"  # the community's own
    INSTITUTIONAL = "institutional"  # a neighbouring institution's car park, open at night (错时)
    STREET = "street"  # night-time street spaces at resident prices


class Requester(StrEnum):
    """Who asks; residents get the resident discount."""

    RESIDENT = "resident"
    VISITOR = "visitor"
    COMMUTER = "commuter"


@dataclass(frozen=True, slots=True)
class PriceRule:
    """Yuan per hour, charged pro rata by the minute.

    Night hours [night_start, night_end) of each day (minutes of the day; night_end may be below
    night_start, running past midnight) cost `night_per_hour`; a resident pays
    (1 - resident_discount) of the total.
    """

    per_hour: float = 6.0
    night_per_hour: float = 2.0
    night_start: int = 19 * 60
    night_end: int = 7 * 60
    resident_discount: float = 0.5


@dataclass(frozen=True, slots=True)
class Space:
    """A space that can be booked; `windows` are the sorted, disjoint [start, end) minutes in
    which others may use it (already expanded from recurring rules over the horizon)."""

    id: str
    kind: SpaceKind
    windows: tuple[tuple[int, int], ...]
    x: float = 0.0
    y: float = 0.0
    charger_kw: float = 0.0  # 0: no charger
    accessible: bool = False
    large: bool = False  # fits a large vehicle
    price: PriceRule = field(default_factory=PriceRule)

    @property
    def has_charger(self) -> bool:
        return self.charger_kw > 0


@dataclass(frozen=True, slots=True)
class Request:
    """One booking request: a stay [arrival, departure) and what the driver needs."""

    id: str
    arrival: int
    departure: int
    requester: Requester = Requester.VISITOR
    ev: bool = False
    energy_kwh: float = 0.0  # > 0: needs a charger space
    accessible: bool = False
    large: bool = False
    x: float = 0.0
    y: float = 0.0
    max_walk_m: float = math.inf
    max_price: float = math.inf

    def __post_init__(self) -> None:
        if self.departure <= self.arrival:
            raise ValueError(
                f"request {self.id}: departure {self.departure} is not after arrival {self.arrival}"
            )

    @property
    def needs_charger(self) -> bool:
        return self.energy_kwh > 0


@dataclass(frozen=True, slots=True)
class Booking:
    """A request placed on a space; it occupies `occupied(buffer)` there."""

    request_id: str
    space_id: str
    arrival: int
    departure: int

    def occupied(self, buffer: int = BUFFER_MINUTES) -> tuple[int, int]:
        return self.arrival - buffer, self.departure + buffer


@dataclass(frozen=True, slots=True)
class Instance:
    """A day (or horizon) of supply and demand: what the benchmark generates and solves."""

    spaces: tuple[Space, ...]
    requests: tuple[Request, ...]  # in the order they arrive at the booking service
    horizon: int = 1440  # minutes from the origin
    site_power_kw: float = math.inf  # what all chargers together may draw
    buffer: int = BUFFER_MINUTES


def price(space: Space, request: Request) -> float:
    """What `request` pays on `space`, in yuan, rounded to fen."""
    rule = space.price
    night = _night_minutes(request.arrival, request.departure, rule.night_start, rule.night_end)
    day = (request.departure - request.arrival) - night
    total = (day * rule.per_hour + night * rule.night_per_hour) / 60
    if request.requester is Requester.RESIDENT:
        total *= 1 - rule.resident_discount
    return round(total, 2)


def _night_minutes(start: int, end: int, night_start: int, night_end: int) -> int:
    """Minutes of [start, end) that fall in the nightly [night_start, night_end) (may wrap)."""
    spans = [(night_start, night_end)] if night_start < night_end else [(0, night_end), (night_start, 1440)]
    total = 0
    first_day, last_day = start // 1440, (end - 1) // 1440
    for day in range(first_day, last_day + 1):
        base = day * 1440
        for lo, hi in spans:
            total += max(0, min(end, base + hi) - max(start, base + lo))
    return total


def walk_m(space: Space, request: Request) -> float:
    return math.hypot(space.x - request.x, space.y - request.y)


def in_windows(space: Space, start: int, end: int) -> bool:
    """Whether [start, end) lies inside one availability window of `space`."""
    return any(lo <= start and end <= hi for lo, hi in space.windows)


def refusal(space: Space, request: Request) -> str | None:
    """Why `request` may never use `space` (whatever else is booked), or None if it may.

    The stay must lie inside one window; the turnover buffer is between bookings only.
    """
    if request.needs_charger and not space.has_charger:
        return "needs_charger"
    if request.accessible and not space.accessible:
        return "needs_accessible"
    if request.large and not space.large:
        return "needs_large"
    if walk_m(space, request) > request.max_walk_m:
        return "too_far"
    if not in_windows(space, request.arrival, request.departure):
        return "outside_availability"
    if price(space, request) > request.max_price:
        return "too_expensive"
    return None


def eligible(space: Space, request: Request) -> bool:
    return refusal(space, request) is None


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
