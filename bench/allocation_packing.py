"""How much of the optimum's own choice of requests each online placer can place:
`python -m bench.allocation_packing [SEED RATIO REQUESTS SPACES [TIME_LIMIT]]`.

The placers are handed exactly the requests the offline optimum accepts, in booking order, with
no admission control, so whatever they fail to place is lost to packing alone, not to which
requests were admitted. The placers:
- first come, first fit: the baseline;
- Yiju online: best fit plus room-making moves within a pool;
- Yiju online told the pool the optimum put each request in: what it still misses is packing
  within pools.

Why it exists: at 10,000 requests on 300 spaces and demand/supply 0.6, Yiju online serves about
94% of the optimum (`yiju bench allocation`). A day of the same shape at a fifth of the size
(seed 1, 2,000 requests on 60 spaces: every visit 10 minutes, each hold 30 with its buffers) is
quicker to study. There Yiju online serves 1,008-1,011 requests against the optimum's 1,114 (LP
bound 1,122), and still 1,012 when the forecast is the day itself, so the forecast is not what
it lacks. Handed the optimum's 1,114 requests, this bench measured:
- first fit places 910;
- Yiju online places 1,023 before the exact re-pack (`repack`), 1,059 with it;
- Yiju online told the optimum's pools places 1,057 before it, 1,111 with it.
So before the re-pack, placement alone lost about as much as the whole gap: choosing the pool cost
34 requests and packing within pools 57. With it, packing within pools costs 3 and choosing the
pool 52.

At full size (seed 1, 10,000 requests on 300 spaces, d/s 0.6; optimum 5,757, LP bound 5,805) the
same handover gave, before the re-pack, first fit 4,874, Yiju online 5,376 and Yiju online told
the pools 5,441. With admission control, choosing its own requests, Yiju online serves 5,404
requests without the re-pack and 5,445 with it.

Choosing the pool by the most (or least) free room, before the re-pack, served 1,006-1,012 of
the smaller day's requests against 1,008-1,011.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from analytics.parking import fcfs, optimum
from analytics.parking.eligibility import matrix
from analytics.parking.generate import day
from analytics.parking.model import Instance
from analytics.parking.online import OnlineAllocator
from analytics.parking.pools import pool


def measure(seed: int, ratio: float, requests: int, spaces: int, time_limit: float = 180.0) -> dict[str, Any]:
    """The optimum of one generated day, and how many of its requests each placer places."""
    instance = day(seed, ratio, requests, spaces)
    best = optimum.solve(instance, time_limit=time_limit)
    chosen = {b.request_id: b.space_id for b in best.bookings}
    subset = Instance(
        instance.spaces,
        tuple(r for r in instance.requests if r.id in chosen),
        instance.horizon,
        buffer=instance.buffer,
    )
    pools = [pool(s) for s in instance.spaces]
    pool_of = {s.id: p for s, p in zip(instance.spaces, pools, strict=True)}
    spaces_of = {p: np.array([q == p for q in pools]) for p in set(pools)}  # one mask per pool

    def told(request_id: str) -> np.ndarray:
        return spaces_of[pool_of[chosen[request_id]]]

    return {
        "seed": seed,
        "demand_supply": ratio,
        "requests": requests,
        "spaces": spaces,
        "optimum_accepted": best.accepted,
        "optimum_status": best.status,
        "lp_bound": round(best.lp_bound, 2),
        "fcfs_placed": len(fcfs.allocate(subset)),
        "online_placed": _placed(subset, lambda _: None),
        "online_told_pool_placed": _placed(subset, told),
    }


def _placed(instance: Instance, only: Callable[[str], np.ndarray | None]) -> int:
    """Requests the online allocator places, each on the spaces `only` gives (None: any)."""
    allocator = OnlineAllocator(instance.spaces, instance.buffer)
    eligible = matrix(instance.spaces, instance.requests)
    placed = 0
    for request, may in zip(instance.requests, eligible, strict=True):
        mask = only(request.id)
        allowed = may if mask is None else may & mask
        placed += allocator.place(request, allowed=allowed) is not None
    return placed


def main(args: list[str]) -> None:
    """Print one day's record (by default the small proxy described above) as JSON."""
    seed, ratio, requests, spaces = 1, 0.6, 2_000, 60
    if len(args) >= 4:
        seed, ratio = int(args[0]), float(args[1])
        requests, spaces = int(args[2]), int(args[3])
    limit = float(args[4]) if len(args) > 4 else 180.0
    print(json.dumps(measure(seed, ratio, requests, spaces, limit), indent=2), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
