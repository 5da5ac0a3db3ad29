"""Admission control for new bookings: bid prices (`analytics.parking.admission`) forecast from the
community's own demand on the same weekdays of the last `parking_forecast_weeks` weeks.

The forecast is every request of those days, booked or refused, moved forward by whole weeks, with
the moment it was booked moved alike: the requests "still to come" at a moment are those booked
later than it in earlier weeks. A community without such history gets no admission control.
Where a driver was headed is not kept, so a booked request is placed at its space and a refused
one at the community's point, walking any distance; a refused EV is taken not to need a charger
(its energy is not kept). Bid prices are solved once per `parking_admission_step_min` per worker,
community and frame (the LP takes up to about a second for a busy car park's month).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import psycopg

from analytics.parking import admission
from analytics.parking.model import BUFFER_MINUTES, Request, Requester
from api.queries import PARKING
from api.service.parking_state import Community, Frame, State
from api.service.rows import all_rows
from core.config import Settings

WEEK = timedelta(days=7)
_MAX_CACHED = 256
_cache: dict[tuple[Any, ...], admission.Admission] = {}
_lock = threading.Lock()


def control(
    conn: psycopg.Connection, place: Community, state: State, now: datetime, settings: Settings
) -> admission.Admission | None:
    """The community's admission control over the state's frame (None: no history or turned off).
    Its clock is the frame's minute. The forecast is read again every hour."""
    weeks = settings.parking_forecast_weeks
    if weeks == 0 or not state.spaces:
        return None
    frame = state.frame
    supply = tuple((s.id, s.kind, s.windows, s.charger_kw, s.x, s.y) for s in state.spaces)
    hour = int(now.timestamp() // 3600)
    key = (
        place.id,
        frame.origin_local,
        frame.horizon,
        weeks,
        settings.parking_admission_step_min,
        hour,
        hash(supply),
    )
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached if cached.demand.requests else None
    res = admission.resources(state.spaces, BUFFER_MINUTES)
    days, booked = history(conn, place, frame, weeks, now)
    made = admission.Admission(
        res, admission.forecast(res, state.spaces, days, booked), step=settings.parking_admission_step_min
    )
    with _lock:
        if len(_cache) >= _MAX_CACHED:
            _cache.clear()
        _cache[key] = made
    return made if made.demand.requests else None


def history(
    conn: psycopg.Connection, place: Community, frame: Frame, weeks: int, now: datetime
) -> tuple[list[list[Request]], list[list[float]]]:
    """Per earlier week whose days of the frame are over and had demand: its requests moved into
    the frame, and when each was booked (frame minutes)."""
    done = [k for k in range(1, weeks + 1) if frame.end - k * WEEK <= now]
    if not done:
        return [], []
    params = {"community": place.id, "lo": frame.origin - done[-1] * WEEK, "hi": frame.end - done[0] * WEEK}
    rows = all_rows(conn, PARKING.demand_history, params)
    days: list[list[Request]] = []
    booked: list[list[float]] = []
    for k in done:
        shift = k * WEEK
        mine = [r for r in rows if frame.origin <= r["arrival"] + shift < frame.end]
        if mine:
            days.append([_request(f"w{k}-{i}", r, frame, place, shift) for i, r in enumerate(mine)])
            booked.append([frame.minute(r["booked_at"] + shift) for r in mine])
    return days, booked


def _request(id: str, row: dict[str, Any], frame: Frame, place: Community, shift: timedelta) -> Request:
    x, y = place.xy(row["lat"], row["lon"])
    arrival = frame.minute(row["arrival"] + shift)
    return Request(
        id=id,
        arrival=arrival,
        departure=max(arrival + 1, frame.minute(row["departure"] + shift, up=True)),
        requester=Requester(row["requester"]),
        energy_kwh=float(row["energy_kwh"]),
        accessible=row["accessible"],
        large=row["large"],
        x=x,
        y=y,
    )
