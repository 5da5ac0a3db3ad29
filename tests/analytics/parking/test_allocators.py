"""Every allocator's output is feasible on random small instances, and the IP is the optimum."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.parking import fcfs, online, optimum
from analytics.parking.check import violations
from analytics.parking.model import Booking, Instance, Request
from tests.analytics.parking.instances import brute_force, instances, requests

EXAMPLES = settings(max_examples=60, deadline=None)


@EXAMPLES
@given(instances())
def test_fcfs_is_feasible(instance: Instance) -> None:
    assert violations(instance, fcfs.allocate(instance)) == []


@EXAMPLES
@given(instances())
def test_online_is_feasible_and_never_drops_a_booking(instance: Instance) -> None:
    allocator = online.OnlineAllocator(instance.spaces, instance.buffer)
    accepted: dict[str, Booking] = {}
    for r in instance.requests:
        placement = allocator.place(r)
        if placement is not None:
            assert placement.booking.request_id == r.id
            assert {m.request_id for m in placement.moves} <= set(accepted)
            accepted |= {m.request_id: m for m in placement.moves} | {r.id: placement.booking}
        assert allocator.bookings == accepted  # the moves are all that changed
    assert violations(instance, list(accepted.values())) == []
    assert sorted(online.allocate(instance), key=str) == sorted(accepted.values(), key=str)


@EXAMPLES
@given(instances(), st.lists(st.integers(0, 10), min_size=1, max_size=3), st.data())
def test_online_with_admission_control_is_feasible(
    instance: Instance, sizes: list[int], data: st.DataObject
) -> None:
    history = [data.draw(requests(n)) for n in sizes]  # earlier days on the same spaces
    assert violations(instance, online.allocate(instance, history)) == []


@EXAMPLES
@given(instances())
def test_reoptimise_is_feasible(instance: Instance) -> None:
    assert violations(instance, optimum.reoptimise(instance, batch_requests=3)) == []


@EXAMPLES
@given(instances(), st.data())
def test_reoptimise_with_admission_control_is_feasible(instance: Instance, data: st.DataObject) -> None:
    history = [data.draw(requests(len(instance.requests)))]
    assert violations(instance, optimum.reoptimise(instance, batch_requests=3, history=history)) == []


@settings(max_examples=100, deadline=None)
@given(instances(max_spaces=3, max_requests=6))
def test_the_ip_finds_what_brute_force_finds(instance: Instance) -> None:
    best = brute_force(instance)
    result = optimum.solve(instance, time_limit=20)
    assert (result.status, result.accepted) == ("optimal", best)
    assert violations(instance, result.bookings) == []
    assert result.lp_bound >= result.accepted - 1e-6
    # without the LP bound to certify the greedy incumbent, the MIP and the colouring decide
    mip = optimum.solve(instance, time_limit=20, lp=False)
    assert (mip.status, mip.accepted) == ("optimal", best)
    assert violations(instance, mip.bookings) == []


@settings(max_examples=30, deadline=None)
@given(instances(max_spaces=3, max_requests=8))
def test_fixed_bookings_stay_accepted(instance: Instance) -> None:
    first = online.allocate(instance)
    result = optimum.solve(instance, time_limit=20, fixed=first)
    assert violations(instance, result.bookings) == []
    assert {b.request_id for b in first} <= {b.request_id for b in result.bookings}


@settings(max_examples=40, deadline=None)
@given(instances(max_spaces=3, max_requests=4), st.data())
def test_the_ip_takes_identical_requests_as_brute_force_does(instance: Instance, data: st.DataObject) -> None:
    # The MIP counts requests of one stay and the same spaces as a class (`ip.merged`); a fixed one
    # is a class of its own, so it is the one accepted.
    copies = data.draw(st.lists(st.sampled_from(instance.requests), min_size=1, max_size=3))
    extra = tuple(replace(r, id=f"{r.id}-copy{k}") for k, r in enumerate(copies))
    doubled = replace(instance, requests=instance.requests + extra)
    placed = online.allocate(replace(doubled, requests=extra))
    fixed = data.draw(st.sampled_from([[], placed[:1]]))
    result = optimum.solve(doubled, time_limit=20, fixed=fixed, lp=False)
    must = {b.request_id for b in fixed}
    assert (result.status, result.accepted) == ("optimal", brute_force(doubled, must))
    assert violations(doubled, result.bookings) == []
    assert must <= {b.request_id for b in result.bookings}


@EXAMPLES
@given(instances())
def test_a_request_refused_without_a_search_fits_no_repacking(instance: Instance) -> None:
    # Refused before any room-making attempt (a minute with no space free): the IP, which may
    # re-pack every booking, cannot add the request either.
    allocator = online.OnlineAllocator(instance.spaces, instance.buffer)
    booked: list[Request] = []
    for r in instance.requests:
        if allocator.place(r) is not None:
            booked.append(r)
        elif allocator.effort_left == allocator.effort:
            repack = Instance(instance.spaces, (*booked, r), instance.horizon, buffer=instance.buffer)
            best = optimum.solve(repack, fixed=allocator.bookings.values(), lp=False)
            assert best.status == "optimal" and best.accepted == len(booked)
