"""Which request may use which space: `model.refusal` for every pair at once, as a boolean matrix.

Calling `refusal` pair by pair costs about 1.6 µs, 5 s for 10,000 requests x 300 spaces; numpy
does it in a fraction of that. It gives the same answer as `refusal` for every pair: windows and
needs are exact integer/boolean tests, prices come from `model.price` itself (once per request and
price rule), and walking distances within a hair of the limit are recomputed with `model.walk_m`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np

from analytics.parking.model import Request, Space, price, walk_m

K = TypeVar("K", bound=Hashable)


def matrix(spaces: Sequence[Space], requests: Sequence[Request]) -> np.ndarray:
    """`out[i, j]`: request i may use space j (`model.eligible`)."""
    n, m = len(requests), len(spaces)
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=bool)
    ok = _needs(spaces, requests)
    ok &= _walkable(spaces, requests)
    arrival = np.array([r.arrival for r in requests])
    departure = np.array([r.departure for r in requests])
    for windows, columns in _groups(spaces, lambda s: s.windows).items():
        ok[:, columns] &= _inside(windows, arrival, departure)[:, None]
    capped = [i for i, r in enumerate(requests) if math.isfinite(r.max_price)]
    if capped:
        for _rule, columns in _groups(spaces, lambda s: s.price).items():
            sample = spaces[columns[0]]
            affordable = np.ones(n, dtype=bool)
            affordable[capped] = [price(sample, requests[i]) <= requests[i].max_price for i in capped]
            ok[:, columns] &= affordable[:, None]
    return ok


def _needs(spaces: Sequence[Space], requests: Sequence[Request]) -> np.ndarray:
    charger = np.array([s.has_charger for s in spaces])
    accessible = np.array([s.accessible for s in spaces])
    large = np.array([s.large for s in spaces])
    ok = np.ones((len(requests), len(spaces)), dtype=bool)
    for column, wants in (
        (charger, [r.needs_charger for r in requests]),
        (accessible, [r.accessible for r in requests]),
        (large, [r.large for r in requests]),
    ):
        ok[np.array(wants)] &= column
    return ok


def _walkable(spaces: Sequence[Space], requests: Sequence[Request]) -> np.ndarray:
    limit = np.array([r.max_walk_m for r in requests])
    bounded = np.flatnonzero(np.isfinite(limit))
    ok = np.ones((len(requests), len(spaces)), dtype=bool)
    if bounded.size == 0:
        return ok
    sx, sy = np.array([s.x for s in spaces]), np.array([s.y for s in spaces])
    rx, ry = np.array([r.x for r in requests])[bounded], np.array([r.y for r in requests])[bounded]
    dist = np.hypot(sx[None, :] - rx[:, None], sy[None, :] - ry[:, None])
    lim = limit[bounded][:, None]
    ok[bounded] = dist <= lim
    # np.hypot and math.hypot may round differently in the last place: ask the model at the edge.
    for i, j in zip(*np.nonzero(np.abs(dist - lim) <= 1e-9 * np.maximum(1.0, lim)), strict=True):
        row = bounded[i]
        ok[row, j] = walk_m(spaces[j], requests[row]) <= requests[row].max_walk_m
    return ok


def _inside(windows: tuple[tuple[int, int], ...], arrival: np.ndarray, departure: np.ndarray) -> np.ndarray:
    """`model.in_windows` for every stay: some window opening by the arrival closes by the
    departure, i.e. the latest close among windows opened by then is not before it."""
    if not windows:
        return np.zeros(arrival.shape, dtype=bool)
    ordered = sorted(windows)
    opens = np.array([lo for lo, _ in ordered])
    latest_close = np.maximum.accumulate(np.array([hi for _, hi in ordered]))
    k = np.searchsorted(opens, arrival, side="right") - 1
    return (k >= 0) & (latest_close[np.maximum(k, 0)] >= departure)


def _groups(spaces: Sequence[Space], key: Callable[[Space], K]) -> dict[K, list[int]]:
    out: dict[K, list[int]] = {}
    for j, s in enumerate(spaces):
        out.setdefault(key(s), []).append(j)
    return out
