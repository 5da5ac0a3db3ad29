"""The day generator: pure, on target for demand/supply, and shaped as its docstring says."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from functools import cache

import pytest

from analytics.parking.generate import HORIZON, day, history
from analytics.parking.model import Instance, Requester, SpaceKind


@cache
def cached_day(seed: int, ratio: float, requests: int | None, spaces: int = 300) -> Instance:
    return day(seed, ratio, requests, spaces)


def ratio(instance: Instance) -> float:
    """Stay minutes over window minutes inside the horizon, counted here without the generator."""
    supply = sum(
        max(0, min(hi, instance.horizon) - max(lo, 0)) for s in instance.spaces for lo, hi in s.windows
    )
    return sum(r.departure - r.arrival for r in instance.requests) / supply


def test_a_day_is_a_pure_function_of_its_arguments() -> None:
    assert day(7, 1.0, 800) == day(7, 1.0, 800)


def test_earlier_days_are_other_draws_of_the_same_demand() -> None:
    today = cached_day(7, 1.0, 800)
    past = history(7, 1.0, 800, days=2)
    assert past == history(7, 1.0, 800, days=2)
    assert [len(d) for d in past] == [800, 800]
    stays = {(r.arrival, r.departure) for r in today.requests}
    for earlier in past:
        assert {(r.arrival, r.departure) for r in earlier} != stays
        shares = Counter(r.requester for r in earlier)
        assert shares == Counter(r.requester for r in today.requests)  # class counts follow the size
    assert not {r.id for r in past[0]} & {r.id for r in past[1]}
    assert day(7, 1.0, 800) != day(8, 1.0, 800)
    assert day(7, 1.0, 800).requests != day(7, 1.2, 800).requests


def test_the_site_depends_on_the_seed_and_space_count_only() -> None:
    def layout(instance: Instance) -> list[tuple]:
        return [(s.id, s.kind, s.x, s.y, s.charger_kw, s.accessible, s.large) for s in instance.spaces]

    assert layout(day(3, 0.6, None)) == layout(day(3, 1.5, None)) == layout(day(3, 1.0, 2000))


@pytest.mark.parametrize("requests", [None, 2000])
@pytest.mark.parametrize("target", [0.6, 0.8, 1.0, 1.2, 1.5])
def test_demand_supply_is_on_target(target: float, requests: int | None) -> None:
    instance = cached_day(11, target, requests)
    assert ratio(instance) == pytest.approx(target, rel=0.02)
    if requests is not None:
        assert len(instance.requests) == requests


@pytest.mark.parametrize("target", [0.6, 1.5])
def test_ten_thousand_requests_on_three_hundred_spaces(target: float) -> None:
    instance = cached_day(5, target, 10_000)
    assert (len(instance.requests), len(instance.spaces)) == (10_000, 300)
    assert ratio(instance) == pytest.approx(target, rel=0.02)
    assert all(0 <= r.arrival < r.departure <= HORIZON for r in instance.requests)


def test_the_count_follows_the_ratio_when_not_given() -> None:
    counts = [len(cached_day(11, t, None).requests) for t in (0.6, 1.0, 1.5)]
    assert counts == sorted(counts) and counts[0] < counts[-1] / 2


def test_an_unreachable_ratio_is_refused() -> None:
    with pytest.raises(ValueError, match="out of reach"):
        day(1, 1.5, 20)


def test_space_kinds_hours_and_equipment() -> None:
    spaces = cached_day(11, 1.0, None).spaces
    kinds = Counter(s.kind for s in spaces)
    assert kinds == {
        SpaceKind.RESIDENT: 120,
        SpaceKind.PUBLIC: 45,
        SpaceKind.INSTITUTIONAL: 75,
        SpaceKind.STREET: 60,
    }
    for s in spaces:
        ((lo, hi),) = s.windows
        if s.kind is SpaceKind.RESIDENT:  # owners away on the working day
            assert 7 * 60 - 30 <= lo <= 8 * 60 + 30 and 17 * 60 + 30 <= hi <= 19 * 60 + 30
        elif s.kind is SpaceKind.PUBLIC:
            assert (lo, hi) == (0, HORIZON)
        elif s.kind is SpaceKind.INSTITUTIONAL:  # 错时: the evening to the next morning
            assert 17 * 60 + 30 <= lo <= 18 * 60 + 30 and 1440 + 7 * 60 + 30 <= hi <= 1440 + 8 * 60
        else:
            assert 18 * 60 + 30 <= lo <= 19 * 60 + 30 and 1440 + 6 * 60 + 30 <= hi <= 1440 + 7 * 60 + 30
        assert math.hypot(s.x, s.y) <= 800
    chargers = [s for s in spaces if s.has_charger]
    assert 0.15 <= len(chargers) / len(spaces) <= 0.3
    assert 1 <= sum(s.charger_kw == 60 for s in spaces) <= 8
    assert sum(s.accessible for s in spaces) >= 6
    assert all(not s.large for s in spaces if s.kind is SpaceKind.RESIDENT)
    assert len({(s.x, s.y) for s in spaces}) <= 11  # clustered: one position per car park
    night = [s.price for s in spaces if s.kind in (SpaceKind.STREET, SpaceKind.INSTITUTIONAL)]
    assert all(p.night_per_hour < p.per_hour and p.resident_discount > 0 for p in night)


def test_class_mix_and_shapes() -> None:
    requests = cached_day(11, 1.0, 2000).requests
    by = {who: [r for r in requests if r.requester is who] for who in Requester}
    assert (len(by[Requester.RESIDENT]), len(by[Requester.COMMUTER])) == (120, 90)
    for r in by[Requester.RESIDENT]:  # evening arrival, leave the next morning
        assert 16 * 60 <= r.arrival <= 23 * 60 + 30 and 1440 + 6 * 60 <= r.departure <= 1440 + 9 * 60
    for r in by[Requester.COMMUTER]:
        assert 7 * 60 <= r.arrival <= 10 * 60 + 30 and 6 * 60 <= r.departure - r.arrival <= 11 * 60
    visits = [r.departure - r.arrival for r in by[Requester.VISITOR]]
    assert min(visits) >= 10 and max(visits) <= 360 and 45 <= statistics.median(visits) <= 90
    assert all(7 * 60 <= r.arrival <= 22 * 60 for r in by[Requester.VISITOR])
    n = len(requests)
    assert sum(r.ev for r in requests) / n == pytest.approx(0.20, abs=0.03)
    assert sum(r.accessible for r in requests) / n == pytest.approx(0.03, abs=0.015)
    assert sum(r.large for r in requests) / n == pytest.approx(0.05, abs=0.02)
    assert all(200 <= r.max_walk_m <= 800 and r.max_price > 0 for r in requests)
    assert all(r.arrival % 5 == 0 and r.departure % 5 == 0 for r in requests)


def test_ev_energy_is_acn_shaped_and_deliverable_by_a_7_kw_pile() -> None:
    requests = cached_day(11, 1.0, 2000).requests
    assert all(r.energy_kwh == 0 for r in requests if not r.ev)
    evs = [r for r in requests if r.ev]
    assert all(0.5 <= r.energy_kwh <= 7 * (r.departure - r.arrival) / 60 + 0.05 for r in evs)
    long_stays = [r.energy_kwh for r in evs if r.requester is not Requester.VISITOR]
    assert 6 <= statistics.median(long_stays) <= 10 and max(long_stays) > 15


def test_requests_come_in_booking_order() -> None:
    requests = cached_day(11, 1.0, 2000).requests
    assert [r.id for r in requests] == [f"q{i:05d}" for i in range(len(requests))]
    first = Counter(r.requester for r in requests[:200])  # the evening before: residents, commuters
    assert first[Requester.RESIDENT] + first[Requester.COMMUTER] > 70  # against 10.5% of the day's
    assert sum(r.requester is Requester.VISITOR for r in requests[-200:]) > 150
