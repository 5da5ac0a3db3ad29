"""How much of the optimum's own choice of requests each online placer can place:
`python -m bench.allocation_packing [SEED RATIO REQUESTS SPACES [TIME_LIMIT]]`.

The placers are handed exactly the requests the offline optimum accepts, in booking order, with
no admission control, so whatever they fail to place is lost to placement alone, not to which
requests were admitted. The placers: first come, first fit (the baseline) and Yiju online (best
fit, room-making moves, the exact re-pack).

Why it exists: at 10,000 requests on 300 spaces and demand/supply 0.6, Yiju online serves 94-96%
of the optimum (`yiju bench allocation`). A day of the same shape at a fifth of the size (seed 1,
2,000 requests on 60 spaces: every visit 10 minutes, each hold 30 with its buffers) is quicker to
study. There the optimum serves 1,114-1,115 requests (LP bound 1,122), and this bench measured,
handed them:
- first fit places 896-910;
- Yiju online placed 1,023 when bookings kept their kind and price rule (their *pool*) and before
  the exact re-pack (`repack`); 1,059 with the re-pack; told the pool the optimum put each request
  in, 1,057 and 1,111. So choosing the pool cost about 50 requests;
- Yiju online places 1,101 now that a booking may move to any space its driver may use (`pools`).
With admission control, choosing its own requests, Yiju online serves 1,061 on that day: what
is left is mostly which requests to admit.

At full size (seed 1, 10,000 requests on 300 spaces, d/s 0.6; optimum 5,757, LP bound 5,805) the
same handover gave, with pools and before the re-pack, first fit 4,874, Yiju online 5,376 and
Yiju online told the pools 5,441. Against the later optimum of 5,790 (the window search), first
fit placed 4,897 and Yiju online 5,537 with the re-pack: at this size placement, not admission,
was most of the loss. With the window re-solved by space type as the last try (`online`), Yiju
online places 5,680.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from analytics.parking import fcfs, optimum
from analytics.parking.eligibility import matrix
from analytics.parking.generate import day
from analytics.parking.model import Instance
from analytics.parking.online import OnlineAllocator


def measure(seed: int, ratio: float, requests: int, spaces: int, time_limit: float = 180.0) -> dict[str, Any]:
    """The optimum of one generated day, and how many of its requests each placer places."""
    instance = day(seed, ratio, requests, spaces)
    best = optimum.solve(instance, time_limit=time_limit)
    chosen = {b.request_id for b in best.bookings}
    subset = Instance(
        instance.spaces,
        tuple(r for r in instance.requests if r.id in chosen),
        instance.horizon,
        buffer=instance.buffer,
    )
    return {
        "seed": seed,
        "demand_supply": ratio,
        "requests": requests,
        "spaces": spaces,
        "optimum_accepted": best.accepted,
        "optimum_status": best.status,
        "lp_bound": round(best.lp_bound, 2),
        "fcfs_placed": len(fcfs.allocate(subset)),
        "online_placed": _placed(subset),
    }


def _placed(instance: Instance) -> int:
    """Requests the online allocator places, in order, without admission control."""
    allocator = OnlineAllocator(instance.spaces, instance.buffer)
    eligible = matrix(instance.spaces, instance.requests)
    return sum(
        allocator.place(request, allowed=may) is not None
        for request, may in zip(instance.requests, eligible, strict=True)
    )


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
