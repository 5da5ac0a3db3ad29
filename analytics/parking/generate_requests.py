"""The demand side of a generated day: who asks, when, for how long, with what needs.

Shapes are described in `generate.py`. Each class draws from its own stream seeded by `seed`, so a
class's requests do not depend on how many the other classes have.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from analytics.parking.generate_site import AC_KW, GRID, HORIZON, Site
from analytics.parking.model import Request, Requester, SpaceKind

CLASSES = (Requester.RESIDENT, Requester.COMMUTER, Requester.VISITOR)
SHARE = {Requester.RESIDENT: 0.25, Requester.COMMUTER: 0.20}  # of the requests, visitors the rest
PER_SPACE = {Requester.RESIDENT: 0.4, Requester.COMMUTER: 0.3}  # at most this many per space
EV_SHARE, ACCESSIBLE_SHARE, LARGE_SHARE = 0.20, 0.03, 0.05
VISIT_LIMITS = (10, 360)  # minutes a stretched visit may last
STAY_FLOOR = 10
STRETCH = (0.05, 6.0)
COMMUNITY_RADIUS = 150.0


@dataclass(frozen=True, slots=True)
class Drafts:
    """Requests as parallel arrays; stays may still be stretched to reach a demand."""

    cls: np.ndarray  # index into CLASSES
    arrival: np.ndarray
    natural: np.ndarray  # stay as drawn
    stay: np.ndarray  # stay as used
    booked: np.ndarray  # minute the request reaches the service (may be the evening before: < 0)
    ev: np.ndarray
    kwh: np.ndarray  # energy wanted before the stay's cap
    accessible: np.ndarray
    large: np.ndarray
    x: np.ndarray
    y: np.ndarray
    walk: np.ndarray
    price: np.ndarray  # yuan for residents and commuters, yuan an hour for visitors
    tie: np.ndarray
    dither: np.ndarray  # in [0, 1): where each stay rounds when stretched, so totals move smoothly

    def __len__(self) -> int:
        return len(self.cls)

    def total_minutes(self) -> int:
        return int(self.stay.sum())

    def stretched(self, wanted: float) -> Drafts:
        """Visits (then, if that is not enough, all stays) scaled so the stays add up to `wanted`."""
        visits = self.cls == CLASSES.index(Requester.VISITOR)
        room = HORIZON - self.arrival
        lo, hi = VISIT_LIMITS

        def visit_stays(f: float) -> np.ndarray:
            scaled = np.clip(self._grid(f * self.natural), lo, np.minimum(hi, room))
            return np.where(visits, scaled, self.natural)

        f = _solve(lambda f: int(visit_stays(f).sum()), wanted)
        stays = visit_stays(f)
        if abs(stays.sum() / wanted - 1) > 0.002 and f in STRETCH:
            base = np.where(visits, f * self.natural, self.natural)
            g = _solve(lambda g: int(np.clip(self._grid(g * base), STAY_FLOOR, room).sum()), wanted)
            stays = np.clip(self._grid(g * base), STAY_FLOOR, room)
        return replace(self, stay=stays.astype(np.int64))

    def _grid(self, minutes: np.ndarray) -> np.ndarray:
        return (np.floor(minutes / GRID + self.dither) * GRID).astype(np.int64)

    def requests(self) -> tuple[Request, ...]:
        order = np.lexsort((self.tie, self.booked))
        out = []
        for n, i in enumerate(order):
            who = CLASSES[self.cls[i]]
            stay = int(self.stay[i])
            kwh = max(0.5, round(min(float(self.kwh[i]), AC_KW * stay / 60), 1)) if self.ev[i] else 0.0
            limit = float(self.price[i])
            if who is Requester.VISITOR:
                limit = max(5.0, round(limit * stay / 60, 1))
            out.append(
                Request(
                    id=f"q{n:05d}",
                    arrival=int(self.arrival[i]),
                    departure=int(self.arrival[i]) + stay,
                    requester=who,
                    ev=bool(self.ev[i]),
                    energy_kwh=kwh,
                    accessible=bool(self.accessible[i]),
                    large=bool(self.large[i]),
                    x=float(self.x[i]),
                    y=float(self.y[i]),
                    max_walk_m=float(self.walk[i]),
                    max_price=limit,
                )
            )
        return tuple(out)


def _grid(minutes: np.ndarray) -> np.ndarray:
    return (np.round(minutes / GRID) * GRID).astype(np.int64)


def _solve(total: Callable[[float], int], wanted: float) -> float:
    """The factor in STRETCH whose total is nearest `wanted` (bisection: `total` never decreases)."""
    lo, hi = STRETCH
    if total(lo) >= wanted:
        return lo
    if total(hi) <= wanted:
        return hi
    for _ in range(50):
        mid = (lo + hi) / 2
        if total(mid) < wanted:
            lo = mid
        else:
            hi = mid
    return lo if wanted - total(lo) < total(hi) - wanted else hi


def class_counts(n: int, spaces: int) -> dict[Requester, int]:
    counts = {who: min(round(SHARE[who] * n), round(PER_SPACE[who] * spaces)) for who in SHARE}
    return {**counts, Requester.VISITOR: n - sum(counts.values())}


def _stays(who: Requester, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(arrival, stay) in minutes on the 5-minute grid."""
    if who is Requester.RESIDENT:
        arrival = _grid(np.clip(rng.normal(19 * 60, 75, n), 16 * 60, 23 * 60 + 30))
        leave = _grid(np.clip(rng.normal(1440 + 7.5 * 60, 40, n), 1440 + 6 * 60, HORIZON))
        return arrival, leave - arrival
    if who is Requester.COMMUTER:
        arrival = _grid(np.clip(rng.normal(8.5 * 60, 30, n), 7 * 60, 10.5 * 60))
        return arrival, _grid(np.clip(rng.normal(9.5 * 60, 50, n), 6 * 60, 11 * 60))
    peak = rng.choice(3, n, p=[0.40, 0.35, 0.25])
    centre, spread = np.array([600.0, 900.0, 1170.0])[peak], np.array([90.0, 90.0, 60.0])[peak]
    arrival = _grid(np.clip(rng.normal(centre, spread), 7 * 60, 22 * 60))
    return arrival, _grid(np.clip(rng.lognormal(math.log(60), 0.7, n), 30, 240))


