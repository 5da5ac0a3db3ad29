"""The judge of allocations, and the eligibility matrix that must agree with `model.refusal`."""

from __future__ import annotations

from hypothesis import given, settings

from analytics.parking.check import violations
from analytics.parking.eligibility import matrix
from analytics.parking.model import Booking, Instance, Request, Space, SpaceKind, eligible
from tests.analytics.parking.instances import instances

DAYTIME = Space("day", SpaceKind.RESIDENT, ((480, 1080),))
CHARGER = Space("ev", SpaceKind.PUBLIC, ((0, 1440),), charger_kw=7.0)
SPACES = (DAYTIME, CHARGER)
REQUESTS = (
    Request("a", 600, 660),
    Request("b", 680, 720),
    Request("ev", 600, 700, energy_kwh=5.0),
    Request("night", 1100, 1200),
)


def judge(bookings: list[Booking], buffer: int = 10) -> list[str]:
    return violations((SPACES, REQUESTS, buffer), bookings)


def test_a_feasible_allocation_has_no_violations() -> None:
    ok = [Booking("a", "day", 600, 660), Booking("ev", "ev", 600, 700), Booking("night", "ev", 1100, 1200)]
    assert judge(ok) == []
    assert violations(Instance(SPACES, REQUESTS), ok) == []


def test_the_buffer_sits_between_bookings() -> None:
    # a ends at 660, b starts at 680: 20 minutes apart, so buffers up to 10 fit and 11 do not
    both = [Booking("a", "day", 600, 660), Booking("b", "day", 680, 720)]
    assert judge(both, buffer=10) == []
    assert judge(both, buffer=11) == ["a and b overlap on day"]


def test_every_kind_of_violation_is_named() -> None:
    found = judge(
        [
            Booking("night", "day", 1100, 1200),  # outside the daytime window
            Booking("ev", "day", 600, 700),  # needs a charger
            Booking("a", "nowhere", 600, 660),
            Booking("ghost", "ev", 0, 10),
            Booking("b", "ev", 680, 730),  # not the stay asked for
            Booking("b", "ev", 680, 720),  # twice
        ]
    )
    assert found == [
        "night on day: outside_availability",
        "ev on day: needs_charger",
        "a: unknown space nowhere",
        "ghost: unknown request",
        "b: booked 680-730, asked 680-720",
        "b: booked more than once",
        "b and b overlap on ev",
    ]


@settings(max_examples=200, deadline=None)
@given(instances(max_spaces=6, max_requests=12))
def test_the_matrix_agrees_with_the_model(instance: Instance) -> None:
    expected = [[eligible(s, r) for s in instance.spaces] for r in instance.requests]
    assert matrix(instance.spaces, instance.requests).tolist() == expected
