"""The online allocator: best fit, scarcity, late binding and its limits, the API's one-shot helpers."""

from __future__ import annotations

from analytics.parking import online
from analytics.parking.model import Booking, Request, Space, SpaceKind

DAY = ((0, 1440),)


def plain(sid: str, windows: tuple[tuple[int, int], ...] = DAY, x: float = 0.0) -> Space:
    return Space(sid, SpaceKind.PUBLIC, windows, x=x)


def charger(sid: str, windows: tuple[tuple[int, int], ...] = DAY) -> Space:
    return Space(sid, SpaceKind.PUBLIC, windows, charger_kw=7.0)


def test_best_fit_takes_the_tightest_gap() -> None:
    allocator = online.OnlineAllocator([plain("wide"), plain("snug")], buffer=10)
    allocator.add_existing(Booking("x", "snug", 500, 590), bound=True)
    allocator.add_existing(Booking("y", "snug", 730, 800), bound=True)
    placement = allocator.place(Request("r", 610, 710))
    assert placement is not None and placement.booking.space_id == "snug" and placement.moves == []


def test_best_fit_prefers_the_shorter_window() -> None:
    allocator = online.OnlineAllocator([plain("all day"), plain("office hours", ((480, 1080),))], buffer=10)
    placement = allocator.place(Request("r", 600, 700))
    assert placement is not None and placement.booking.space_id == "office hours"


def test_a_driver_without_an_ev_is_kept_off_chargers_while_anything_else_is_free() -> None:
    allocator = online.OnlineAllocator([charger("ev"), plain("p", ((590, 720),))], buffer=10)
    first = allocator.place(Request("a", 600, 700))
    second = allocator.place(Request("b", 600, 700))
    assert first is not None and first.booking.space_id == "p"
    assert second is not None and second.booking.space_id == "ev"


def test_a_booking_not_yet_bound_moves_to_make_room() -> None:
    # the EV can only use the charger; the visitor on it moves to the plain space
    allocator = online.OnlineAllocator([charger("ev"), plain("p")], buffer=10)
    visitor = Request("v", 600, 700)
    allocator.add_existing(Booking("v", "ev", 600, 700), bound=False, request=visitor)
    allocator.add_existing(Booking("w", "p", 400, 500), bound=True)
    placement = allocator.place(Request("e", 620, 680, energy_kwh=5.0))
    assert placement is not None
    assert placement.booking == Booking("e", "ev", 620, 680)
    assert placement.moves == [Booking("v", "p", 600, 700)]
    assert allocator.bookings["v"].space_id == "p"


def test_a_booking_reaching_past_the_board_stays_put() -> None:
    # the engine sees minutes 0-1000 (the API's frame); e may only walk to c1, held by v, which
    # runs on past 1000; on c2 a booking the engine cannot see starts at 1030. v's stay is not
    # inside any window the engine knows, so it may not go there: moving it could clash unseen
    frame = ((0, 1000),)
    spaces = [charger("c1", frame), Space("c2", SpaceKind.PUBLIC, frame, x=500, charger_kw=7.0)]
    allocator = online.OnlineAllocator(spaces, buffer=10)
    allocator.add_existing(Booking("v", "c1", 900, 1100), bound=False, request=Request("v", 900, 1100))
    allocator.add_existing(Booking("w", "c2", 1030, 1100), bound=True)
    assert allocator.place(Request("e", 920, 980, energy_kwh=5.0, max_walk_m=100)) is None
    allocator.add_existing(Booking("x", "c1", 500, 600), bound=False, request=Request("x", 500, 600))
    inside = allocator.place(Request("f", 520, 580, energy_kwh=5.0, max_walk_m=100))
    assert inside is not None and inside.moves == [Booking("x", "c2", 500, 600)]


def test_moves_reach_two_levels() -> None:
    # e may only walk to c1, held by a; a fits only c2 (c3 closes at 700), held by b; b fits c3
    spaces = [charger("c1"), Space("c2", SpaceKind.PUBLIC, DAY, x=500, charger_kw=7.0),
              Space("c3", SpaceKind.PUBLIC, ((0, 700),), x=500, charger_kw=7.0)]  # fmt: skip
    a, b = Request("a", 600, 720), Request("b", 640, 690)
    e = Request("e", 650, 680, energy_kwh=2.0, max_walk_m=100)
    for depth, moved in ((2, [Booking("a", "c2", 600, 720), Booking("b", "c3", 640, 690)]), (1, None)):
        allocator = online.OnlineAllocator(spaces, buffer=0, depth=depth, repack=False)
        allocator.add_existing(Booking("a", "c1", 600, 720), bound=False, request=a)
        allocator.add_existing(Booking("b", "c2", 640, 690), bound=False, request=b)
        placement = allocator.place(e)
        assert (placement and sorted(placement.moves, key=str)) == moved


