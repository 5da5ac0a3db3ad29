"""The board's books: free spaces per minute stay what the cells say through puts and takes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.parking.board import FREE, Board
from analytics.parking.model import Booking, Space, SpaceKind
from tests.analytics.parking.instances import SPAN, spaces


@settings(max_examples=60, deadline=None)
@given(spaces(4), st.data())
def test_covered_agrees_with_the_cells(places: tuple[Space, ...], data: st.DataObject) -> None:
    board = Board(places, buffer=5)
    for n in range(data.draw(st.integers(1, 12))):
        j = data.draw(st.integers(0, len(places) - 1))
        arrival = data.draw(st.integers(0, SPAN // 5 - 1)) * 5
        booking = Booking(f"b{n}", places[j].id, arrival, arrival + data.draw(st.integers(1, 12)) * 5)
        cells = board.cells(booking.arrival, booking.departure)
        if (board.state[j, cells] < 0).all():
            board.put(booking)
        taking: bool = data.draw(st.booleans())
        if board.placed and taking:
            board.take(data.draw(st.sampled_from(sorted(board.placed))))
        for a, d in ((0, SPAN), (100, 160), (arrival, arrival + 30)):
            expected = bool((board.state[:, board.cells(a, d)] == FREE).any(axis=0).all())
            assert board.covered(a, d) == expected


@settings(max_examples=40, deadline=None)
@given(spaces(4), st.lists(st.tuples(st.integers(0, 3), st.integers(0, SPAN // 5 - 1)), max_size=10))
def test_putting_all_at_once_is_putting_one_by_one(
    places: tuple[Space, ...], wanted: list[tuple[int, int]]
) -> None:
    one_by_one, at_once = Board(places, buffer=5), Board(places, buffer=5)
    kept = []
    for n, (j, start) in enumerate(wanted):
        booking = Booking(f"b{n}", places[j].id, start * 5, start * 5 + 30)
        if (one_by_one.state[j, one_by_one.cells(booking.arrival, booking.departure)] < 0).all():
            one_by_one.put(booking)
            kept.append(booking)
    at_once.put_all(kept)
    for name in ("state", "held", "free_in"):
        assert np.array_equal(getattr(one_by_one, name), getattr(at_once, name)), name
    assert one_by_one.placed == at_once.placed


def test_putting_all_at_once_refuses_a_clash_or_a_repeat() -> None:
    places = (Space("a", SpaceKind.PUBLIC, ((0, 1440),)), Space("b", SpaceKind.PUBLIC, ((0, 1440),)))
    apart = [Booking("x", "a", 100, 200), Booking("y", "a", 210, 300), Booking("z", "b", 150, 250)]
    for clash in (Booking("w", "a", 190, 260), Booking("x", "b", 400, 500)):
        with pytest.raises(ValueError, match=r"overlaps|already booked"):
            Board(places, buffer=5).put_all([*apart, clash])
    board = Board(places, buffer=5)
    board.put_all(apart)
    with pytest.raises(ValueError, match="overlaps"):
        board.put_all([Booking("v", "b", 240, 260)])  # with the board's own bookings, too
