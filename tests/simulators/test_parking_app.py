"""The simulated parking app's traffic: seeded, shaped by who asks, valid for the API."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from api.models_parking import BookingIn
from simulators.behaviour.base import LOCAL_TZ
from simulators.community import load_community, resolve
from simulators.parking_app import intents

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def test_the_same_seed_makes_the_same_requests_in_time_order() -> None:
    demo = load_community(resolve("demo"))
    first = list(intents([demo], START, START + timedelta(days=2), 4, 400))
    again = list(intents([demo], START, START + timedelta(days=2), 4, 400))
    assert first == again and [i.body for i in first] == [i.body for i in again]
    assert [i.made_at for i in first] == sorted(i.made_at for i in first)
    assert 500 <= len(first) <= 1100  # about 400 a day
    assert first != list(intents([demo], START, START + timedelta(days=2), 5, 400))


def test_every_request_is_a_valid_booking_body_for_a_later_stay() -> None:
    demo = load_community(resolve("demo"))
    made = list(intents([demo], START, START + timedelta(days=3), 1, 400))
    for intent in made:
        body = BookingIn.model_validate(intent.body)  # the API's own model of a request
        assert body.arrival > intent.made_at and body.departure > body.arrival
    who = Counter(i.body["requester"] for i in made)
    assert min(who.values()) > 0.1 * len(made), who
    assert 0.1 < sum(i.body["ev"] for i in made) / len(made) < 0.3
    assert 0.8 < sum(i.shows for i in made) / len(made) < 0.97
    residents = [BookingIn.model_validate(i.body) for i in made if i.body["requester"] == "resident"]
    assert all(b.arrival.astimezone(LOCAL_TZ).hour >= 18 for b in residents)  # home for the night
