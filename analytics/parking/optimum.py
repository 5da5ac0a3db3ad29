"""The offline optimum (the most requests a day's spaces can take) and re-optimisation of bookings.

The exact model is `ip.Model`. How far HiGHS gets with it, measured on generated days
(`analytics.parking.generate.day`, 300 spaces): owners keep their own hours, so the spaces form
120-135 types and a request may use about 50-65 of them; 2,000 requests give 105,000 variables and
10,000 give 646,000. The simplex does not finish the root LP of the first in 120 s (its rows are
highly degenerate), so the MIP is tried only on small models. The interior point solves the LP
in about 7 s at 2,000 requests (20-27 s with the crossover to a vertex, whose x rounds better),
and at 10,000 in 56-100 s once identical requests are merged (`ip.merged`, 329,000 variables; not
merged, it did not finish in 300 s; the crossover then takes it to 171 s). So the answer is built
in steps, each kept if the next runs out of time:
1. an incumbent from a greedy pass (shortest stays first, through the online allocator), run
   while HiGHS solves the LP on the other core;
2. the LP relaxation (its dual bound caps the count), and from its solution a second incumbent:
   the requests it accepts on the types it uses, coloured, then the rest by the greedy;
3. the MIP with the time left, stated over classes of identical requests (`ip.merged`), on
   models small enough to try: on 2,000 requests over 60 spaces (d/s 0.6) HiGHS proves the
   optimum of seed 1 (1,122) in 17-23 s and of seed 2 (1,152) in 100 s, where the same MIP over
   single requests (38,600 variables, against 18,200 merged) had found 1,118 after 600 s, its
   many identical requests making as many equal branches. On larger models, the incumbent
   improved window by window instead (`neighbourhood`: 10,000 requests, d/s 1.0, seed 1: 5,268
   -> 5,361 in a 180 s limit).
"optimal" means HiGHS proved it, or an incumbent reached the LP bound's floor; "time_limit" that a
step ran out of time, "unproven" that the model was too large to try the MIP. On those days the
interior point's solution is spread over many types, so its rounding stays 1-5% under the bound
(seed 1, demand/supply 1.0: 1,435 against 1,450 at 2,000 requests, 5,243 against 5,459 at 10,000),
and which of the two is nearer the true optimum is not known.
At 10,000 requests (seed 1, demand/supply 1.0) the whole answer took 57.3-57.9 s within a 60 s
limit (52 s of it the LP); with the greedy before the LP and 10 s kept back for rounding, the LP
ran out of time and the answer was the greedy's 5,150 instead of the rounding's 5,243.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from analytics.parking import ip, neighbourhood, online
from analytics.parking.eligibility import matrix
from analytics.parking.model import Booking, Instance, Request
from analytics.parking.online import OnlineAllocator
from analytics.parking.pools import amenities

# Sizes in x variables, from the measurements above; HiGHS also overruns its time limit on large
# models (a 10 s limit took 28 s at 646,000 variables), so hopeless steps are not started.
SIMPLEX_UP_TO = 2_000  # larger LPs go to the interior point (the simplex stalled at 16,000)
UNMERGED_LP_UP_TO = 400_000  # larger LPs are solved merged (`ip.merged`): 646,000 did not finish in 300 s
MIP_UP_TO = 50_000  # merged variables; the root LP did not finish in 120 s at 29,000-104,000 on some days
ROUNDING_S = 6.0  # kept back from the LP for rounding its solution (4-5 s at 10,000 requests)
STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "error"}


@dataclass(frozen=True, slots=True)
class Optimum:
    """The best allocation found; `lp_bound` is the LP relaxation's bound on the accepted count
    (from its duals, nan if it did not finish) and `status` "optimal" when the count is proven best."""

    bookings: list[Booking]
    accepted: int
    lp_bound: float
    seconds: float
    status: str
    types: int = 0  # space types the spaces were grouped into
    variables: int = 0


def solve(
    instance: Instance, *, time_limit: float = 60.0, fixed: Iterable[Booking] = (), lp: bool = True
) -> Optimum:
    """Accept as many of the instance's requests as possible. `fixed` bookings must stay accepted,
    on any space they may use. `lp`: also solve the LP relaxation."""
    started = time.perf_counter()
    kept = list(fixed)
    allowed = matrix(instance.spaces, instance.requests)
    model = ip.build(instance, allowed, kept)
    bound = float("nan")

    def done(status: str) -> Optimum:
        seconds = time.perf_counter() - started
        return Optimum(best, len(best), bound, seconds, status, len(model.groups), model.size)

    def left() -> float:
        return time_limit - (time.perf_counter() - started)

    def most() -> int | None:
        # the most the LP bound lets be accepted (the bound is exact up to rounding in its sums)
        return None if math.isnan(bound) else math.floor(bound + 1e-6)

    def proven() -> bool:
        cap = most()
        return len(best) == len(instance.requests) or (cap is not None and len(best) >= cap)

    best: list[Booking] = []
    if model.size == 0:
        best, bound = _greedy(instance, allowed, kept), 0.0  # no request may use any space
        return done("optimal")
    classed, classes = ip.merged(instance, allowed, kept)
    budget = 0.5 * left() if classed.size <= MIP_UP_TO else left() - ROUNDING_S
    with ThreadPoolExecutor(1, thread_name_prefix="yiju-lp") as solver:
        # HiGHS lets go of the GIL: the greedy runs on another core while the LP is solved.
        relaxed = solver.submit(_relaxed, instance, model, allowed, kept, budget) if lp else None
        best = _greedy(instance, allowed, kept)
        if relaxed is not None:
            bound, rounded = relaxed.result()
            best = max(best, rounded, key=len)
    if not proven() and left() >= 1 and classed.size > MIP_UP_TO:
        improved = neighbourhood.improve(
            instance, model.groups, allowed, best, time_limit=left(), fixed=kept, enough=most()
        )
        best = max(best, improved, key=len)
    if proven() or left() < 1 or classed.size > MIP_UP_TO:
        return done("optimal" if proven() else "time_limit" if left() < 1 else "unproven")
    gap = 0.45 * (1 - ip.TIE_BREAK) / (len(instance.requests) + 1)
    result = ip.run(classed, integral=True, time_limit=left(), gap=gap)
    status = STATUS.get(result.status, "error")
    if status == "infeasible":
        raise ValueError("the fixed bookings cannot all be kept")
    if result.x is not None:
        x = np.round(result.x[: classed.size])
        if x.sum() > len(best) or status == "optimal":
            requests, chosen = _handed_out(classed, classes, x, x)
            best = ip.colour_pairs(instance, classed.groups, requests, chosen, kept)
    return done(status)


def allocate(instance: Instance, time_limit: float = 60.0) -> list[Booking]:
    """The best allocation `solve` finds in the time."""
    return solve(instance, time_limit=time_limit).bookings


def _greedy(
    instance: Instance, allowed: np.ndarray, fixed: list[Booking], first: Iterable[Booking] = ()
) -> list[Booking]:
    """The fixed bookings (and `first`, as they are), then the other requests shortest stay first,
    each placed by the online allocator: the optimum counts requests, so short stays pay."""
    allocator = OnlineAllocator(instance.spaces, instance.buffer, depth=1, repack=False)
    index = {r.id: i for i, r in enumerate(instance.requests)}
    for b in [*fixed, *first]:
        allocator.add_existing(b, bound=False, request=instance.requests[index[b.request_id]])
        allocator.allow(b.request_id, allowed[index[b.request_id]])
    placed = set(allocator.bookings)
    rest = sorted(
        (r for r in instance.requests if r.id not in placed),
        key=lambda r: (r.departure - r.arrival, r.arrival),
    )
    for r in rest:
        allocator.place(r, allowed=allowed[index[r.id]])
    return list(allocator.bookings.values())


def _relaxed(
    instance: Instance, model: ip.Model, allowed: np.ndarray, kept: list[Booking], time_limit: float
) -> tuple[float, list[Booking]]:
    """The LP relaxation's bound on the count and the bookings its solution rounds to (none when
    it did not finish, or when bookings are fixed: their rounding would have to keep them)."""
    if model.size <= UNMERGED_LP_UP_TO:
        bound, x = _relaxation(model, time_limit, crossover=not kept)  # a vertex rounds better
        return bound, (_rounded(instance, model, allowed, x) if x is not None and not kept else [])
    merged, classes = ip.merged(instance, allowed, kept)
    bound, x = _relaxation(merged, time_limit)
    return bound, ([] if x is None or kept else _rounded_classes(instance, merged, classes, allowed, x))


def _relaxation(
    model: ip.Model, time_limit: float, *, crossover: bool = False
) -> tuple[float, np.ndarray | None]:
    """The LP relaxation's bound on the count and its x. Larger models by interior point (with
    `crossover`, to a vertex), the simplex when that leaves the status unknown (tiny models). Noise
    under 1e-6 in the objective breaks ties between identical requests, which speeds the interior
    point up; it can only raise the bound, by under 0.01."""
    started = time.perf_counter()
    noise = np.random.default_rng(0).random(model.size) * 1e-6
    count = np.concatenate([-1.0 - noise, np.zeros(len(model.c) - model.size)])
    result = None
    for interior in (True, False) if model.size > SIMPLEX_UP_TO else (False,):
        left = time_limit - (time.perf_counter() - started)
        if left < 1 or (result is not None and result.status == 1):  # out of time, not undecided
            break
        result = ip.relax(model, count, time_limit=left, interior=interior, crossover=crossover)
        if result.status == 0 and result.x is not None:
            return result.bound, result.x[: model.size]
    return float("nan"), None


def _rounded(instance: Instance, model: ip.Model, allowed: np.ndarray, x: np.ndarray) -> list[Booking]:
    """The LP's accepted requests on the type each mostly uses, coloured (those finding no space
    left out), then the rest by the greedy."""
    order = np.lexsort((-x, model.requests))  # per request, its largest x first
    first = np.r_[True, model.requests[order][1:] != model.requests[order][:-1]]
    chosen = order[first & (x[order] > 0.5)]
    return _greedy(instance, allowed, [], ip.colour(instance, model, chosen))


def _rounded_classes(
    instance: Instance, model: ip.Model, classes: list[list[int]], allowed: np.ndarray, x: np.ndarray
) -> list[Booking]:
    """The merged LP's solution as bookings: `_handed_out` after rounding each type's x up, then
    coloured (those finding no space left out) and the rest placed by the greedy."""
    requests, chosen = _handed_out(model, classes, x, np.ceil(x - 1e-3))
    return _greedy(instance, allowed, [], ip.colour_pairs(instance, model.groups, requests, chosen))


def _handed_out(
    model: ip.Model, classes: list[list[int]], x: np.ndarray, take: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Requests and the types they go to from a merged model's `x`: each class's members handed
    out over its types in order of x, `take` of them to each (x itself when whole), until the
    class has as many as its x adds up to (rounded) or no members left."""
    goal = np.zeros(len(classes))
    np.add.at(goal, model.requests, x)
    left = np.minimum(np.floor(goal + 0.5), [len(c) for c in classes]).astype(int)
    given = np.zeros(len(classes), dtype=int)
    requests, types = [], []
    for j in np.lexsort((-x, model.requests)):
        k = model.requests[j]
        n = max(0, min(int(take[j]), left[k] - given[k]))
        requests += classes[k][given[k] : given[k] + n]
        types += [model.types[j]] * n
        given[k] += n
    return np.array(requests, dtype=int), np.array(types, dtype=int)


