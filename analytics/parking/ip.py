"""The allocation problem as an integer program over space types, and concrete spaces from its answer.

Spaces are grouped into types (`pools.types`: same tariff and amenities, same eligible requests), so
a variable says "request i goes to type t" and a type only needs enough free spaces at every
moment. For intervals that is exact: at most c of them overlap at any point if and only if they
can be coloured with c spaces (interval graphs are perfect), and colouring greedily by start time
finds the spaces. A type's load is checked only at its maximal cliques (a start followed by an
end), kept as a chain of occupancy variables, o_k = o_(k-1) + starts - ends, 0 <= o_k <= capacity:
each x appears in at most three rows however long its stay.

Objective: the number accepted plus a tie-break (occupied space-hours, then revenue) whose total is
under TIE_BREAK, so a MIP gap below 1 - TIE_BREAK can never trade away an accepted request.

`merged` states the same model over classes of requests it cannot tell apart (same stay, same
spaces), and `relax` solves either's LP relaxation, bounding it from the duals (`dual_bound`).
"""

from __future__ import annotations

import heapq
import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp
from scipy.sparse import coo_array

from analytics.parking.model import Booking, Instance, PriceRule, price
from analytics.parking.pools import types

TIE_BREAK = 0.5  # the whole tie-break objective stays below this
IPM_TOLERANCE = 1e-5
"""The interior point's relative gap: `dual_bound` stays a bound however loose it is, and HiGHS's
default (1e-8) took 17 s instead of 7 s on a 2,000-request day and 140 s instead of 56-100 s on a
10,000-request one."""


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
    """The model; `fixed` bookings must be accepted (on any space they may use: `pools`)."""
    spaces, requests, buffer = instance.spaces, instance.requests, instance.buffer
    groups = types(spaces, allowed)
    by_type = allowed[:, [g[0] for g in groups]]
    must = np.zeros(len(requests), dtype=bool)
    index = {r.id: i for i, r in enumerate(requests)}
    for b in fixed:
        must[index[b.request_id]] = True
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


def merged(
    instance: Instance, allowed: np.ndarray, fixed: Iterable[Booking] = ()
) -> tuple[Model, list[list[int]]]:
    """The model over classes of requests with the same stay and the same allowed spaces: a class's
    x counts how many of its requests go to a type, up to the class's size. Its LP has the same
    value as `build`'s (a solution of either splits or sums into one of the other) with fewer
    variables: 329,000 instead of 646,000 on a 10,000-request day; as a MIP it is the same problem
    without the symmetry of identical requests, which is what lets HiGHS prove small days (see
    `optimum`). A `fixed` booking's request is a class of its own that must be accepted. Also
    returns the classes (request indices, the first one standing for the class in the model)."""
    fixed = list(fixed)
    members = identical(instance, allowed, apart={b.request_id for b in fixed})
    first = [m[0] for m in members]
    sub = Instance(
        instance.spaces, tuple(instance.requests[i] for i in first), instance.horizon, buffer=instance.buffer
    )
    model = build(sub, allowed[first], fixed)
    sizes = np.array([len(m) for m in members], dtype=float)
    upper, x_upper = model.upper.copy(), model.bounds.ub.copy()
    upper[len(upper) - len(members) :] = sizes  # the request rows, now one per class
    x_upper[: model.size] = sizes[model.requests]
    return replace(model, upper=upper, bounds=Bounds(model.bounds.lb, x_upper)), members


def identical(instance: Instance, allowed: np.ndarray, apart: Collection[str] = ()) -> list[list[int]]:
    """The requests (indices) in classes of the same stay and the same allowed spaces, each class
    in order and the classes in order of their first; a request that `apart` names is a class of
    its own."""
    packed = np.packbits(allowed, axis=1)
    classes: dict[tuple[int, int, bytes, str], list[int]] = {}
    for i, r in enumerate(instance.requests):
        own = r.id if r.id in apart else ""
        classes.setdefault((r.arrival, r.departure, packed[i].tobytes(), own), []).append(i)
    return list(classes.values())


