"""The exact re-pack agrees with brute force on small layouts: it finds one whenever one exists,
never puts two stays on one space at once, and moves no more stays than it must."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.parking.repack import NEW, assign

SPACES = 3
Layout = tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]  # lo, hi, candidates, current


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    n = draw(st.integers(1, 6))
    lo = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=np.int64)
    hi = lo + np.array(draw(st.lists(st.integers(1, 8), min_size=n, max_size=n)), dtype=np.int64)
    candidates = [
        np.array(sorted(draw(st.sets(st.integers(0, SPACES - 1), max_size=SPACES))), dtype=np.intp)
        for _ in range(n)
    ]
    current = np.array(draw(st.lists(st.integers(NEW, SPACES - 1), min_size=n, max_size=n)), dtype=np.intp)
    return lo, hi, candidates, current


def clash(lo: np.ndarray, hi: np.ndarray, layout: tuple[int, ...]) -> bool:
    return any(
        layout[i] == layout[k] and lo[i] < hi[k] and lo[k] < hi[i]
        for i, k in itertools.combinations(range(len(layout)), 2)
    )


@settings(max_examples=150, deadline=None)
@given(layouts())
def test_assign_agrees_with_brute_force(layout: Layout) -> None:
    lo, hi, candidates, current = layout
    fitting = [
        choice for choice in itertools.product(*(c.tolist() for c in candidates)) if not clash(lo, hi, choice)
    ]
    found = assign(lo, hi, candidates, current, time_limit=10)
    if not fitting:
        assert found is None
        return
    assert found is not None
    chosen = tuple(found.tolist())
    assert all(j in c for j, c in zip(chosen, candidates, strict=True))
    assert not clash(lo, hi, chosen)

    def moved(choice: tuple[int, ...]) -> int:
        return sum(j != was and was != NEW for j, was in zip(choice, current.tolist(), strict=True))

    assert moved(chosen) == min(moved(choice) for choice in fitting)


def test_a_stay_with_no_candidate_cannot_be_placed() -> None:
    lo, hi = np.array([0, 5]), np.array([4, 9])
    assert assign(lo, hi, [np.array([0]), np.array([], dtype=np.intp)], np.array([0, NEW])) is None
