"""The allocation problem as an integer program over space types, and concrete spaces from its answer.

Spaces are grouped into types (`pools.types`: same pool and amenities, same eligible requests), so
a variable says "request i goes to type t" and a type only needs enough free spaces at every
moment. For intervals that is exact: at most c of them overlap at any point if and only if they
can be coloured with c spaces (interval graphs are perfect), and colouring greedily by start time
finds the spaces. A type's load is checked only at its maximal cliques (a start followed by an
end), kept as a chain of occupancy variables, o_k = o_(k-1) + starts - ends, 0 <= o_k <= capacity:
each x appears in at most three rows however long its stay.

Objective: the number accepted plus a tie-break (occupied space-hours, then revenue) whose total is
under TIE_BREAK, so a MIP gap below 1 - TIE_BREAK can never trade away an accepted request.
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp
from scipy.sparse import coo_array

from analytics.parking.model import Booking, Instance, PriceRule, price
from analytics.parking.pools import pool, types

TIE_BREAK = 0.5  # the whole tie-break objective stays below this


@dataclass(frozen=True, slots=True)
class Model:
    """The IP of an instance: x variables (one per request and type it may use), then o variables."""

    groups: list[list[int]]  # type -> columns of its spaces
    requests: np.ndarray  # per x variable: request index
    types: np.ndarray  # per x variable: type index
    c: np.ndarray  # objective (minimised): -(1 + tie-break) on x, 0 on o
    a: coo_array
    lower: np.ndarray  # row bounds
    upper: np.ndarray
    bounds: Bounds
    integrality: np.ndarray

    @property
    def size(self) -> int:
        return len(self.requests)


def build(instance: Instance, allowed: np.ndarray, fixed: Iterable[Booking] = ()) -> Model:
    """The model; `fixed` bookings must be accepted, on a type of their pool."""
    spaces, requests, buffer = instance.spaces, instance.requests, instance.buffer
    groups = types(spaces, allowed)
    by_type = allowed[:, [g[0] for g in groups]]
    must = np.zeros(len(requests), dtype=bool)
    index = {r.id: i for i, r in enumerate(requests)}
    type_pool = [pool(spaces[g[0]]) for g in groups]
    space_pool = {s.id: pool(s) for s in spaces}
    for b in fixed:
        must[index[b.request_id]] = True
        by_type[index[b.request_id]] &= np.array([p == space_pool[b.space_id] for p in type_pool])
    ri, ti = np.nonzero(by_type)
    lo = np.array([r.arrival - buffer for r in requests], dtype=np.int64)[ri]
    hi = np.array([r.departure + buffer for r in requests], dtype=np.int64)[ri]
    nx = len(ri)
    rows, cols, vals, cap = [], [], [], []
    n_rows = 0
    for t, group in enumerate(groups):
        mine = np.flatnonzero(ti == t)
        if mine.size == 0:
            continue  # a type nobody may use
        points = cliques(lo[mine], hi[mine])
        end_k = np.searchsorted(points, hi[mine])
        ends = end_k < len(points)
        row = n_rows + np.arange(len(points))
        occupancy = nx + row  # o_k: one per clique point, numbered like its row
        rows += [n_rows + np.searchsorted(points, lo[mine]), n_rows + end_k[ends], row, row[1:]]
        cols += [mine, mine[ends], occupancy, occupancy[:-1]]
        vals += [-np.ones(mine.size), np.ones(int(ends.sum())), np.ones(row.size), -np.ones(row.size - 1)]
        cap += [len(group)] * len(points)
        n_rows += len(points)
    rows.append(n_rows + ri)  # one row per request: sum over types <= 1 (= 1 if it must)
    cols.append(np.arange(nx))
    vals.append(np.ones(nx))
    a = coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows + len(requests), nx + n_rows),
    )
    return Model(
        groups=groups,
        requests=ri,
        types=ti,
        c=np.concatenate([-(1.0 + tie_break(instance, groups, ri, ti)), np.zeros(n_rows)]),
        a=a,
        lower=np.concatenate([np.zeros(n_rows), must.astype(float)]),
        upper=np.concatenate([np.zeros(n_rows), np.ones(len(requests))]),
        bounds=Bounds(np.zeros(nx + n_rows), np.concatenate([np.ones(nx), np.array(cap, dtype=float)])),
        integrality=np.concatenate([np.ones(nx), np.zeros(n_rows)]),
    )


def cliques(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The starts at which the overlap of [lo, hi) intervals peaks: a start with an end at or
    before the next start. Every interval covers one, so checking the load there is enough."""
    starts, ends = np.unique(lo), np.sort(hi)
    following = np.append(starts[1:], np.iinfo(np.int64).max)
    ended = np.searchsorted(ends, following, side="right") > np.searchsorted(ends, starts, side="right")
    return starts[ended]