@dataclass(frozen=True, slots=True)
class Relaxation:
    """The LP relaxation of max -c.x: `bound` (nan when the solver stopped without duals) and x."""

    bound: float
    x: np.ndarray | None
    status: int  # 0 solved, 1 out of time, else failed


def relax(
    model: Model, c: np.ndarray, *, time_limit: float, interior: bool, crossover: bool = False
) -> Relaxation:
    """The LP relaxation by HiGHS: interior point to IPM_TOLERANCE (with `crossover`, then to a
    vertex, whose x is mostly whole: better to round), or the dual simplex. `linprog` rather than
    `milp` because it returns the duals. A row with equal bounds is an equality, any other a `<=`
    row whose lower bound (0) its variables' bounds already imply."""
    equal = model.lower == model.upper
    if np.any(model.lower[~equal] != 0):
        raise ValueError("relax takes <= rows with lower bound 0 and equalities only")
    if len(c) == 0:
        return Relaxation(0.0, np.zeros(0), 0)  # nothing to choose (linprog refuses an empty c)
    a = model.a.tocsr()
    some_eq, some_ub = bool(equal.any()), bool((~equal).any())  # linprog refuses empty blocks
    options: dict[str, object] = {"time_limit": time_limit}
    if interior:
        options |= {"ipm_optimality_tolerance": IPM_TOLERANCE, "run_crossover": "on" if crossover else "off"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unrecognized options")  # passed on to HiGHS
        result = linprog(
            c,
            A_ub=a[~equal] if some_ub else None,
            b_ub=model.upper[~equal] if some_ub else None,
            A_eq=a[equal] if some_eq else None,
            b_eq=model.lower[equal] if some_eq else None,
            bounds=np.column_stack([model.bounds.lb, model.bounds.ub]),
            method="highs-ipm" if interior else "highs-ds",
            options=options,
        )
    if result.status != 0 or result.x is None:
        return Relaxation(float("nan"), None, result.status)
    y = np.empty(len(model.lower))
    if some_eq:
        y[equal] = result.eqlin.marginals
    if some_ub:
        y[~equal] = result.ineqlin.marginals
    return Relaxation(dual_bound(model, c, y), result.x, 0)


def dual_bound(model: Model, c: np.ndarray, y: np.ndarray) -> float:
    """An upper bound on -c.x over the model's LP from any row prices `y` (weak duality).

    c.x = y.Ax + d.x with d = c - A'y, and each term is bounded below over its range: y_i (Ax)_i
    by its row's bounds, d_j x_j by its column's. So the bound holds whatever `y` is (an interior
    point stopped early, rounding noise): loose duals only make it weaker. The solver's own
    objective can sit below the LP's optimum; this cannot.
    """
    d = c - model.a.T @ y
    rows = np.minimum(y * model.lower, y * model.upper).sum()
    columns = np.minimum(d * model.bounds.lb, d * model.bounds.ub).sum()
    return -float(rows + columns)


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
) -> OptimizeResult:
    """HiGHS on the model (objective `c` if given), as a MIP when `integral`."""
    options: dict[str, object] = {"time_limit": time_limit}
    if integral:
        options["mip_rel_gap"] = gap
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
    """Concrete spaces for the chosen x variables (`colour_pairs` of their requests and types)."""
    return colour_pairs(instance, model.groups, model.requests[chosen], model.types[chosen], fixed)


def colour_pairs(
    instance: Instance,
    groups: list[list[int]],
    chosen_requests: np.ndarray,
    chosen_types: np.ndarray,
    fixed: Iterable[Booking] = (),
) -> list[Booking]:
    """Concrete spaces for requests (indices into the instance) chosen for space types (indices into
    `groups`), type by type, greedily by start time: the space a fixed booking already has if it
    is free, else the one freed last (the tightest fit). A request finding no free space is left
    out (never, when the loads are within capacity)."""
    requests, spaces, buffer = instance.requests, instance.spaces, instance.buffer
    had = {b.request_id: b.space_id for b in fixed}
    out = []
    for t in np.unique(chosen_types):
        members = sorted(chosen_requests[chosen_types == t].tolist(), key=lambda i: requests[i].arrival)
        free = [spaces[j].id for j in reversed(groups[t])]
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
