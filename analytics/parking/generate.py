"""Seeded shared-parking days for the benchmark: `day(seed, demand_supply, requests, spaces)`.

Time is minutes from midnight of a working day; the horizon runs to 09:00 the next morning
(1,980 min) so that the night's stays end inside it. A day is a pure function of its arguments
(NumPy generators seeded from `seed`; the site does not depend on the other arguments, except
that its hours stretch when both counts are given, below).

Supply (`generate_site.py`): a community at the origin with three resident garages and two
public lots, three neighbouring institutions 250-600 m away and three night street segments
200-500 m away; every space of a car park shares its entrance's position. Kinds: 40%
resident-owned (shared while the owner is away: 07:30-19:00 or 08:00-18:00, each end moved by
up to 30 min), 15% community public (the whole horizon), 25% institutional (错时: about
18:00-08:00), 20% night street (about 19:00-07:00). Only openings that begin on this day count,
so the institutions' and streets' previous nights are left out. Chargers: 7 kW AC on 25% of
resident, 30% of public, 20% of institutional and 10% of street spaces, in adjacent pairs (two
spaces share one pile, 多车一桩); 60 kW DC on 1.5% of the spaces (one space per pile) in the
public and institutional lots. The site may draw 15% of the installed pile power at once (an old
community's spare transformer capacity), so the evening peak is limited. About 4-5% of the
spaces are accessible; 12% of those outside the resident garages take large cars. Prices
(yuan/h, day/night): resident 4/4, public 5/3, institutional 8/1.5 (night 18-08), street 6/1;
residents pay 50-70% of that.

Demand (`generate_requests.py`), on a 5-minute grid: residents arrive in the evening
(N(19:00, 75 min) within 16:00-23:30) and leave the next morning (N(07:30, 40 min)); commuters
arrive N(08:30, 30 min) and stay N(9.5 h, 50 min) within 6-11 h, like the workplace sessions of
Caltech's ACN-Data; visitors arrive 07:00-22:00 with peaks at 10:00, 15:00 and 19:30 and stay a
lognormal time, median 60 min, within 30 min-4 h. Residents are 25% of the requests and
commuters 20%, but at most 0.4 and 0.3 per space (a community has only so many), so larger
request counts are more visitors. 20% of the cars are EVs wanting energy: lognormal, median
8 kWh, sigma 0.65, within 1-60 kWh (the shape of ACN-Data's kWhDelivered, not fitted to it), at
most what a 7 kW pile gives over the stay; they need a charger space. 3% need an accessible
space, 5% a large one. Drivers head for a building of the community (residents, 85% of
visitors, 30% of commuters) or for an institution; they walk at most 200-600 m (residents),
300-800 m (commuters) or 200-500 m (visitors) and pay at most 15-40 yuan a night, 30-70 a
workday or 5-12 yuan an hour of a visit. Order: residents book the evening before (60%) or 1-8 h
ahead, commuters the evening before (70%) or 30-120 min ahead, visitors a lognormal lead
(median 3 h, 10 min to 36 h); the instance's requests are in booking order.

Demand/supply is requested stay minutes over available space minutes in the horizon (`figures`;
the turnover buffers are not counted, `buffered_demand_supply` counts them). To reach it: with
`requests` None, the count follows from the class means and the visits are stretched a little;
with both counts given, the owners', institutions' and streets' hours are first scaled around
their centres (x0.7 to x1.4), then the visits (10 min-6 h), then, as a last resort, every stay.
More requests than the site can hold at realistic stays therefore mean short visits: with 300
spaces, 2,000 requests keep visits of 35-100 min (demand/supply 0.6-1.5), while 10,000 requests
leave 10-37 min a visit, and at 0.6 even the residents' and commuters' stays shrink by a quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from analytics.parking import generate_requests, generate_site
from analytics.parking.model import Instance, Request, Space

HORIZON = generate_site.HORIZON
WINDOW_SCALES = (0.7, 1.4)  # how far the owners' and institutions' hours may stretch or shrink
TOLERANCE = 0.01  # the demand/supply reached is within 1% of the one asked for


@dataclass(frozen=True, slots=True)
class DayFigures:
    """What a day holds, measured on the instance."""

    supply_minutes: int
    demand_minutes: int
    buffered_demand_minutes: int  # stays plus the turnover buffer on both sides
    demand_supply: float
    buffered_demand_supply: float
    by_requester: dict[str, int]
    evs: int
    accessible: int
    large: int


def day(
    seed: int,
    demand_supply: float,
    requests: int | None = None,
    spaces: int = 300,
    *,
    demand: tuple[int, ...] | None = None,
) -> Instance:
    """A generated day whose requested stay minutes are `demand_supply` times the available ones.
    `demand` seeds the requests alone (default `seed`): another day of the same site."""
    if not 0.05 <= demand_supply <= 10:
        raise ValueError(f"demand_supply {demand_supply} outside 0.05-10")
    if spaces < 10:
        raise ValueError("at least 10 spaces")
    if requests is not None and requests < 1:
        raise ValueError("at least one request")
    site = generate_site.site(seed, spaces)
    if requests is None:
        count = generate_requests.count_for(spaces, demand_supply * generate_site.supply_minutes(site, 1.0))
        drafts = generate_requests.draft(demand or seed, count, spaces, site)
        scale = 1.0
    else:
        drafts = generate_requests.draft(demand or seed, requests, spaces, site)
        scale = _window_scale(site, drafts.total_minutes() / demand_supply)
    supply = generate_site.supply_minutes(site, scale)
    drafts = drafts.stretched(demand_supply * supply)
    reached = drafts.total_minutes() / supply
    if abs(reached / demand_supply - 1) > TOLERANCE:
        raise ValueError(
            f"demand/supply {demand_supply} out of reach with {len(drafts)} requests on {spaces} spaces"
            f" (got {reached:.3f}); ask for fewer requests or let the count follow"
        )
    return Instance(
        spaces=generate_site.spaces(site, scale),
        requests=drafts.requests(),
        horizon=HORIZON,
        site_power_kw=generate_site.site_power_kw(site),
    )


def history(
    seed: int, demand_supply: float, requests: int | None = None, spaces: int = 300, days: int = 3
) -> list[tuple[Request, ...]]:
    """The requests of `days` earlier days of `day(seed, ...)`'s site with the same demand, drawn
    afresh (what an operator's records would forecast from), each day's in booking order."""
    return [
        tuple(
            replace(r, id=f"h{k}-{r.id}")
            for r in day(seed, demand_supply, requests, spaces, demand=(seed, k)).requests
        )
        for k in range(days)
    ]


def _window_scale(site: generate_site.Site, wanted_supply: float) -> float:
    """The window scale whose supply is nearest `wanted_supply` within WINDOW_SCALES (bisection:
    supply grows with the scale, in 5-minute steps)."""
    lo, hi = WINDOW_SCALES
    if generate_site.supply_minutes(site, lo) >= wanted_supply:
        return lo
    if generate_site.supply_minutes(site, hi) <= wanted_supply:
        return hi
    for _ in range(40):
        mid = (lo + hi) / 2
        if generate_site.supply_minutes(site, mid) < wanted_supply:
            lo = mid
        else:
            hi = mid
    return hi


def supply_minutes(spaces: tuple[Space, ...], horizon: int) -> int:
    return sum(max(0, min(hi, horizon) - max(lo, 0)) for s in spaces for lo, hi in s.windows)


def figures(instance: Instance) -> DayFigures:
    """Demand, supply and the class mix of a day."""
    reqs: tuple[Request, ...] = instance.requests
    supply = supply_minutes(instance.spaces, instance.horizon)
    stays = sum(r.departure - r.arrival for r in reqs)
    buffered = stays + 2 * instance.buffer * len(reqs)
    kinds: dict[str, int] = {}
    for r in reqs:
        kinds[r.requester.value] = kinds.get(r.requester.value, 0) + 1
    return DayFigures(
        supply_minutes=supply,
        demand_minutes=stays,
        buffered_demand_minutes=buffered,
        demand_supply=stays / supply if supply else float(np.inf),
        buffered_demand_supply=buffered / supply if supply else float(np.inf),
        by_requester=kinds,
        evs=sum(r.ev for r in reqs),
        accessible=sum(r.accessible for r in reqs),
        large=sum(r.large for r in reqs),
    )