def test_moves_may_change_the_kind_of_space_but_not_what_the_driver_asked_for() -> None:
    # the only other space is a street space 500 m away: the visitor on the charger may go there
    # (a booking promises no kind of space), unless they would walk no more than 100 m
    spaces = [charger("ev"), Space("st", SpaceKind.STREET, DAY, x=500)]
    for visitor, moves in (
        (Request("v", 600, 700), [Booking("v", "st", 600, 700)]),
        (Request("v", 600, 700, max_walk_m=100), None),
    ):
        allocator = online.OnlineAllocator(spaces, buffer=10)
        allocator.add_existing(Booking("v", "ev", 600, 700), bound=False, request=visitor)
        placement = allocator.place(Request("e", 620, 680, energy_kwh=5.0))
        assert (placement and placement.moves) == moves


def test_bound_and_unknown_bookings_stay_put() -> None:
    spaces = [charger("ev"), plain("p")]
    visitor = Request("v", 600, 700)
    soon = online.OnlineAllocator(spaces, buffer=10, bind_lead=30)
    soon.add_existing(Booking("v", "ev", 600, 700), bound=False, request=visitor)
    # at minute 575 the visitor arrives within the 30-minute bind lead: bound
    assert soon.place(Request("e", 620, 680, energy_kwh=5.0), now=575) is None
    assert soon.place(Request("e", 620, 680, energy_kwh=5.0), now=560) is not None
    unknown = {"ev": [Booking("v", "ev", 600, 700)]}
    assert online.choose(Request("e", 620, 680, energy_kwh=5.0), spaces, unknown) is None
    known = online.choose(Request("e", 620, 680, energy_kwh=5.0), spaces, unknown, requests={"v": visitor})
    assert known is not None and known.moves == [Booking("v", "p", 600, 700)]


def test_a_failed_placement_changes_nothing() -> None:
    allocator = online.OnlineAllocator([plain("p")], buffer=10)
    allocator.add_existing(Booking("x", "p", 600, 700), bound=False, request=Request("x", 600, 700))
    before = dict(allocator.bookings)
    assert allocator.place(Request("r", 650, 750)) is None
    assert not allocator.fits(Request("r", 650, 750))
    assert allocator.fits(Request("r", 720, 750))
    assert allocator.bookings == before


def test_refusal_reasons() -> None:
    closed_charger = charger("ev", ((0, 300),))
    assert (
        online.refusal_reason(Request("e", 600, 700, energy_kwh=5.0), [plain("p")], {})
        == "no_space_with_charger"
    )
    needs_ev = Request("e", 600, 700, energy_kwh=5.0)
    assert online.refusal_reason(needs_ev, [plain("p"), closed_charger], {}) == "outside_availability"
    far = Request("f", 600, 700, max_walk_m=50)
    assert online.refusal_reason(far, [plain("p", x=100)], {}) == "too_far"
    cheap = Request("c", 600, 720, max_price=1.0)
    assert online.refusal_reason(cheap, [plain("p")], {}) == "too_expensive"
    full = {"p": [Booking("x", "p", 600, 700)]}
    assert online.refusal_reason(Request("r", 600, 700), [plain("p")], full) == "full"
    assert online.refusal_reason(Request("r", 600, 700), [], {}) == "no_spaces"


def test_alternatives_are_the_nearest_shifts_that_fit() -> None:
    # the space is held 600-720 (590-730 with buffers): a 60-minute stay fits by 570 or from 740
    taken = {"p": [Booking("x", "p", 600, 720)]}
    wanted = Request("r", 630, 690)
    allocator = online.current([plain("p")], taken, 10)
    found = online.alternatives(wanted, allocator, limit=3)
    assert found == [(495, 555), (510, 570), (750, 810)]
    assert online.alternatives(wanted, allocator, limit=3, now=500) == [
        (510, 570),
        (750, 810),
        (765, 825),
    ]


def test_alternatives_keep_to_each_shifted_stays_windows() -> None:
    # open 480-700 only: a 110-minute stay from 650 does not fit; shifted, it must end by 700
    allocator = online.current([plain("office", ((480, 700),))], {}, 10)
    found = online.alternatives(Request("r", 650, 760), allocator, limit=3)
    assert found == [(560, 670), (575, 685), (590, 700)]


def test_a_search_without_effort_left_still_finds_free_room_but_moves_nothing() -> None:
    allocator = online.OnlineAllocator([plain("a"), plain("b", ((0, 700),))], buffer=0)
    allocator.add_existing(Booking("x", "a", 600, 700), bound=False, request=Request("x", 600, 700))
    late = Request("r", 650, 800)  # only "a" is open until 800; x could move to "b"
    assert not allocator.fits(late, effort=0, repack=False)
    assert allocator.fits(late, effort=0)  # the exact re-pack spends none of the search's effort
    assert allocator.fits(late) and allocator.effort_left == allocator.effort - 1
    assert allocator.fits(Request("s", 0, 100), effort=0)  # a free space takes no effort