@cache
def mean_stay(who: Requester) -> float:
    """A class's mean natural stay, from a fixed reference sample."""
    return float(_stays(who, np.random.default_rng(20_240_601), 20_000)[1].mean())


def count_for(spaces: int, wanted_minutes: float) -> int:
    """The fewest requests whose expected stays add up to `wanted_minutes` on `spaces` spaces."""

    def expected(n: int) -> float:
        return sum(mean_stay(who) * k for who, k in class_counts(n, spaces).items())

    lo, hi = 1, 1
    while expected(hi) < wanted_minutes:
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        if expected(mid) < wanted_minutes:
            lo = mid + 1
        else:
            hi = mid
    return lo


def draft(seed: int | tuple[int, ...], n: int, spaces: int, site: Site) -> Drafts:
    """`n` requests' drafts; `seed` may be a tuple (a day of a site's history, `generate.history`)."""
    parts = [_draft_class(seed, who, k, site) for who, k in class_counts(n, spaces).items()]
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    merged["stay"] = merged["natural"].copy()
    return Drafts(**merged)


def _draft_class(seed: int | tuple[int, ...], who: Requester, n: int, site: Site) -> dict[str, np.ndarray]:
    entropy = list(seed) if isinstance(seed, tuple) else [seed]
    rng = np.random.default_rng(np.random.SeedSequence([*entropy, 2, CLASSES.index(who)]))
    arrival, stay = _stays(who, rng, n)
    if who is Requester.RESIDENT:
        evening_before = rng.random(n) < 0.6
        booked = np.where(evening_before, rng.uniform(-360, -60, n), arrival - rng.uniform(60, 480, n))
        at_work, walk = 0.0, rng.choice(np.arange(200, 601, 50), n)
        price = rng.uniform(15, 40, n)
    elif who is Requester.COMMUTER:
        evening_before = rng.random(n) < 0.7
        booked = np.where(evening_before, rng.uniform(-300, -30, n), arrival - rng.uniform(30, 120, n))
        at_work, walk = 0.7, rng.choice(np.arange(300, 801, 50), n)
        price = rng.uniform(30, 70, n)
    else:
        booked = arrival - np.clip(rng.lognormal(math.log(180), 1.0, n), 10, 36 * 60)
        at_work, walk = 0.15, rng.choice(np.arange(200, 501, 50), n)
        price = rng.uniform(5, 12, n)  # yuan an hour
    x, y = _destinations(rng, n, at_work, site.positions(SpaceKind.INSTITUTIONAL))
    return {
        "cls": np.full(n, CLASSES.index(who)),
        "arrival": arrival,
        "natural": stay,
        "booked": booked,
        "ev": rng.random(n) < EV_SHARE,
        "kwh": np.clip(rng.lognormal(math.log(8), 0.65, n), 1, 60),
        "accessible": rng.random(n) < ACCESSIBLE_SHARE,
        "large": rng.random(n) < LARGE_SHARE,
        "x": x,
        "y": y,
        "walk": walk.astype(float),
        "price": np.round(price, 1),
        "tie": rng.random(n),
        "dither": rng.random(n),
    }


def _destinations(
    rng: np.random.Generator, n: int, at_work: float, institutions: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Where each driver walks to: a building of the community, or one of the institutions."""
    radius, angle = COMMUNITY_RADIUS * np.sqrt(rng.random(n)), rng.uniform(0, 2 * math.pi, n)
    x, y = radius * np.cos(angle), radius * np.sin(angle)
    work = rng.random(n) < at_work
    which = rng.integers(0, len(institutions), n)
    ix = np.array([p[0] for p in institutions])[which] + rng.normal(0, 60, n)
    iy = np.array([p[1] for p in institutions])[which] + rng.normal(0, 60, n)
    return np.round(np.where(work, ix, x)), np.round(np.where(work, iy, y))
