"""Admission control for new bookings: bid prices (`analytics.parking.admission`) forecast from the
community's own demand on the same weekdays of the last `parking_forecast_weeks` weeks.

The forecast is every request of those days, booked or refused, moved forward by whole weeks, with
the moment it was booked moved alike: the requests "still to come" at a moment are those booked
later than it in earlier weeks. A community without such history gets no admission control.
Where a driver was headed is not kept, so a booked request is placed at its space and a refused
one at the community's point, walking any distance; a refused EV is taken not to need a charger
(its energy is not kept). Bid prices are solved once per `parking_admission_step_min` per worker,
community and frame, in the background: the LPs take seconds for a busy car park's history (5 s
for eight days of 2,000 requests on 300 spaces, 2.6 s for four, on this project's 2-core machine),
and no booking waits for them. Until a frame's first prices are solved, admission control refuses
nothing there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from datetime import datetime, timedelta
from typing import Any

import psycopg

from analytics.parking import admission
from analytics.parking.model import BUFFER_MINUTES, Request, Requester
from api.queries import PARKING
from api.service.parking_state import Community, Frame, State
from api.service.rows import all_rows
from core.config import Settings

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
_MAX_CACHED = 256
_cache: dict[tuple[Any, ...], tuple[int, admission.Admission]] = {}  # -> (hour read, control)
_lock = threading.Lock()
_one_solve = threading.Lock()  # one LP at a time per process: it takes a core while it runs
_solving: dict[int, Future[None]] = {}  # id(Admission) -> its refresh under way


def _submit(solve: Callable[[], None]) -> Future[None]:
    """Run `solve` on a daemon thread, one at a time. Not a ThreadPoolExecutor: its threads are
    joined at exit, so a stopping API waited for the LP under way (minutes for a busy month)
    and was killed for it; prices lost at exit are solved again by the next process."""
    job: Future[None] = Future()

    def run() -> None:
        if not job.set_running_or_notify_cancel():
            return
        try:
            with _one_solve:
                solve()
        except BaseException as error:  # handed to the future, logged by `_finished`
            job.set_exception(error)
        else:
            job.set_result(None)

    threading.Thread(target=run, name="bid-prices", daemon=True).start()
    return job


def control(
    conn: psycopg.Connection, place: Community, state: State, now: datetime, settings: Settings
) -> admission.Admission | None:
    """The community's admission control over the state's frame (None: no history or turned off).
    Its clock is the frame's minute. The forecast is read again every hour; prices that are due
    are solved in the background over the state's bookings."""
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
        hash(supply),
    )
    with _lock:
        read, made = _cache.get(key, (None, None))
    if made is None or read != hour:
        days, booked = history(conn, place, frame, weeks, now)
        # without history nothing will be priced: no resources to work out (1.5 ms a frame, 100 spaces)
        res = admission.resources(state.spaces if days else [], BUFFER_MINUTES)
        demand = admission.forecast(res, state.spaces, days, booked)
        fresh = admission.Admission(res, demand, step=settings.parking_admission_step_min, inline=False)
        if made is not None:
            fresh.prices = made.prices  # in use until the new forecast's are solved
            fresh.rationed = made.rationed  # the day's marginal requests judged so far
        made = fresh
        with _lock:
            if len(_cache) >= _MAX_CACHED:
                _cache.clear()
            _cache[key] = (hour, made)
    if not made.demand.requests:
        return None
    step = made.due(frame.minute(now))
    if step is not None:
        _refresh(made, step, state)
    return made


def _refresh(control: admission.Admission, step: float, state: State) -> None:
    """Solve `control`'s prices at `step` in the background, unless that is under way."""
    with _lock:
        if id(control) in _solving:
            return
    column = {s.id: j for j, s in enumerate(state.spaces)}
    held = [
        (column[b.space_id], b) for bs in state.bookings_by_space.values() for b in bs if b.space_id in column
    ]
    used = control.used(held)
    with _lock:
        if id(control) in _solving:
            return
        job = _submit(lambda: control.refresh(step, used))
        _solving[id(control)] = job
    job.add_done_callback(lambda done: _finished(id(control), done))


def _finished(key: int, job: Future[None]) -> None:
    with _lock:
        _solving.pop(key, None)
    if job.exception() is not None:
        logger.error("bid prices failed", exc_info=job.exception())


def settle(timeout: float = 60.0) -> None:
    """Wait for the bid prices being solved (tests; a clean shutdown)."""
    with _lock:
        jobs = list(_solving.values())
    wait(jobs, timeout)


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
