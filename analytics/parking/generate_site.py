"""The supply side of a generated day: car parks, their spaces, hours, chargers and prices.

Shapes are described in `generate.py`; this module draws them from `seed` and the space count only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analytics.parking.model import PriceRule, Space, SpaceKind

HORIZON = 1440 + 9 * 60  # midnight to 09:00 the next morning
GRID = 5  # minutes
AC_KW, DC_KW = 7.0, 60.0
SITE_POWER_SHARE = 0.15  # of the installed pile power: the spare capacity of an old community's transformer

SHARES = {
    SpaceKind.RESIDENT: 0.40,
    SpaceKind.PUBLIC: 0.15,
    SpaceKind.INSTITUTIONAL: 0.25,
    SpaceKind.STREET: 0.20,
}
AC_SHARE = {
    SpaceKind.RESIDENT: 0.25,
    SpaceKind.PUBLIC: 0.30,
    SpaceKind.INSTITUTIONAL: 0.20,
    SpaceKind.STREET: 0.10,
}
DC_SHARE = 0.015
ACCESSIBLE_SHARE = 0.04
LARGE_SHARE = 0.12  # of the spaces outside the resident garages (low ceilings there)
PRICES = {
    SpaceKind.RESIDENT: PriceRule(per_hour=4.0, night_per_hour=4.0, resident_discount=0.3),
    SpaceKind.PUBLIC: PriceRule(per_hour=5.0, night_per_hour=3.0, resident_discount=0.5),
    SpaceKind.INSTITUTIONAL: PriceRule(
        per_hour=8.0, night_per_hour=1.5, night_start=18 * 60, night_end=8 * 60, resident_discount=0.3
    ),
    SpaceKind.STREET: PriceRule(per_hour=6.0, night_per_hour=1.0, resident_discount=0.5),
}
# car parks per kind: (id prefix, how many, distance range from the community's centre in metres)
LOTS = {
    SpaceKind.RESIDENT: ("R", 3, (60.0, 150.0)),
    SpaceKind.PUBLIC: ("P", 2, (80.0, 160.0)),
    SpaceKind.INSTITUTIONAL: ("I", 3, (250.0, 600.0)),
    SpaceKind.STREET: ("S", 3, (200.0, 500.0)),
}


@dataclass(frozen=True, slots=True)
class Lot:
    id: str
    kind: SpaceKind
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Site:
    """Spaces as parallel arrays (natural windows before any scaling)."""

    lots: tuple[Lot, ...]
    lot: np.ndarray  # index into lots, per space
    start: np.ndarray
    end: np.ndarray
    charger_kw: np.ndarray
    accessible: np.ndarray
    large: np.ndarray
    ids: tuple[str, ...]

    @property
    def public(self) -> np.ndarray:
        return np.array([self.lots[i].kind is SpaceKind.PUBLIC for i in self.lot])

    def positions(self, kind: SpaceKind) -> list[tuple[float, float]]:
        return [(lot.x, lot.y) for lot in self.lots if lot.kind is kind]


def _counts(total: int, shares: list[float]) -> list[int]:
    """Largest-remainder split of `total` by `shares`."""
    raw = [total * s / sum(shares) for s in shares]
    counts = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _round(minutes: np.ndarray) -> np.ndarray:
    return (np.round(minutes / GRID) * GRID).astype(np.int64)


def site(seed: int, spaces: int) -> Site:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    kinds = list(SHARES)
    per_kind = _counts(spaces, [SHARES[k] for k in kinds])
    dc_total = dc_left = max(1, round(DC_SHARE * spaces))
    lots: list[Lot] = []
    cols: dict[str, list] = {k: [] for k in ("lot", "start", "end", "kw", "acc", "large", "id")}
    for kind, n_kind in zip(kinds, per_kind, strict=True):
        prefix, n_lots, (near, far) = LOTS[kind]
        for j, size in enumerate(_counts(n_kind, [1.0] * n_lots)):
            angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(near, far)
            lot = Lot(f"{prefix}{j + 1}", kind, round(dist * math.cos(angle)), round(dist * math.sin(angle)))
            lots.append(lot)
            dc = 0
            if kind in (SpaceKind.PUBLIC, SpaceKind.INSTITUTIONAL) and dc_left and size >= 4:
                dc = min(dc_left, math.ceil(dc_total / 5))  # spread over the 5 public/institutional lots
                dc_left -= dc
            units = _units(rng, kind, size, dc)
            start, end = _hours(rng, kind, len(units))
            for k, (kw, acc, large) in enumerate(units):
                cols["lot"].append(len(lots) - 1)
                cols["kw"].append(kw)
                cols["acc"].append(acc)
                cols["large"].append(large)
                cols["id"].append(f"{lot.id}-{k + 1:03d}")
            cols["start"].extend(start)
            cols["end"].extend(end)
    return Site(
        lots=tuple(lots),
        lot=np.array(cols["lot"]),
        start=np.array(cols["start"], dtype=np.int64),
        end=np.array(cols["end"], dtype=np.int64),
        charger_kw=np.array(cols["kw"], dtype=float),
        accessible=np.array(cols["acc"], dtype=bool),
        large=np.array(cols["large"], dtype=bool),
        ids=tuple(cols["id"]),
    )


def _units(rng: np.random.Generator, kind: SpaceKind, size: int, dc: int) -> list[tuple[float, bool, bool]]:
    """(charger kW, accessible, large) per space of a lot, in the lot's order: AC piles serve two
    adjacent spaces, a DC pile one; the order is shuffled by pile, so piles stay adjacent."""
    pairs = min(round(AC_SHARE[kind] * size / 2), (size - dc) // 2)
    plain = size - dc - 2 * pairs
    singles: list[list[tuple[float, bool, bool]]] = [[(0.0, False, False)] for _ in range(plain)]
    n_acc = min(plain, max(1 if kind is not SpaceKind.RESIDENT else 0, round(ACCESSIBLE_SHARE * size)))
    n_large = 0 if kind is SpaceKind.RESIDENT else min(plain - n_acc, round(LARGE_SHARE * size))
    for i in range(n_acc):
        # accessible bays are wide enough for large cars, except under the garages' low ceilings
        singles[i] = [(0.0, True, kind is not SpaceKind.RESIDENT)]
    for i in range(n_acc, n_acc + n_large):
        singles[i] = [(0.0, False, True)]
    groups = singles + [[(AC_KW, False, False)] * 2 for _ in range(pairs)] + [[(DC_KW, False, True)]] * dc
    order = rng.permutation(len(groups))
    return [unit for i in order for unit in groups[i]]


def _hours(rng: np.random.Generator, kind: SpaceKind, n: int) -> tuple[list[int], list[int]]:
    """Natural [start, end) of each space of a lot: owners vary by space, car parks by lot."""
    if kind is SpaceKind.PUBLIC:
        return [0] * n, [HORIZON] * n
    if kind is SpaceKind.RESIDENT:
        early = rng.random(n) < 0.5  # 07:30-19:00 or 08:00-18:00
        start = np.where(early, 450, 480) + rng.choice([-30, -15, 0, 15, 30], n)
        end = np.where(early, 1140, 1080) + rng.choice([-30, -15, 0, 15, 30], n)
        return start.tolist(), end.tolist()
    if kind is SpaceKind.INSTITUTIONAL:
        start_i, end_i = 1080 + int(rng.choice([-30, 0, 30])), 1440 + 480 + int(rng.choice([-30, 0]))
    else:
        start_i, end_i = 1140 + int(rng.choice([-30, 0, 30])), 1440 + 420 + int(rng.choice([-30, 0, 30]))
    return [start_i] * n, [end_i] * n


def windows(site: Site, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Windows stretched by `scale` around their centres (public lots stay open throughout)."""
    centre, half = (site.start + site.end) / 2, (site.end - site.start) * scale / 2
    start = np.clip(_round(centre - half), 0, HORIZON)
    end = np.clip(_round(centre + half), 0, HORIZON)
    public = site.public
    return np.where(public, site.start, start), np.where(public, site.end, end)


def supply_minutes(site: Site, scale: float) -> int:
    start, end = windows(site, scale)
    return int((end - start).sum())


def spaces(site: Site, scale: float) -> tuple[Space, ...]:
    start, end = windows(site, scale)
    out = []
    for i, sid in enumerate(site.ids):
        lot = site.lots[site.lot[i]]
        out.append(
            Space(
                id=sid,
                kind=lot.kind,
                windows=((int(start[i]), int(end[i])),),
                x=lot.x,
                y=lot.y,
                charger_kw=float(site.charger_kw[i]),
                accessible=bool(site.accessible[i]),
                large=bool(site.large[i]),
                price=PRICES[lot.kind],
            )
        )
    return tuple(out)


def site_power_kw(site: Site) -> float:
    return max(AC_KW, math.ceil(SITE_POWER_SHARE * _installed_kw(site) / 10) * 10)


def _installed_kw(site: Site) -> float:
    """Power of the piles: an AC pile serves two spaces, so counts once per pair."""
    ac = float((site.charger_kw == AC_KW).sum()) / 2 * AC_KW
    dc = float((site.charger_kw == DC_KW).sum()) * DC_KW
    return ac + dc