def tie_break(instance: Instance, groups: list[list[int]], ri: np.ndarray, ti: np.ndarray) -> np.ndarray:
    """Per x variable: occupied minutes (weight 0.8) and revenue (0.2), in total under TIE_BREAK."""
    requests, spaces = instance.requests, instance.spaces
    minutes = np.array([r.departure - r.arrival for r in requests], dtype=float)
    fares: dict[tuple[int, PriceRule], float] = {}
    revenue = np.empty(len(ri))
    for k, (i, t) in enumerate(zip(ri.tolist(), ti.tolist(), strict=True)):
        space = spaces[groups[t][0]]
        if (i, space.price) not in fares:
            fares[i, space.price] = price(space, requests[i])
        revenue[k] = fares[i, space.price]
    best = np.zeros(len(requests))
    np.maximum.at(best, ri, revenue)
    share = 0.8 * minutes[ri] / max(minutes.sum(), 1) + 0.2 * revenue / max(best.sum(), 1e-9)
    return TIE_BREAK * 0.999 * share


def run(
    model: Model,
    c: np.ndarray | None = None,
    *,
    integral: bool,
    time_limit: float,
    gap: float = 1e-4,
    interior: bool = False,
) -> OptimizeResult:
    """HiGHS on the model (objective `c` if given); `interior`: interior point, no crossover."""
    options: dict[str, object] = {"time_limit": time_limit}
    if integral:
        options["mip_rel_gap"] = gap
    if interior:
        options |= {"solver": "ipm", "run_crossover": "off"}
    with warnings.catch_warnings():
        # scipy hands options it does not know to HiGHS verbatim, warning that it does
        warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
        return milp(
            model.c if c is None else c,
            constraints=LinearConstraint(model.a.tocsr(), model.lower, model.upper),
            bounds=model.bounds,
            integrality=model.integrality if integral else None,
            options=options,
        )


def colour(
    instance: Instance,
    model: Model,
    chosen: np.ndarray,
    fixed: Iterable[Booking] = (),
) -> list[Booking]:
    """Concrete spaces for the chosen x variables, type by type, greedily by start time: the space
    a fixed booking already has if it is free, else the one freed last (the tightest fit). A
    request finding no free space is left out (never, when the loads are within capacity)."""
    requests, spaces, buffer = instance.requests, instance.spaces, instance.buffer
    had = {b.request_id: b.space_id for b in fixed}
    chosen_requests, chosen_types = model.requests[chosen], model.types[chosen]
    out = []
    for t in np.unique(chosen_types):
        members = sorted(chosen_requests[chosen_types == t].tolist(), key=lambda i: requests[i].arrival)
        free = [spaces[j].id for j in reversed(model.groups[t])]
        busy: list[tuple[int, str]] = []  # (end of hold, space id), a heap
        for i in members:
            r = requests[i]
            while busy and busy[0][0] <= r.arrival - buffer:
                free.append(heapq.heappop(busy)[1])
            if not free:
                continue
            space_id = had.get(r.id, "")
            if space_id in free:
                free.remove(space_id)
            else:
                space_id = free.pop()
            heapq.heappush(busy, (r.departure + buffer, space_id))
            out.append(Booking(r.id, space_id, r.arrival, r.departure))
    return out
