"""A better allocation near a given one: the day's time windows re-solved exactly, one at a time
(a large-neighbourhood search).

Why: on days too large for the MIP (`optimum`), the LP's rounding leaves the count short of the
LP bound. Within a window, the requests whose whole hold (stay and buffers) lies inside it are
freed, and a MIP over space types takes back as many of them as the capacity left by the other
accepted requests allows at each moment. Nothing outside the window moves, so every step stays
feasible, and a window's answer is kept only when it serves more. Each type's load stays within
its capacity at every moment, so concrete spaces are assigned once, at the end, by colouring
(`ip.colour_pairs`: interval graphs are perfect).

Measured on generated days (10,000 requests on 300 spaces, starting from the LP's rounding;
windows of 2 hours every hour, at most 5 s each, then the same half an hour later), within
`optimum.solve`'s 180 s: d/s 1.0, seed 1, 5,268 -> 5,290 after one sweep, 5,315 after both (LP
bound 5,459); d/s 0.6, seeds 1 / 2, 5,775 / 5,755 -> 5,790 / 5,763 (bounds 5,805 / 5,786), in
56-57 s in all; d/s 0.8 5,697 -> 5,720 (bound 5,754, 91 s). Windows of 6 hours every 3 gained one
request at d/s 0.6 in 81 s: their MIPs ran out of time. A long stay (a commuter's day, a
resident's night) is never freed: no 2-hour window holds it.
At d/s 1.0 (seed 1) half of those 2-hour windows' MIPs ran out of time (16 of the 30 with stays
in them that were reached, each gaining nothing; 7 gained) and the sweeps did not end within the
180 s. Sweeping 1-hour windows every half hour first (`SWEEPS`: 107 windows in 10 s, none out of
time) gains 47 of the 67 that both 2-hour sweeps had, and the 2-hour windows then add more:
d/s 1.0 seed 1 5,335 -> 5,361 and seed 2 5,314 -> 5,329 (bounds 5,459 / 5,396); d/s 1.5 4,424
-> 4,447 and 4,422 -> 4,441 (bounds 4,532 / 4,528); d/s 0.8 5,720 -> 5,723 and 5,646 -> 5,647 in
109 / 120 s; d/s 0.6 as before (5,789 / 5,763 in 58 / 51 s; the 2-hour sweeps alone found
5,789-5,790 / 5,763). A third sweep, of 3-hour windows, gained nothing at d/s 0.6 in 50 s more.
The search stops once it reaches the LP bound's floor (`enough`): 2,000 requests on 300 spaces,
d/s 0.6, seed 1 is proven in 16 s instead of 26-29.

A window's MIP (`refill`) is also the online allocator's last try before a refusal (`online`):
there the freed stays and the new one must all fit, and each keeps its type where it can, so
few bookings move.

No library does this search; HiGHS (through SciPy) solves each window.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from analytics.parking import ip
from analytics.parking.model import Booking, Instance

# (window, step) in minutes: each sweep's windows, then the same half a step later. Short windows
# first: their MIPs solve within a second or two and take most of what the long ones would, at
# once; the long ones (half of their MIPs run out of time at 10,000 requests, d/s 1.0) then add
# what only they can.
SWEEPS = ((60, 30), (120, 60))
WINDOW_S = 5.0  # a window's MIP; one that runs out keeps the window as it was
STAY = 1e-3  # `refill`'s whole reward for stays kept on their types: never worth one stay


def improve(
    instance: Instance,
    groups: list[list[int]],
    allowed: np.ndarray,
    bookings: Iterable[Booking],
    *,
    time_limit: float,
    fixed: Iterable[Booking] = (),
    enough: int | None = None,
) -> list[Booking]:
    """`bookings` improved window by window within `time_limit` seconds, as new bookings. `groups`:
    the space types (`pools.types`); `fixed` bookings are never freed. It stops early once
    `enough` requests are accepted (a bound: no more could be)."""
    started = time.perf_counter()
    requests = instance.requests
    if not requests:
        return []
    index = {r.id: i for i, r in enumerate(requests)}
    type_of = {instance.spaces[j].id: t for t, group in enumerate(groups) for j in group}
    day = _Day(instance, groups, allowed)
    for b in bookings:
        day.assigned[index[b.request_id]] = type_of[b.space_id]
    kept = list(fixed)
    day.pinned[[index[b.request_id] for b in kept]] = True
    # a second pass, half a step later, frees the holds that straddled the first one's windows
    windows = [
        (a, a + width)
        for width, step in SWEEPS
        for shift in (0, step // 2)
        for a in range(int(day.lo.min()) - shift, int(day.hi.max()), step)
    ]
    for start, end in windows:
        left = time_limit - (time.perf_counter() - started)
        if left < 1 or (enough is not None and (day.assigned >= 0).sum() >= enough):
            break
        day.resolve(start, end, min(WINDOW_S, left - 0.5))
    chosen = np.flatnonzero(day.assigned >= 0)
    return ip.colour_pairs(instance, groups, chosen, day.assigned[chosen], kept)


class _Day:
    """Each request's space type (-1: refused), and the windows' MIPs over them."""

    def __init__(self, instance: Instance, groups: list[list[int]], allowed: np.ndarray) -> None:
        requests, buffer = instance.requests, instance.buffer
        self.lo = np.array([r.arrival - buffer for r in requests], dtype=np.int64)
        self.hi = np.array([r.departure + buffer for r in requests], dtype=np.int64)
        self.by_type = allowed[:, [g[0] for g in groups]]
        self.capacity = np.array([len(g) for g in groups])
        self.assigned = np.full(len(requests), -1)
        self.pinned = np.zeros(len(requests), dtype=bool)

    def resolve(self, a: int, b: int, time_limit: float) -> None:
        """Free the requests held wholly within [a, b) and take back as many as fit."""
        lo, hi, assigned = self.lo, self.hi, self.assigned
        inside = (lo >= a) & (hi <= b) & ~self.pinned
        free = np.flatnonzero(inside)
        if free.size == 0:
            return
        held = np.flatnonzero((assigned >= 0) & (lo < b) & (hi > a) & ~inside)
        stays = Stays(lo[free], hi[free], self.by_type[free], assigned[free])
        around = Stays(lo[held], hi[held], self.by_type[held], assigned[held])
        # moves cost nothing here: the spaces are coloured once, at the end
        taken = refill(stays, around, self.capacity, (a, b), time_limit, stay=0.0)
        if taken is not None and (taken >= 0).sum() > (assigned[free] >= 0).sum():
            assigned[free] = taken


@dataclass(frozen=True, slots=True)
class Stays:
    """Holds [lo, hi) (stays with their buffers), the space types each may use and the type each
    is on (-1: none)."""

    lo: np.ndarray
    hi: np.ndarray
    may: np.ndarray  # [stay, type]
    type: np.ndarray

    def take(self, rows: np.ndarray) -> Stays:
        return Stays(self.lo[rows], self.hi[rows], self.may[rows], self.type[rows])

    def join(self, other: Stays) -> Stays:
        return Stays(
            np.concatenate([self.lo, other.lo]),
            np.concatenate([self.hi, other.hi]),
            np.concatenate([self.may, other.may]),
            np.concatenate([self.type, other.type]),
        )


def refill(
    free: Stays,
    held: Stays,
    capacity: np.ndarray,
    window: tuple[int, int],
    time_limit: float,
    *,
    stay: float = STAY,
) -> np.ndarray | None:
    """A type for each of the `free` stays, all held within `window`, -1 for those left out: as
    many as fit beside the `held` stays (which keep their types) without any type's load passing
    its `capacity` within the window, each stay where it is when that serves as many (the fewest
    moves; the objective's reward for that is `stay` in all, 0: none). None if HiGHS found no
    answer within `time_limit` seconds.

    A MIP over classes of stays it cannot tell apart (same hold, same types), whose variables
    count a class's stays on a type, so that identical stays make no symmetric branches."""
    a, b = window
    key = np.column_stack([free.lo, free.hi, np.packbits(free.may, axis=1)])
    _, first, cls = np.unique(key, axis=0, return_index=True, return_inverse=True)
    cls = cls.ravel()
    sizes = np.bincount(cls, minlength=first.size).astype(float)
    ci, ti = np.nonzero(free.may[first])
    if ci.size == 0:
        return np.full(free.lo.size, -1)  # none of them may use any space
    # how many of each class are on each type now: the objective prefers leaving them there
    on = free.type >= 0
    staying = np.zeros((first.size, free.may.shape[1]))
    np.add.at(staying, (cls[on], free.type[on]), 1)
    lo, hi = free.lo[first], free.hi[first]
    # the loads change only where a freed hold starts or a held one starts or ends
    edges = [np.clip(held.lo, a, b), np.clip(held.hi, a, b)]
    points = np.unique(np.concatenate([free.lo, *edges]))
    points = points[points < b]
    start, end = np.searchsorted(points, lo[ci]), np.searchsorted(points, hi[ci])
    span = end - start
    var = np.repeat(np.arange(ci.size), span)
    point = np.repeat(start, span) + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    keys, row = np.unique(ti[var] * len(points) + point, return_inverse=True)
    load = np.zeros((capacity.size, len(points) + 1), dtype=np.int64)
    np.add.at(load, (held.type, np.searchsorted(points, edges[0])), 1)
    np.add.at(load, (held.type, np.searchsorted(points, edges[1])), -1)
    row_type, row_point = np.divmod(keys, len(points))
    room = capacity[row_type] - np.cumsum(load, axis=1)[row_type, row_point]
    rows = np.concatenate([row.ravel(), len(keys) + ci])  # the load at each point, then each class's count
    cols = np.concatenate([var, np.arange(ci.size)])
    a_ub = coo_array((np.ones(rows.size), (rows, cols)), shape=(len(keys) + first.size, ci.size))
    # a stay on a type it is on now earns a share of `stay`: under `stay` in all
    bonus = stay * staying[ci, ti] / (sizes[ci] * free.lo.size)
    result = milp(
        -(1 + bonus),
        constraints=LinearConstraint(a_ub.tocsr(), -np.inf, np.concatenate([room, sizes])),
        bounds=Bounds(0, sizes[ci]),
        integrality=np.ones(ci.size),
        options={"time_limit": max(time_limit, 0.1)},
    )
    if result.x is None:
        return None
    take = np.round(result.x).astype(int)
    out = np.full(free.lo.size, -1)
    left = take.copy()
    members = [np.flatnonzero(cls == k) for k in range(first.size)]
    by_var = {(int(c), int(t)): j for j, (c, t) in enumerate(zip(ci, ti, strict=True))}
    for k, mine in enumerate(members):  # first those that may stay where they are
        for i in mine.tolist():
            j = by_var.get((k, int(free.type[i])))
            if free.type[i] >= 0 and j is not None and left[j] > 0:
                out[i], left[j] = free.type[i], left[j] - 1
    for j in np.flatnonzero(left).tolist():
        waiting = members[ci[j]][out[members[ci[j]]] < 0]
        out[waiting[: left[j]]] = ti[j]
    return out