def reoptimise(
    instance: Instance,
    batch_minutes: int = 60,
    *,
    batch_requests: int | None = None,
    time_limit: float = 5.0,
    history: Sequence[Sequence[Request]] = (),
    quoted: dict[str, str] | None = None,
) -> list[Booking]:
    """Yiju with re-optimisation: requests are answered online, and after every batch the bookings
    (none bound yet: all are made before the day) are re-packed by the IP, all kept, charger,
    accessible and large spaces left to those who need them, then laid out tightly.

    Requests carry no booking time, so a batch is `batch_requests` requests, by default the share
    of the day's requests that `batch_minutes` would see if bookings came in evenly over 24 hours.
    A re-pack whose IP does not finish within `time_limit` seconds leaves the layout as it was.
    `history`: admission control as in `online.allocate`; `quoted`: as there."""
    requests = instance.requests
    size = batch_requests or max(1, math.ceil(len(requests) * batch_minutes / 1440))
    allowed = matrix(instance.spaces, requests)
    control = online.admission_control(instance, history)
    allocator = OnlineAllocator(instance.spaces, instance.buffer, admission=control)
    for k, r in enumerate(requests):
        placement = allocator.place(r, allowed=allowed[k], clock=k / len(requests) if control else None)
        if placement is not None and quoted is not None:
            quoted[r.id] = placement.booking.space_id
        if (k + 1) % size == 0 and k + 1 < len(requests):
            allocator = _repacked(instance, allocator, allowed, time_limit)
    return list(allocator.bookings.values())


