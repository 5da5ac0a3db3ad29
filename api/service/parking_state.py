"""A community's parking as the allocation engine sees it: minutes on a local-midnight axis,
spaces with their windows expanded, live bookings by space."""

from __future__ import annotations

import math
import threading
import time as clock
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from analytics.parking import windows
from analytics.parking.model import BUFFER_MINUTES, Booking, PriceRule, Request, Requester, Space, SpaceKind
from api.queries import PARKING
from api.service.rows import all_rows

SUPPLY_CACHE_S = 60.0  # a backstop: a space edited outside the API without a version bump
MARGIN_MIN = 8 * 60  # beyond a stay: the engine's alternatives look up to 6 h either side
_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0
_PRICE_FIELDS = frozenset(PriceRule.__dataclass_fields__)


@dataclass(frozen=True)
class Frame:
    """Minutes from a local midnight (model.price reads nights from minute 0 on)."""

    origin_local: datetime
    horizon: int

    @cached_property
    def origin(self) -> datetime:
        # cached: a booking converts hundreds of instants, and astimezone was a tenth of its time
        return self.origin_local.astimezone(UTC)

    @property
    def end(self) -> datetime:
        return self.instant(self.horizon)

    def minute(self, moment: datetime, *, up: bool = False) -> int:
        """Whole minutes from the origin (rounded down, or up)."""
        seconds = (moment - self.origin).total_seconds()
        return math.ceil(seconds / 60) if up else math.floor(seconds / 60)

    def instant(self, minute: int) -> datetime:
        return self.origin + timedelta(minutes=minute)


