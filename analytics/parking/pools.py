"""What a booking promises a driver, and spaces that are the same to the optimiser.

A booking promises its stay, at the price quoted, on a space with what the driver asked for: a
charger, an accessible or a large space if needed, within their walking distance and price cap
(`eligibility`). It does not promise a concrete space (late binding): until it is bound the
allocator may move it to any other space its request may use, and the price quoted stays on the
booking (the API keeps it) whatever the tariff of the space it ends on. A driver without an EV
who was put on a charger space may so be moved off it for one with an EV.

Earlier a booking also kept its kind of space and price rule (a visitor on a resident's space
moved only among residents' spaces). Letting it cross them lets the allocator undo a choice that
later requests show was poor. Drivers served by Yiju online with admission control, seed 1, kept
-> crossed (the re-pack's time limit makes counts vary by a few from run to run):
- 2,000 requests on 60 spaces, d/s 0.6: 1,026 -> 1,061-1,062 (optimum 1,114-1,115);
- 2,000 on 300, d/s 1.0: 1,423 -> 1,434; d/s 1.5: 1,077 -> 1,081;
- 10,000 on 300, d/s 0.6: 5,445 -> 5,528-5,533 (optimum 5,757); d/s 0.8: 5,410 -> 5,510 (5,660);
  d/s 1.0: 5,167 -> 5,243 (the best the optimum found; LP bound 5,459). The day took 293 s ->
  415 s at d/s 0.6 (both run side by side): a refusal's search and re-pack now range over more.
Handed the optimum's own 1,115 requests of the smaller day, the online places 1,101 of them
instead of 1,059.

The optimiser goes further: spaces that exactly the same requests may use, with the same tariff
and amenities, are one *type* with a capacity. Nothing in the problem tells two such spaces apart
(windows and positions matter only through who may use a space), so grouping them loses nothing;
one tariff per type lets the IP's tie-break price a stay there. How much it saves depends on the
supply: spaces of one car park with the same hours collapse into one type, but owners who each
keep their own hours stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analytics.parking.model import PriceRule, Space


def amenities(space: Space) -> tuple[bool, bool, bool]:
    return space.has_charger, space.accessible, space.large


def types(spaces: Sequence[Space], allowed: np.ndarray) -> list[list[int]]:
    """Columns of `spaces` grouped by tariff, amenities and who may use them
    (`allowed[request, space]`), in order of their first column."""
    groups: dict[tuple[PriceRule, tuple[bool, bool, bool], bytes], list[int]] = {}
    packed = np.packbits(allowed, axis=0)
    for j, s in enumerate(spaces):
        groups.setdefault((s.price, amenities(s), packed[:, j].tobytes()), []).append(j)
    return list(groups.values())
