"""Re-solving windows of an allocation: never infeasible, never fewer, fixed bookings kept, and it
finds what a window's exact answer holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.parking import fcfs, ip, neighbourhood
from analytics.parking.check import violations
from analytics.parking.eligibility import matrix
from analytics.parking.model import Booking, Instance, Request, Space, SpaceKind
from tests.analytics.parking.instances import brute_force, instances


def improved(instance: Instance, start: list[Booking], fixed: list[Booking] | None = None) -> list[Booking]:
    allowed = matrix(instance.spaces, instance.requests)
    groups = ip.build(instance, allowed).groups
    return neighbourhood.improve(instance, groups, allowed, start, time_limit=20, fixed=fixed or [])


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
