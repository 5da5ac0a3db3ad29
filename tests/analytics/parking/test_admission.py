"""Bid-price admission control: prices from the forecast LP, stays refused only when later
requests need their space-time more, and the online allocator serving more drivers with it."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.parking import admission, online
from analytics.parking.eligibility import matrix
from analytics.parking.model import Instance, Request, Space, SpaceKind

DAY = ((0, 1440),)
LONG = Request("long", 8 * 60, 18 * 60)


def visits(prefix: str) -> list[Request]:
    """Five one-hour visits between 08:00 and 18:00, booked after the long stay."""
    return [Request(f"{prefix}{k}", (8 + 2 * k) * 60 + 15, (9 + 2 * k) * 60 + 15) for k in range(5)]


def day(prefix: str) -> tuple[Request, ...]:
    return (Request(f"{prefix}long", 8 * 60, 18 * 60), *visits(prefix))


def control(spaces: list[Space], history: list[tuple[Request, ...]]) -> admission.Admission:
    res = admission.resources(spaces, 10)
    return admission.Admission(res, admission.forecast(res, spaces, history))


def test_a_space_open_an_hour_offers_four_slots_of_capacity() -> None:
    res = admission.resources([Space("s", SpaceKind.PUBLIC, ((8 * 60, 9 * 60),))], buffer=10)
    assert res.capacity.sum() == 60 / admission.SLOT
    assert res.capacity.max() == 1


def test_spaces_of_one_kind_and_place_are_one_resource_a_charger_another() -> None:
    spaces = [
        Space("a", SpaceKind.PUBLIC, DAY),
        Space("b", SpaceKind.PUBLIC, DAY),
        Space("c", SpaceKind.PUBLIC, DAY, charger_kw=7.0),
        Space("d", SpaceKind.PUBLIC, DAY, x=400),
    ]
    group = admission.resources(spaces, 10).group
    assert group[0] == group[1] and len(set(group.tolist())) == 3


def test_with_room_for_everyone_nothing_has_a_price() -> None:
    spaces = [Space(f"s{j}", SpaceKind.PUBLIC, DAY) for j in range(6)]
    gate = control(spaces, [day("h0-"), day("h1-")])
    allowed = np.ones(len(spaces), dtype=bool)
    assert gate.worth(LONG, allowed, 0.0, lambda: []).all()
    assert gate.solved_at == 0 and gate.prices.bids.max() == 0


def test_space_time_that_one_earlier_day_in_two_fills_costs_less_than_what_every_day_fills() -> None:
    spaces = [Space("s", SpaceKind.PUBLIC, DAY)]
    res = admission.resources(spaces, 10)
    busy = (Request("a0", 10 * 60, 11 * 60), Request("a1", 10 * 60, 11 * 60))  # two cars, one space
    quiet = (Request("b0", 2 * 60, 3 * 60),)
    idx, share = res.span(10 * 60, 11 * 60)

    def cost(days: list[tuple[Request, ...]]) -> float:
        found = admission.prices(res, admission.forecast(res, spaces, days), 0.0, res.capacity)
        return float((found.bids[0, idx] * share).sum())

    every, once = cost([busy, busy]), cost([busy, quiet])
    assert every == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < once < every  # the pooled LP alone priced both at 1: the mean day fills it


def test_a_long_stay_is_refused_when_the_forecast_has_more_drivers_for_its_hours() -> None:
    spaces = [Space("s", SpaceKind.PUBLIC, DAY)]
    gate = control(spaces, [day("h0-"), day("h1-")])
    allowed = np.ones(1, dtype=bool)
    assert not gate.worth(LONG, allowed, 0.0, lambda: []).any()
    assert gate.worth(visits("v")[0], allowed, 0.0, lambda: []).all()


def test_once_the_forecast_drivers_have_all_come_the_long_stay_is_admitted() -> None:
    spaces = [Space("s", SpaceKind.PUBLIC, DAY)]
    gate = admission.Admission(*_parts(spaces, [day("h0-")]))
    # at 1 every forecast request came earlier in the booking order: nothing more is expected
    assert gate.worth(LONG, np.ones(1, dtype=bool), 1.0, lambda: []).all()


def test_admission_control_serves_five_visitors_instead_of_one_long_stay() -> None:
    spaces = (Space("s", SpaceKind.PUBLIC, DAY),)
    today = Instance(spaces, day("d-"), horizon=1440)
    history = [day("h0-"), day("h1-"), day("h2-")]
    without = online.allocate(today)
    with_control = online.allocate(today, history)
    assert [b.request_id for b in without] == ["d-long"]
    assert sorted(b.request_id for b in with_control) == sorted(r.id for r in visits("d-"))


def test_with_a_forecast_of_long_stays_only_the_long_stay_is_admitted() -> None:
    spaces = (Space("s", SpaceKind.PUBLIC, DAY),)
    today = Instance(spaces, day("d-"), horizon=1440)
    history = [(Request(f"h{k}", 8 * 60, 18 * 60),) for k in range(3)]
    assert [b.request_id for b in online.allocate(today, history)] == ["d-long"]


def _parts(
    spaces: list[Space], history: list[tuple[Request, ...]]
) -> tuple[admission.Resources, admission.Forecast]:
    res = admission.resources(spaces, 10)
    return res, admission.forecast(res, spaces, history)


def test_the_search_goes_deeper_only_under_admission_control_with_a_forecast() -> None:
    spaces = [Space("s", SpaceKind.PUBLIC, DAY)]
    informed = online.OnlineAllocator(spaces, admission=control(spaces, [day("h0-")]))
    blind = online.OnlineAllocator(spaces, admission=control(spaces, []))
    assert (informed.depth, informed.effort) == (online.DEPTH_ADMITTED, online.EFFORT_ADMITTED)
    assert (blind.depth, blind.effort) == (online.DEPTH, online.EFFORT)
    assert online.OnlineAllocator(spaces).depth == online.DEPTH
    assert online.OnlineAllocator(spaces, depth=2, admission=informed.admission).depth == 2


def _near_and_far() -> tuple[list[Space], list[tuple[Request, ...]]]:
    """Spaces `near` and `far` (another group); each earlier day four drivers who may walk only to
    `near` and one who may use either, all for the same hour: the LP serves one of the four and
    the one with a choice, so the space-time of both costs exactly one driver (marginal)."""
    spaces = [Space("near", SpaceKind.PUBLIC, DAY), Space("far", SpaceKind.PUBLIC, DAY, x=400)]
    hour = (10 * 60, 11 * 60)

    def one(day: int) -> tuple[Request, ...]:
        tied = [Request(f"h{day}-t{k}", *hour, max_walk_m=100) for k in range(4)]
        return (*tied, Request(f"h{day}-free", *hour))

    return spaces, [one(d) for d in range(2)]


def test_the_lp_reports_the_share_it_accepts_of_each_class_of_one_span() -> None:
    spaces, history = _near_and_far()
    res, demand = _parts(spaces, history)
    found = admission.prices(res, demand, 0.0, res.capacity)
    assert sorted(round(v, 2) for v in found.classes.values()) == [0.25, 1.0]
    assert list(found.accepted.values()) == [pytest.approx(0.4, abs=0.01)]  # by span: 2 of 5


def test_a_marginal_stay_is_judged_by_its_class_not_its_span_and_rationed_to_the_class_s_share() -> None:
    spaces, history = _near_and_far()
    gate = control(spaces, history)
    tied, free = Request("t", 10 * 60, 11 * 60, max_walk_m=100), Request("f", 10 * 60, 11 * 60)
    may_use = matrix(spaces, [tied, free])
    # both cost exactly one driver; by span (2 of 5 served) both were refused, and the LP serves
    # every driver with a choice but only a quarter of those who may walk only to `near`
    assert all(gate.worth(free, may_use[1], 0.0, lambda: [], record=True).all() for _ in range(4))
    admitted = [bool(gate.worth(tied, may_use[0], 0.0, lambda: [], record=True).any()) for _ in range(8)]
    assert admitted == [True, False, False, False, True, False, False, False]


def test_a_what_if_is_not_counted_against_its_class_s_share() -> None:
    spaces, history = _near_and_far()
    gate = control(spaces, history)
    tied = Request("t", 10 * 60, 11 * 60, max_walk_m=100)
    may_use = matrix(spaces, [tied])[0]
    assert gate.worth(tied, may_use, 0.0, lambda: [], record=True).any()
    assert not any(gate.worth(tied, may_use, 0.0, lambda: []).any() for _ in range(3))  # 1 of 2 > 1/4
    assert gate.rationed == {next(iter(gate.rationed)): (1, 1)}


def test_the_allocator_tells_when_admission_control_turned_spaces_away() -> None:
    spaces, history = _near_and_far()
    allocator = online.OnlineAllocator(spaces, 10, admission=control(spaces, history))
    first = allocator.place(Request("t0", 10 * 60, 11 * 60, max_walk_m=100), clock=0.0)
    assert first is not None and not allocator.held_back  # the first of its class is admitted
    assert allocator.place(Request("t1", 10 * 60, 11 * 60, max_walk_m=100), clock=0.0) is None
    assert allocator.held_back  # the class's quarter is taken; the space is full anyway
    assert allocator.place(Request("f", 10 * 60, 11 * 60), clock=0.0) is not None
    assert not allocator.held_back
