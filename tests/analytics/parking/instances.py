"""Small random allocation instances for property tests: a few spaces and requests on a 5-hour
stretch, so conflicts, windows, buffers and needs all bite; and their optimum by brute force."""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection

from hypothesis import strategies as st

from analytics.parking.check import violations
from analytics.parking.model import Booking, Instance, PriceRule, Request, Requester, Space, SpaceKind

SPAN = 300
PRICES = (PriceRule(), PriceRule(per_hour=3.0, night_per_hour=1.0, resident_discount=0.3))


@st.composite
def windows(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    edges = sorted(set(draw(st.lists(st.integers(0, SPAN // 5), min_size=2, max_size=4))))
    pairs = [(edges[k] * 5, edges[k + 1] * 5) for k in range(0, len(edges) - 1, 2)]
    return tuple(pairs) if pairs else ((0, SPAN),)


@st.composite
def spaces(draw: st.DrawFn, count: int) -> tuple[Space, ...]:
    out = []
    for j in range(count):
        always = draw(st.booleans())
        out.append(
            Space(
                id=f"s{j}",
                kind=draw(st.sampled_from(SpaceKind)),
                windows=((0, SPAN),) if always else draw(windows()),
                x=draw(st.sampled_from((0.0, 100.0, 300.0))),
                charger_kw=draw(st.sampled_from((0.0, 0.0, 7.0))),
                accessible=draw(st.booleans()),
                large=draw(st.booleans()),
                price=draw(st.sampled_from(PRICES)),
            )
        )
    return tuple(out)


@st.composite
def requests(draw: st.DrawFn, count: int) -> tuple[Request, ...]:
    out = []
    for i in range(count):
        arrival = draw(st.integers(0, SPAN // 5 - 2)) * 5
        stay = draw(st.integers(1, 24)) * 5
        out.append(
            Request(
                id=f"r{i}",
                arrival=arrival,
                departure=min(SPAN, arrival + stay),
                requester=draw(st.sampled_from(Requester)),
                energy_kwh=draw(st.sampled_from((0.0, 0.0, 0.0, 5.0))),
                accessible=draw(st.integers(0, 5)) == 0,
                large=draw(st.integers(0, 5)) == 0,
                x=draw(st.sampled_from((0.0, 200.0))),
                max_walk_m=draw(st.sampled_from((math.inf, math.inf, 150.0))),
                max_price=draw(st.sampled_from((math.inf, math.inf, 8.0))),
            )
        )
    return tuple(out)


@st.composite
def instances(draw: st.DrawFn, max_spaces: int = 4, max_requests: int = 10) -> Instance:
    n_spaces = draw(st.integers(1, max_spaces))
    n_requests = draw(st.integers(1, max_requests))
    return Instance(
        spaces=draw(spaces(n_spaces)),
        requests=draw(requests(n_requests)),
        horizon=SPAN,
        buffer=draw(st.sampled_from((0, 5, 10))),
    )


def brute_force(instance: Instance, must: Collection[str] = ()) -> int:
    """The most requests any assignment (each request to a space or nowhere) can take, accepting
    the requests `must` names."""
    best = 0
    choices = [None, *(s.id for s in instance.spaces)]
    for assignment in itertools.product(choices, repeat=len(instance.requests)):
        pairs = list(zip(instance.requests, assignment, strict=True))
        if any(space is None and r.id in must for r, space in pairs):
            continue
        bookings = [Booking(r.id, space, r.arrival, r.departure) for r, space in pairs if space is not None]
        if len(bookings) > best and not violations(instance, bookings):
            best = len(bookings)
    return best
