"""Charging on shared piles: hand-computed optima, limits, the max flow against an LP, and days."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analytics.parking import fcfs
from analytics.parking.charging import (
    POLICIES,
    Charger,
    Grid,
    Session,
    car_kw,
    compare,
    compare_bookings,
    grid,
    optimum_kwh,
    piles,
    schedule,
    sessions_from_bookings,
)
from analytics.parking.generate import day
from analytics.parking.model import Request, Space, SpaceKind

PILE = Charger("p", 7.0, connectors=2)


def test_one_car_is_held_back_by_the_pile() -> None:
    result = compare([Session("a", 0, 60, 10.0, "p", 11.0)], [PILE], math.inf)
    assert result.optimum_kwh == pytest.approx(7.0)
    assert result.delivered_kwh == pytest.approx({"edf": 7.0, "llf": 7.0})


def test_only_whole_steps_inside_the_stay_count() -> None:
    result = compare([Session("a", 3, 62, 10.0, "p", 11.0)], [PILE], math.inf)
    assert result.optimum_kwh == pytest.approx(7.0 * 55 / 60)  # steps 5-60


def test_two_cars_take_turns_on_one_pile() -> None:
    sessions = [Session("a", 0, 60, 7.0, "p", 7.0), Session("b", 0, 120, 7.0, "p", 7.0)]
    result = compare(sessions, [PILE], math.inf)
    assert result.optimum_kwh == pytest.approx(14.0)
    assert result.delivered_kwh == pytest.approx({"edf": 14.0, "llf": 14.0})


def test_the_site_limit_caps_separate_piles() -> None:
    chargers = [Charger(c, 7.0) for c in "xyz"]
    sessions = [Session(c, 0, 60, 10.0, c, 7.0) for c in "xyz"]
    assert compare(sessions, chargers, 10.0).optimum_kwh == pytest.approx(10.0)


def test_edf_strands_energy_that_llf_delivers() -> None:
    """Site 10 kW. A (5 kW car) needs both hours at full rate; B (10 kW car) leaves after one hour
    wanting 5 kWh. Best: A 5 kW throughout, B 5 kW in the first hour: 15 kWh. EDF gives B 10 kW for
    its first 30 minutes, A then gets 5 kW for 90 minutes: 12.5 kWh. LLF serves A first: 15."""
    chargers = [Charger("pa", 22.0), Charger("pb", 22.0)]
    sessions = [Session("a", 0, 120, 10.0, "pa", 5.0), Session("b", 0, 60, 5.0, "pb", 10.0)]
    result = compare(sessions, chargers, 10.0)
    assert result.optimum_kwh == pytest.approx(15.0)
    assert result.delivered_kwh["edf"] == pytest.approx(12.5)
    assert result.delivered_kwh["llf"] == pytest.approx(15.0)
    assert result.energy_ratio("edf") == pytest.approx(12.5 / 15)


def test_more_cars_than_plugs_is_refused() -> None:
    sessions = [Session(c, 0, 60, 1.0, "p", 7.0) for c in "abc"]
    with pytest.raises(ValueError, match="more cars at once"):
        grid(sessions, [PILE], math.inf)
    grid([sessions[0], Session("b", 60, 90, 1.0, "p", 7.0)], [Charger("p", 7.0)], math.inf)  # one at a time


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[Session], list[Charger], float]:
    chargers = [
        Charger(f"c{i}", draw(st.sampled_from([3.5, 7.0, 22.0, 60.0])), connectors=draw(st.integers(1, 3)))
        for i in range(draw(st.integers(1, 3)))
    ]
    sessions: list[Session] = []
    for c in chargers:
        for plug in range(c.connectors):
            t = draw(st.integers(0, 30))
            for k in range(draw(st.integers(0, 3))):
                arrival = t + draw(st.integers(0, 40))
                t = arrival + draw(st.integers(1, 180))
                energy = draw(st.floats(0, 40, allow_nan=False))
                power = draw(st.sampled_from([3.3, 6.6, 11.0, 50.0]))
                sessions.append(Session(f"{c.id}-{plug}-{k}", arrival, t, energy, c.id, power))
    site = draw(st.sampled_from([math.inf, 5.0, 12.5, 30.0]))
    return sessions, chargers, site


def lp_optimum(g: Grid) -> float:
    """The same limits as an LP over (session, step) powers, solved by HiGHS."""
    pairs = [(i, t) for i in range(len(g.sessions)) for t in range(g.first[i], g.last[i])]
    if not pairs:
        return 0.0
    rows, cols, ub = [], [], []
    for j, (i, _) in enumerate(pairs):  # energy wanted
        rows.append(i)
        cols.append(j)
    ub.extend(g.wanted.tolist())
    slots: dict[tuple[int, int], int] = {}
    for j, (i, t) in enumerate(pairs):  # pile per step, site per step
        key = (int(g.pile[i]), t)
        slots.setdefault(key, len(slots))
        rows.extend([len(g.sessions) + slots[key], -1 - t])
        cols.extend([j, j])
    base = len(g.sessions) + len(slots)
    rows = [r if r >= 0 else base + (-1 - r) for r in rows]
    ub.extend(int(g.pile_w[p]) for p, _ in slots)
    ub.extend([g.site_w] * g.steps)
    a = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(base + g.steps, len(pairs)))
    bounds = [(0, int(g.car_w[i])) for i, _ in pairs]
    result = linprog(-np.ones(len(pairs)), A_ub=a, b_ub=ub, bounds=bounds, method="highs")
    assert result.status == 0
    return g.to_kwh(-result.fun)


@settings(max_examples=80, deadline=None)
@given(problems())
def test_policies_keep_every_limit_and_the_flow_is_the_optimum(
    problem: tuple[list[Session], list[Charger], float],
) -> None:
    sessions, chargers, site = problem
    g = grid(sessions, chargers, site)
    best = optimum_kwh(g)
    assert best == pytest.approx(lp_optimum(g), abs=1e-6)
    for policy in POLICIES:
        power = schedule(g, policy).power_w
        assert (power >= 0).all()
        assert (power <= g.car_w[:, None]).all()
        assert (power.sum(axis=1) <= g.wanted).all()
        assert (power.sum(axis=0) <= g.site_w).all()
        for p in range(len(g.chargers)):
            assert (power[g.pile == p].sum(axis=0) <= g.pile_w[p]).all()
        for i in range(len(g.sessions)):  # nothing outside the whole steps of the stay
            assert power[i, : g.first[i]].sum() == 0 and power[i, g.last[i] :].sum() == 0
        assert g.to_kwh(float(power.sum())) <= best + 1e-9


def _space(sid: str, x: float, kw: float) -> Space:
    return Space(sid, SpaceKind.PUBLIC, ((0, 1440),), x=x, charger_kw=kw)


def test_piles_pair_adjacent_ac_spaces_of_a_car_park_and_give_dc_its_own() -> None:
    spaces = [_space("a", 0, 7), _space("b", 0, 7), _space("c", 0, 7), _space("d", 9, 7), _space("e", 9, 0),
              _space("f", 9, 60), _space("g", 9, 60)]  # fmt: skip
    found = piles(spaces)
    assert {k: (v.id, v.connectors) for k, v in found.items()} == {
        "a": ("a+b", 2), "b": ("a+b", 2), "c": ("c", 1), "d": ("d", 1), "f": ("f", 1), "g": ("g", 1)
    }  # fmt: skip


def test_car_power_is_reproducible_and_bounded() -> None:
    r = Request("q00042", 0, 60, ev=True, energy_kwh=5)
    assert car_kw(r, 7.0) == car_kw(r, 7.0) in (3.3, 6.6, 11.0)
    assert car_kw(r, 60.0) in (40.0, 60.0, 120.0)


@pytest.fixture(scope="module")
def days() -> list[tuple]:
    out = []
    for seed, ratio in ((1, 0.8), (2, 1.2)):
        instance = day(seed, ratio, 1500)
        out.append((instance, fcfs.allocate(instance)))
    return out


def test_sessions_come_from_the_bookings_on_piles(days: list[tuple]) -> None:
    instance, bookings = days[0]
    sessions, chargers = sessions_from_bookings(instance, bookings)
    requests = {r.id: r for r in instance.requests}
    charging = [b for b in bookings if requests[b.request_id].needs_charger]
    assert len(sessions) == len(charging) > 20
    pile_ids = {c.id for c in chargers}
    for s in sessions:
        assert s.charger_id in pile_ids and s.energy_kwh == requests[s.car_id].energy_kwh
    assert all(c.connectors <= (2 if c.max_kw < 22 else 1) for c in chargers)
    assert any(c.connectors == 2 for c in chargers)


def test_policies_reach_95_percent_of_the_optimum_on_generated_days(days: list[tuple]) -> None:
    for instance, bookings in days:
        result = compare_bookings(instance, bookings)
        assert result.optimum_kwh > 100
        assert result.optimum_kwh <= result.wanted_kwh + 1e-6
        for policy in POLICIES:
            assert result.energy_ratio(policy) >= 0.95