def frame_for(start: datetime, end: datetime, tz: ZoneInfo) -> Frame:
    """A frame from the local midnight before the day of `start - margin` past `end + margin`."""
    first: date = (start - timedelta(minutes=MARGIN_MIN)).astimezone(tz).date()
    origin_local = datetime.combine(first, time(0), tz)
    horizon = math.ceil((end - origin_local.astimezone(UTC)).total_seconds() / 60) + MARGIN_MIN
    horizon = -(-horizon // 720) * 720  # whole half-days: requests of a day share a frame (and a cache entry)
    return Frame(origin_local, horizon)


@dataclass(frozen=True)
class Community:
    """Where a community's local plane is centred."""

    id: str
    lat: float
    lon: float

    def xy(self, lat: float | None, lon: float | None) -> tuple[float, float]:
        """Metres east and north of the community's point (a space without a position sits there)."""
        if lat is None or lon is None:
            return 0.0, 0.0
        east = (lon - self.lon) * _M_PER_DEG_LON * math.cos(math.radians(self.lat))
        return east, (lat - self.lat) * _M_PER_DEG_LAT


@dataclass
class State:
    """The spaces (engine and database rows) and the live bookings overlapping a frame."""

    frame: Frame
    community: Community
    spaces: list[Space]
    rows: dict[str, dict[str, Any]]
    bookings_by_space: dict[str, list[Booking]] = field(default_factory=dict)
    booking_rows: dict[int, dict[str, Any]] = field(default_factory=dict)

    @cached_property
    def requests(self) -> Movable:
        """The requests of the bookings that may still move, made when first read."""
        return Movable(self.booking_rows, self.frame, self.community)

    def without(self, booking_id: int) -> State:
        """The same state as if a booking were not there (to place it again)."""
        key = str(booking_id)
        by_space = {s: [b for b in bs if b.request_id != key] for s, bs in self.bookings_by_space.items()}
        rows = {i: r for i, r in self.booking_rows.items() if i != booking_id}
        return State(self.frame, self.community, self.spaces, self.rows, by_space, rows)


class Movable(Mapping[str, Request]):
    """Request id -> the request of each booking not yet checked in or bound, made on first read.

    By hand: a booking loads its car park's live bookings (hundreds), and making every one's
    request took a tenth of its time, where a search reads a handful."""

    def __init__(self, rows: dict[int, dict[str, Any]], frame: Frame, community: Community) -> None:
        self._rows = {str(i): r for i, r in rows.items() if r["status"] == "booked" and not r["bound"]}
        self._frame, self._community = frame, community
        self._made: dict[str, Request] = {}

    def __getitem__(self, key: str) -> Request:
        if key not in self._made:
            self._made[key] = booking_request(self._rows[key], self._frame, self._community)
        return self._made[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def price_rule(overrides: dict[str, Any]) -> PriceRule:
    """A space's price rule: the model's defaults with the space's overrides."""
    return PriceRule(**{k: v for k, v in overrides.items() if k in _PRICE_FIELDS})


def space_kind(value: str) -> SpaceKind:
    try:
        return SpaceKind(value)
    except ValueError:
        return SpaceKind.PUBLIC


@lru_cache(maxsize=4096)
def _windows(
    rules: tuple[tuple[str, str, str], ...],
    origin_local: datetime,
    horizon: int,
    one_off: tuple[tuple[int, int], ...],
    withdrawn: tuple[tuple[int, int], ...],
) -> tuple[tuple[int, int], ...]:
    # Most spaces share a handful of rule sets and every request of a day the same frame.
    listed = [{"days": d, "start": s, "end": e} for d, s, e in rules]
    return windows.expand(listed, origin_local, horizon, one_off, withdrawn)


def to_space(row: dict[str, Any], community: Community, frame: Frame, changes: list[dict[str, Any]]) -> Space:
    """The engine's view of a space row in this frame."""
    spans = {
        kind: tuple(
            sorted(
                (frame.minute(c["start"]), frame.minute(c["end"], up=True))
                for c in changes
                if c["kind"] == kind
            )
        )
        for kind in ("open", "withdrawn")
    }
    rules = tuple((r.get("days", "daily"), r["start"], r["end"]) for r in row["availability"])
    x, y = community.xy(row["lat"], row["lon"])
    return Space(
        id=row["id"],
        kind=space_kind(row["space_type"]),
        windows=_windows(rules, frame.origin_local, frame.horizon, spans["open"], spans["withdrawn"]),
        x=x,
        y=y,
        charger_kw=float(row["charger_kw"]),
        accessible=row["accessible"],
        large=row["large"],
        price=price_rule(row["price_rule"]),
    )


def to_booking(row: dict[str, Any], frame: Frame, now: datetime) -> Booking:
    """A live booking in minutes; a car still parked past its departure holds the space a while
    longer (`load` ends that hold where the next booking on the space begins)."""
    departure = row["departure"]
    if row["status"] == "checked_in" and departure <= now:
        departure = now + timedelta(minutes=BUFFER_MINUTES)
    return Booking(
        str(row["id"]), row["space_id"], frame.minute(row["arrival"]), frame.minute(departure, up=True)
    )


_Rows = dict[str, dict[str, Any]]
_Supply = tuple[list[Space], _Rows]
_supply_cache: dict[tuple[str, datetime, int], tuple[float, tuple[int, int], _Supply]] = {}
_rows_cache: dict[str, tuple[float, tuple[int, int], _Rows]] = {}
_cache_lock = threading.Lock()


def _fresh(cached: tuple[float, tuple[int, int], Any], signature: tuple[int, int]) -> bool:
    return cached[1] == signature and clock.monotonic() - cached[0] < SUPPLY_CACHE_S


def supply(conn: psycopg.Connection, community: Community, frame: Frame) -> _Supply:
    """The community's spaces in a frame, from a per-process cache while the community's count
    of spaces and sum of `supply_version`s (bumped by every change of supply) stay the same; the
    space rows are kept per community, so a new frame reads only its own changes."""
    key = (community.id, frame.origin_local, frame.horizon)
    row = conn.execute(PARKING.supply_signature, (community.id,)).fetchone()
    signature = (int(row[0]), int(row[1])) if row else (0, 0)
    with _cache_lock:
        cached, cached_rows = _supply_cache.get(key), _rows_cache.get(community.id)
    if cached is not None and _fresh(cached, signature):
        return cached[2]
    if cached_rows is not None and _fresh(cached_rows, signature):
        rows = cached_rows[2]
    else:
        rows = {r["id"]: r for r in all_rows(conn, PARKING.spaces, (community.id,))}
    changes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in all_rows(conn, PARKING.supply_changes, (community.id, frame.origin, frame.end)):
        changes[change["space_id"]].append(change)
    made = ([to_space(r, community, frame, changes[i]) for i, r in rows.items()], rows)
    now = clock.monotonic()
    with _cache_lock:
        if len(_supply_cache) > 4096:
            _supply_cache.clear()
            _rows_cache.clear()
        _supply_cache[key] = (now, signature, made)
        if cached_rows is None or cached_rows[2] is not rows:
            _rows_cache[community.id] = (now, signature, rows)
    return made


def load(conn: psycopg.Connection, community: Community, frame: Frame, now: datetime) -> State:
    """Spaces and live bookings of a community over a frame (bookings always read now)."""
    spaces, rows = supply(conn, community, frame)
    state = State(frame, community, list(spaces), rows, {s.id: [] for s in spaces})
    for booking in all_rows(conn, PARKING.live_bookings, (community.id, frame.origin, frame.end)):
        state.booking_rows[booking["id"]] = booking
        state.bookings_by_space.setdefault(booking["space_id"], []).append(to_booking(booking, frame, now))
    for space_id, placed in state.bookings_by_space.items():
        state.bookings_by_space[space_id] = _held_until_next(placed)
    return state


def _held_until_next(placed: list[Booking]) -> list[Booking]:
    """A space's bookings in time order, an overstay's longer hold ending where the next booking's
    begins: that booking is the tick's to move or mark at risk, and until then (for good, if no
    other space takes it) the two must not clash in the engine's view."""
    ordered = sorted(placed, key=lambda b: b.arrival)
    for k, (held, following) in enumerate(pairwise(ordered)):
        latest = following.arrival - 2 * BUFFER_MINUTES
        if held.departure > latest:
            ordered[k] = replace(held, departure=max(latest, held.arrival + 1))
    return ordered


def booking_request(row: dict[str, Any], frame: Frame, community: Community) -> Request:
    """The request a booking row was made for, so that a move keeps what the driver asked for
    (not the price cap: the price quoted stays on the booking, wherever it moves)."""
    return to_request(
        str(row["id"]), frame, community, arrival=row["arrival"], departure=row["departure"],
        requester=row["requester"], ev=row["ev"], energy_kwh=row["energy_kwh"], accessible=row["accessible"],
        large=row["large"], lat=row["lat"], lon=row["lon"], max_walk_m=row["max_walk_m"],
    )  # fmt: skip


def to_request(
    id: str,
    frame: Frame,
    community: Community,
    *,
    arrival: datetime,
    departure: datetime,
    requester: str = Requester.VISITOR,
    ev: bool = False,
    energy_kwh: float = 0.0,
    accessible: bool = False,
    large: bool = False,
    lat: float | None = None,
    lon: float | None = None,
    max_walk_m: float | None = None,
    max_price: float | None = None,
) -> Request:
    """The engine's request for a stay (a car with no point given is at the community's)."""
    x, y = community.xy(lat, lon)
    return Request(
        id=id,
        arrival=frame.minute(arrival),
        departure=frame.minute(departure, up=True),
        requester=Requester(requester),
        ev=ev,
        energy_kwh=energy_kwh,
        accessible=accessible,
        large=large,
        x=x,
        y=y,
        max_walk_m=math.inf if max_walk_m is None or lat is None else max_walk_m,
        max_price=math.inf if max_price is None else max_price,
    )
