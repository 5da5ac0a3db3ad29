"""Spaces that are the same to a driver, and spaces that are the same to the optimiser.

A booking is a promise of a pool, not of a concrete space (late binding): until it is bound the
allocator may move it to another space of the same pool that its request may use, so the driver
still gets the kind of space and the price they were quoted, and (being eligible) what they need.
A driver without an EV who was put on a charger space may so be moved off it for one with an EV.

The optimiser goes further: spaces that exactly the same requests may use, from the same pool and
with the same amenities, are one *type* with a capacity. Nothing in the problem tells two such
spaces apart (windows and positions matter only through who may use a space), so grouping them
loses nothing. How much it saves depends on the supply: spaces of one car park with the same hours
collapse into one type, but owners who each keep their own hours stay apart (a generated day's
300 spaces make 120-135 types).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from analytics.parking.model import Space


def pool(space: Space) -> Hashable:
    """What a booking on `space` was promised: its kind and price rule."""
    return space.kind, space.price


def amenities(space: Space) -> tuple[bool, bool, bool]:
    return space.has_charger, space.accessible, space.large


def types(spaces: Sequence[Space], allowed: np.ndarray) -> list[list[int]]:
    """Columns of `spaces` grouped by pool, amenities and who may use them
    (`allowed[request, space]`), in order of their first column."""
    groups: dict[tuple[Hashable, tuple[bool, bool, bool], bytes], list[int]] = {}
    packed = np.packbits(allowed, axis=0)
    for j, s in enumerate(spaces):
        groups.setdefault((pool(s), amenities(s), packed[:, j].tobytes()), []).append(j)
    return list(groups.values())
