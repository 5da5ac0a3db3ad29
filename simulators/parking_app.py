"""A parking app's drivers: booking requests through the API, check-ins, check-outs, no-shows.

Traffic is seeded and shaped by who asks (Yichang's tidal pattern): commuters book the evening
before or early in the morning for a workday stay; visitors book an hour or a few ahead for a
daytime stay of half an hour to four hours; residents coming home book in the afternoon for the
night. One in five cars is an EV wanting 10-40 kWh. Most drivers turn up (and check in through
the app when they arrive); about one in ten does not, and the API's tick releases the space.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from simulators.behaviour.base import LOCAL_TZ
from simulators.community import Community

logger = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would bury the tallies

HOUR = timedelta(hours=1)
NO_SHOW = 0.1


@dataclass(frozen=True, order=True)
class Intent:
    """One driver's booking request, made at `made_at`."""

    made_at: datetime
    community_id: str = field(compare=False)
    body: dict[str, Any] = field(compare=False)
    shows: bool = field(compare=False)


def _stay(r: random.Random, made: datetime) -> tuple[str, datetime, datetime]:
    """(who, arrival, departure) for a request made at `made` (local time decides who asks)."""
    local = made.astimezone(LOCAL_TZ)
    workday = local.weekday() < 5
    if 15 <= local.hour < 22 and r.random() < 0.5:  # residents coming home for the night
        evening = local.replace(hour=18, minute=0, second=0, microsecond=0) + HOUR * r.uniform(0, 4)
        arrival = max(evening, local + HOUR * r.uniform(0.25, 1))
        return (
            "resident",
            arrival,
            arrival.replace(hour=7, minute=30) + timedelta(days=1) + HOUR * r.uniform(0, 1),
        )
    if workday and (local.hour >= 19 or local.hour < 8) and r.random() < 0.6:  # commuters
        day = local.date() + timedelta(days=1 if local.hour >= 19 else 0)
        morning = datetime.combine(day, datetime.min.time(), LOCAL_TZ) + HOUR * r.uniform(8, 9.5)
        arrival = max(morning, local + HOUR * r.uniform(0.25, 1))
        return "commuter", arrival, arrival + HOUR * r.uniform(8, 10)
    arrival = local + HOUR * r.uniform(0.5, 4)
    return "visitor", arrival, arrival + HOUR * r.uniform(0.5, 4)


def intents(communities: Sequence[Community], start: datetime, end: datetime, seed: int,
            per_day: float) -> Iterator[Intent]:  # fmt: skip
    """Every request made in [start, end), in time order; the same for the same arguments."""
    heap: list[Intent] = []
    for community in communities:
        r = random.Random(f"{seed}:{community.id}:parking-app")
        t = start
        while True:
            local_hour = t.astimezone(LOCAL_TZ).hour
            # requests come by day and in the evening, hardly at night
            rate = per_day / 24 * (0.2 if local_hour < 6 else 1.3 if 7 <= local_hour < 22 else 0.5)
            t += timedelta(hours=r.expovariate(rate))
            if t >= end:
                break
            who, arrival, departure = _stay(r, t)
            ev = r.random() < 0.2
            bearing, metres = r.uniform(0, 2 * math.pi), r.uniform(0, 150)
            degree_east = 111_000 * math.cos(math.radians(community.lat))  # metres per degree of longitude
            body = {
                "community_id": community.id,
                "arrival": arrival.isoformat(), "departure": departure.isoformat(),
                "plate_hash": hashlib.sha256(f"{seed}:{community.id}:{r.random()}".encode()).hexdigest()[:32],
                "requester": who, "ev": ev, "energy_kwh": round(r.uniform(10, 40), 1) if ev else 0.0,
                "accessible": r.random() < 0.03, "large": r.random() < 0.05,
                "lat": community.lat + metres * math.cos(bearing) / 111_000,
                "lon": community.lon + metres * math.sin(bearing) / degree_east,
                "max_walk_m": r.choice([300.0, 500.0, 800.0]),
                "max_price": None if who == "resident" else round(r.uniform(20, 80)),
            }  # fmt: skip
            heapq.heappush(heap, Intent(t, community.id, body, r.random() >= NO_SHOW))
    while heap:
        yield heapq.heappop(heap)


@dataclass
class Tally:
    """What the app has seen so far."""

    booked: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    checked_in: int = 0
    checked_out: int = 0
    errors: int = 0


class App:
    """Sends intents to the API at their time (and check-ins/outs at arrival and departure)."""

    def __init__(self, http: httpx.Client, key: str) -> None:
        self._http = http
        self._auth = {"Authorization": f"Bearer {key}"}
        self.tally = Tally()
        self._later: list[tuple[datetime, int, str, int]] = []  # (when, order, action, booking id)
        self._order = 0

    @classmethod
    def connect(cls, api_url: str, key: str, timeout_s: float = 10.0) -> App:
        return cls(httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout_s), key)

    def close(self) -> None:
        self._http.close()

    def book(self, intent: Intent) -> None:
        try:
            reply = self._http.post(
                "/v1/parking/bookings", json=intent.body,
                headers=self._auth | {"Idempotency-Key": str(uuid.uuid4())},
            )  # fmt: skip
        except httpx.HTTPError as error:
            self.tally.errors += 1
            logger.warning("booking failed: %s", error)
            return
        if reply.status_code in (200, 201):
            self.tally.booked += 1
            booking = reply.json()
            if intent.shows:
                arrival = datetime.fromisoformat(booking["arrival"])
                departure = datetime.fromisoformat(booking["departure"])
                self._schedule(arrival, "check-in", booking["id"])
                self._schedule(departure, "check-out", booking["id"])
        elif reply.status_code == 409:
            self.tally.refused[reply.json().get("reason", "?")] += 1
        else:
            self.tally.errors += 1
            logger.warning("booking answered %s: %s", reply.status_code, reply.text[:300])

    def _schedule(self, when: datetime, action: str, booking_id: int) -> None:
        self._order += 1
        heapq.heappush(self._later, (when, self._order, action, booking_id))

    def due(self, now: datetime) -> None:
        """Check in and out the bookings whose time has come."""
        while self._later and self._later[0][0] <= now:
            _, _, action, booking_id = heapq.heappop(self._later)
            try:
                reply = self._http.post(f"/v1/parking/bookings/{booking_id}/{action}", headers=self._auth)
            except httpx.HTTPError:
                self.tally.errors += 1
                continue
            if reply.status_code == 200:
                if action == "check-in":
                    self.tally.checked_in += 1
                else:
                    self.tally.checked_out += 1


def run(
    app: App, intents_: Iterator[Intent], now: Any, stop: threading.Event, report_s: float = 60.0
) -> Tally:
    """Send each intent at its time (by `now()`, the simulators' clock) until `stop` is set."""
    last_report = now()
    for intent in intents_:
        while not stop.is_set():
            wait = (intent.made_at - now()).total_seconds()
            app.due(now())
            if wait <= 0:
                break
            stop.wait(min(wait, 1.0))
        if stop.is_set():
            break
        app.book(intent)
        if (now() - last_report).total_seconds() >= report_s:
            last_report = now()
            t = app.tally
            logger.info("parking app: %d booked, refused %s, %d in, %d out, %d errors", t.booked,
                        dict(t.refused), t.checked_in, t.checked_out, t.errors)  # fmt: skip
    return app.tally
