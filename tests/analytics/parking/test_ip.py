"""The IP's LP relaxation: its dual bound holds whatever the duals and is the LP's value at its
optimum; merging identical requests keeps that value, and its rounding is feasible."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.parking import ip, optimum
from analytics.parking.check import violations
from analytics.parking.eligibility import matrix
from analytics.parking.model import Instance
from tests.analytics.parking.instances import brute_force, instances


def count(model: ip.Model) -> np.ndarray:
    """The objective "accept as many as possible" (minimised)."""
    return np.concatenate([-np.ones(model.size), np.zeros(len(model.c) - model.size)])


@settings(max_examples=60, deadline=None)
@given(instances(max_spaces=3, max_requests=6), st.integers(0, 2**32 - 1))
def test_the_dual_bound_holds_for_any_duals_and_is_the_lp_value_at_its_optimum(
    instance: Instance, seed: int
) -> None:
    best = brute_force(instance)
    model = ip.build(instance, matrix(instance.spaces, instance.requests))
    prices = np.random.default_rng(seed).normal(0, 2, model.a.shape[0])
    assert ip.dual_bound(model, count(model), prices) >= best - 1e-9
    simplex = ip.relax(model, count(model), time_limit=20, interior=False)
    assert simplex.status == 0
    if len(model.c) == 0:  # no request may use any space
        assert simplex.bound == best == 0
        return
    lp = ip.run(model, count(model), integral=False, time_limit=20)
    assert lp.status == 0
    assert abs(simplex.bound - -lp.fun) < 1e-6
    assert simplex.bound >= best - 1e-9
    interior = ip.relax(model, count(model), time_limit=20, interior=True)
    if interior.status == 0:  # on tiny models HiGHS's interior point may end undecided
        assert simplex.bound - 1e-6 <= interior.bound <= simplex.bound + 1e-3


@settings(max_examples=40, deadline=None)
@given(instances(max_spaces=4, max_requests=8), st.data())
def test_merging_identical_requests_keeps_the_lp_value(instance: Instance, data: st.DataObject) -> None:
    copies = data.draw(st.lists(st.sampled_from(instance.requests), max_size=6))
    extra = tuple(replace(r, id=f"{r.id}-copy{k}") for k, r in enumerate(copies))
    doubled = replace(instance, requests=instance.requests + extra)
    allowed = matrix(doubled.spaces, doubled.requests)
    plain = ip.build(doubled, allowed)
    merged, classes = ip.merged(doubled, allowed)
    assert sorted(i for c in classes for i in c) == list(range(len(doubled.requests)))
    assert len(classes) <= len(instance.requests)  # every copy joins its original's class
    for c in classes:
        first = doubled.requests[c[0]]
        assert all(
            (doubled.requests[i].arrival, doubled.requests[i].departure) == (first.arrival, first.departure)
            and (allowed[i] == allowed[c[0]]).all()
            for i in c
        )
    whole = ip.relax(plain, count(plain), time_limit=20, interior=False)
    classed = ip.relax(merged, count(merged), time_limit=20, interior=False)
    assert whole.status == classed.status == 0 and classed.x is not None
    assert abs(whole.bound - classed.bound) < 1e-6
    bookings = optimum._rounded_classes(doubled, merged, classes, allowed, classed.x[: merged.size])
    assert violations(doubled, bookings) == []
