"""Re-solving windows of an allocation: never infeasible, never fewer, fixed bookings kept, and it
finds what a window's exact answer holds; a window's stays move only to make room."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.parking import fcfs, ip, neighbourhood
from analytics.parking.check import violations
from analytics.parking.eligibility import matrix
from analytics.parking.model import Booking, Instance, Request, Space, SpaceKind
from tests.analytics.parking.instances import brute_force, instances


def improved(
    instance: Instance, start: list[Booking], fixed: list[Booking] | None = None, enough: int | None = None
) -> list[Booking]:
    allowed = matrix(instance.spaces, instance.requests)
    groups = ip.build(instance, allowed).groups
    return neighbourhood.improve(
        instance, groups, allowed, start, time_limit=20, fixed=fixed or [], enough=enough
    )


@settings(max_examples=60, deadline=None)
@given(instances(max_spaces=3, max_requests=6), st.booleans())
def test_the_search_never_serves_fewer_nor_breaks_a_rule(instance: Instance, fix_first: bool) -> None:
    start = fcfs.allocate(instance)
    fixed = start[:1] if fix_first else []
    result = improved(instance, start, fixed)
    assert violations(instance, result) == []
    assert len(start) <= len(result) <= brute_force(instance)
    assert {b.request_id for b in fixed} <= {b.request_id for b in result}


def test_a_long_stay_gives_way_to_two_short_ones_in_its_window() -> None:
    space = Space(id="s0", kind=SpaceKind.PUBLIC, windows=((0, 300),))
    long_stay = Request(id="long", arrival=0, departure=100)
    first, second = Request(id="a", arrival=0, departure=40), Request(id="b", arrival=50, departure=90)
    instance = Instance(spaces=(space,), requests=(long_stay, first, second), horizon=300, buffer=0)
    result = improved(instance, [Booking("long", "s0", 0, 100)])
    assert sorted(b.request_id for b in result) == ["a", "b"]
    assert violations(instance, result) == []
    # fixed, the long stay stays, and nothing else fits beside it
    kept = improved(instance, [Booking("long", "s0", 0, 100)], fixed=[Booking("long", "s0", 0, 100)])
    assert [b.request_id for b in kept] == ["long"]
    # told that one request is enough (a bound it has reached), the search stops before a window
    assert [b.request_id for b in improved(instance, [Booking("long", "s0", 0, 100)], enough=1)] == ["long"]


def stays(lo: list[int], hi: list[int], may: list[list[int]], on: list[int]) -> neighbourhood.Stays:
    return neighbourhood.Stays(
        np.array(lo, dtype=np.int64),
        np.array(hi, dtype=np.int64),
        np.array(may, dtype=bool).reshape(len(lo), 2),
        np.array(on, dtype=np.intp),
    )


def test_a_window_s_stays_move_only_to_make_room() -> None:
    def refill(free: neighbourhood.Stays, held: neighbourhood.Stays) -> list[int]:
        types = neighbourhood.refill(free, held, np.array([1, 1]), (0, 10), 5)
        assert types is not None
        return types.tolist()

    nothing = stays([], [], [], [])
    # a new stay (type -1) that only type 0 takes: the stay there goes to type 1
    assert refill(stays([0, 0], [10, 10], [[1, 1], [1, 0]], [0, -1]), nothing) == [1, 0]
    # already on type 1, it stays there; two identical stays on types 1 and 0 keep them
    assert refill(stays([0, 0], [10, 10], [[1, 1], [1, 1]], [1, 0]), nothing) == [1, 0]
    # a held stay on type 0 overlapping the window: the new one is left out, the other keeps type 1
    assert refill(stays([0, 0], [10, 10], [[1, 1], [1, 0]], [1, -1]), stays([5], [20], [[1, 0]], [0])) == [
        1,
        -1,
    ]
    # held only until 5: the new one fits on type 0 from 5, the other stays on type 1
    assert refill(stays([0, 5], [10, 10], [[1, 1], [1, 0]], [1, -1]), stays([-5], [5], [[1, 0]], [0])) == [
        1,
        0,
    ]