def test_a_full_car_park_refuses_without_trying_moves() -> None:
    # both spaces are held 640-660 by bookings that could move: moves keep their times, so no
    # re-packing frees a space then, and the allocator spends none of its effort looking
    allocator = online.OnlineAllocator([plain("a"), plain("b")], buffer=0)
    for rid, space, arrival in (("x", "a", 600), ("y", "b", 640)):
        allocator.add_existing(
            Booking(rid, space, arrival, arrival + 60),
            bound=False,
            request=Request(rid, arrival, arrival + 60),
        )
    assert allocator.place(Request("r", 620, 680)) is None
    assert allocator.effort_left == allocator.effort
    assert allocator.place(Request("s", 600, 640)) is not None  # b is free then: x moves or s takes b


def test_the_exact_re_pack_finds_what_the_search_does_not_reach() -> None:
    # as in test_moves_reach_two_levels, at depth 1: the search moves a off c1 but finds no
    # room for it; laid out afresh, a goes to c2 and b to c3
    spaces = [charger("c1"), Space("c2", SpaceKind.PUBLIC, DAY, x=500, charger_kw=7.0),
              Space("c3", SpaceKind.PUBLIC, ((0, 700),), x=500, charger_kw=7.0)]  # fmt: skip
    a, b = Request("a", 600, 720), Request("b", 640, 690)
    e = Request("e", 650, 680, energy_kwh=2.0, max_walk_m=100)
    allocator = online.OnlineAllocator(spaces, buffer=0, depth=1)
    allocator.add_existing(Booking("a", "c1", 600, 720), bound=False, request=a)
    allocator.add_existing(Booking("b", "c2", 640, 690), bound=False, request=b)
    placement = allocator.place(e)
    assert placement is not None and placement.booking == Booking("e", "c1", 650, 680)
    assert sorted(placement.moves, key=str) == [Booking("a", "c2", 600, 720), Booking("b", "c3", 640, 690)]
    assert allocator.bookings["b"].space_id == "c3"
    # b bound to c2: nothing else can take a, and a refusal changes nothing
    bound = online.OnlineAllocator(spaces, buffer=0, depth=1)
    bound.add_existing(Booking("a", "c1", 600, 720), bound=False, request=a)
    bound.add_existing(Booking("b", "c2", 640, 690), bound=True)
    assert bound.place(e) is None
    assert {r: bk.space_id for r, bk in bound.bookings.items()} == {"a": "c1", "b": "c2"}


def test_a_booking_that_cannot_move_does_not_stop_a_re_pack_around_it() -> None:
    # the same at the edge of the engine's frame: c on c2 runs past it, so its request may use no
    # space the engine knows, and it stays where it is while a and b are laid out around it
    frame = ((0, 1000),)
    spaces = [charger("c1", frame), Space("c2", SpaceKind.PUBLIC, frame, x=500, charger_kw=7.0),
              Space("c3", SpaceKind.PUBLIC, ((0, 700),), x=500, charger_kw=7.0)]  # fmt: skip
    allocator = online.OnlineAllocator(spaces, buffer=0, depth=1)
    for rid, space, arrival, departure in (
        ("a", "c1", 600, 720),
        ("b", "c2", 640, 690),
        ("c", "c2", 750, 1100),
    ):
        allocator.add_existing(
            Booking(rid, space, arrival, departure), bound=False, request=Request(rid, arrival, departure)
        )
    placement = allocator.place(Request("e", 650, 680, energy_kwh=2.0, max_walk_m=100))
    assert placement is not None
    assert sorted(placement.moves, key=str) == [Booking("a", "c2", 600, 720), Booking("b", "c3", 640, 690)]


def test_a_wider_window_re_solved_by_type_moves_bookings_the_re_pack_cannot_reach() -> None:
    # e (100-200) overlaps p on "a" and q on "b". The only layouts put p with q and e with f
    # and r: f (330-400, past the re-pack's reach) must move, or r with p. 78 more spaces are held
    # all day by movable bookings, so many that the exact re-pack only takes those overlapping e
    # (p and q), and the search goes one level deep: only the window re-solved by type finds it
    spaces = [plain("a"), plain("b"), *(plain(f"s{k}") for k in range(78))]
    allocator = online.OnlineAllocator(spaces, buffer=0, depth=1)
    held = [("p", "a", 0, 150), ("f", "a", 330, 400), ("r", "b", 0, 50), ("q", "b", 150, 400)]
    held += [(f"all{k}", f"s{k}", 0, 1440) for k in range(78)]
    for rid, space, arrival, departure in held:
        allocator.add_existing(
            Booking(rid, space, arrival, departure), bound=False, request=Request(rid, arrival, departure)
        )
    placement = allocator.place(Request("e", 100, 200))
    assert placement is not None
    where = {rid: b.space_id for rid, b in allocator.bookings.items()}
    assert where["p"] == where["q"] != where["e"] == where["f"] == where["r"]
    assert {m.request_id for m in placement.moves} in ({"q", "f"}, {"p", "r"})
    assert all(where[f"all{k}"] == f"s{k}" for k in range(78))