def _repacked(
    instance: Instance, allocator: OnlineAllocator, allowed: np.ndarray, time_limit: float
) -> OnlineAllocator:
    index = {r.id: i for i, r in enumerate(instance.requests)}
    held = list(allocator.bookings.values())
    if not held:
        return allocator
    rows = [index[b.request_id] for b in held]
    sub = Instance(
        instance.spaces, tuple(instance.requests[i] for i in rows), instance.horizon, buffer=instance.buffer
    )
    model = ip.build(sub, allowed[rows], held)
    needs = np.array([(r.needs_charger, r.accessible, r.large) for r in sub.requests], dtype=bool)
    offers = np.array([amenities(sub.spaces[g[0]]) for g in model.groups], dtype=bool)
    waste = (offers[model.types] & ~needs[model.requests]).sum(axis=1).astype(float)
    result = ip.run(
        model,
        np.concatenate([waste, np.zeros(len(model.c) - model.size)]),
        integral=True,
        time_limit=time_limit,
    )
    if result.status != 0:
        return allocator
    fresh = OnlineAllocator(instance.spaces, instance.buffer, admission=allocator.admission)
    for b in ip.colour(sub, model, np.flatnonzero(result.x[: model.size] > 0.5), held):
        fresh.add_existing(b, bound=False, request=instance.requests[index[b.request_id]])
        fresh.allow(b.request_id, allowed[index[b.request_id]])
    return fresh
