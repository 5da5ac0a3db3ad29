"""`yiju bench allocation`: FCFS, Yiju online, online with re-optimisation and the offline optimum on
generated days, each allocation checked, plus EV charging energy on Yiju's online allocation.

No services are needed: the days come from `analytics.parking.generate` and everything runs in this
process. Yiju online and re-optimisation control admission with bid prices forecast from
`history_days` earlier days of the same site (`generate.history`, other draws of the same demand:
what the operator's records hold); "online, no admission control" is the same allocator without
them, measured in the same run. The API's booking p99 (`api_p99_ms`) comes from
`bench/parking_api.py` when asked for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from analytics.parking import charging, check, fcfs, online, optimum
from analytics.parking.generate import day, figures, history
from analytics.parking.model import Booking, Instance, price
from core.config import Settings, get_settings

METHODS = ("fcfs", "greedy", "online", "reopt", "optimum")
BASELINES = ("fcfs", "greedy", "reopt")  # what `skip` may leave out: online and the optimum always run
TARGET_ONLINE_AT_MOST_1 = 0.97  # online / optimum accepted at demand/supply <= 1.0
TARGET_ONLINE_AT_1_5 = 0.92  # ... and at 1.5
TARGET_OPTIMUM_SECONDS = 60.0  # at 10,000 requests x 300 spaces
TARGET_EV_ENERGY = 0.95  # charging policy / max-flow optimum
# Earlier days admission control forecasts from: as many as the API's (`parking_forecast_weeks`)
HISTORY_DAYS: int = Settings.model_fields["parking_forecast_weeks"].default


class InvalidAllocation(RuntimeError):
    """An allocator produced bookings that `check.violations` rejects."""


@dataclass(frozen=True, slots=True)
class AllocationOptions:
    seeds: tuple[int, ...] = (1, 2)
    ratios: tuple[float, ...] = (0.6, 0.8, 1.0, 1.2, 1.5)
    requests: tuple[int, ...] = (2_000, 10_000)
    spaces: int = 300
    time_limit: float = 180.0  # the LP bound takes 56-100 s at 10,000 requests (optimum.py)
    api: bool = False
    history_days: int = HISTORY_DAYS
    skip: tuple[str, ...] = ()  # of BASELINES: their columns stay empty (None)

    def __post_init__(self) -> None:
        unknown = set(self.skip) - set(BASELINES)
        if unknown:
            raise ValueError(f"only {', '.join(BASELINES)} may be skipped, not {', '.join(sorted(unknown))}")


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: int
    space_hours: float
    revenue: float
    seconds: float


def online_target(ratio: float) -> float | None:
    """The online/optimum target at this demand/supply (none is set between 1.0 and 1.5)."""
    if ratio <= 1.0:
        return TARGET_ONLINE_AT_MOST_1
    if ratio >= 1.5:
        return TARGET_ONLINE_AT_1_5
    return None


def outcome(
    instance: Instance,
    bookings: list[Booking],
    seconds: float,
    name: str,
    quoted: Mapping[str, str] | None = None,
) -> Outcome:
    """Accepted, occupied space-hours (stays, without buffers) and revenue; refuses invalid bookings.
    Revenue is each booking's price on the space it was `quoted` (first given, by an online
    allocator whose later moves keep the price), else on the space it holds."""
    found = check.violations(instance, bookings)
    if found:
        shown = "; ".join(found[:5])
        raise InvalidAllocation(f"{name}: {len(found)} violations, e.g. {shown}")
    spaces = {s.id: s for s in instance.spaces}
    requests = {r.id: r for r in instance.requests}
    quoted = quoted or {}
    return Outcome(
        accepted=len(bookings),
        space_hours=sum(b.departure - b.arrival for b in bookings) / 60,
        revenue=sum(
            price(spaces[quoted.get(b.request_id, b.space_id)], requests[b.request_id]) for b in bookings
        ),
        seconds=seconds,
    )


def _timed(run: Callable[[], list[Booking]]) -> tuple[list[Booking], float]:
    started = time.perf_counter()
    bookings = run()
    return bookings, time.perf_counter() - started


def measure(
    seed: int,
    ratio: float,
    requests: int,
    spaces: int,
    time_limit: float,
    history_days: int = HISTORY_DAYS,
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One generated day through the methods (but the baselines in `skip`, whose figures are
    None): the JSON record of that instance."""
    instance = day(seed, ratio, requests, spaces)
    past = history(seed, ratio, requests, spaces, history_days)
    shape = figures(instance)
    results: dict[str, Outcome] = {}
    online_bookings: list[Booking] = []
    quotes: dict[str, dict[str, str]] = {name: {} for name in ("fcfs", "greedy", "online", "reopt")}
    for name, run in (
        ("fcfs", lambda: fcfs.allocate(instance)),
        ("greedy", lambda: online.allocate(instance, quoted=quotes["greedy"])),
        ("online", lambda: online.allocate(instance, past, quoted=quotes["online"])),
        ("reopt", lambda: optimum.reoptimise(instance, history=past, quoted=quotes["reopt"])),
    ):
        if name in skip:
            continue
        bookings, seconds = _timed(run)
        results[name] = outcome(instance, bookings, seconds, name, quotes[name])
        if name == "online":
            online_bookings = bookings
    best = optimum.solve(instance, time_limit=time_limit)
    results["optimum"] = outcome(instance, best.bookings, best.seconds, "optimum")
    energy = charging.compare_bookings(instance, online_bookings)
    target = online_target(ratio)
    ratio_online = results["online"].accepted / max(best.accepted, 1)
    record: dict[str, Any] = {
        "seed": seed,
        "demand_supply": ratio,
        "requests": requests,
        "spaces": spaces,
        "demand_supply_measured": round(shape.demand_supply, 4),
        "buffered_demand_supply": round(shape.buffered_demand_supply, 4),
        "supply_space_hours": round(shape.supply_minutes / 60, 1),
        "demand_space_hours": round(shape.demand_minutes / 60, 1),
        "requesters": shape.by_requester,
        **{f"{m}_accepted": results[m].accepted if m in results else None for m in METHODS},
        "lp_bound": round(best.lp_bound, 2),
        "optimum_status": best.status,
        "optimum_types": best.types,
        "optimum_variables": best.variables,
        **{f"{m}_space_hours": _rounded(results, m, "space_hours", 1) for m in METHODS},
        **{f"{m}_revenue": _rounded(results, m, "revenue", 2) for m in METHODS},
        **{f"{m}_seconds": _rounded(results, m, "seconds", 3) for m in METHODS},
        "history_days": history_days,
        "online_optimum_ratio": round(ratio_online, 4),
        **{f"{m}_optimum_ratio": _ratio(results, m, best.accepted) for m in ("greedy", "reopt")},
        # a floor under online / the true optimum, also when HiGHS stopped before proving its optimum
        "online_lp_bound_ratio": round(results["online"].accepted / best.lp_bound, 4)
        if best.lp_bound > 0
        else None,
        "online_target": target,
        # above a greedy's count (the LP did not finish) says nothing of the optimum: not judged
        "online_target_met": None
        if target is None or (ratio_online >= target and math.isnan(best.lp_bound))
        else ratio_online >= target,
        "ev_sessions": energy.sessions,
        "ev_wanted_kwh": round(energy.wanted_kwh, 2),
        "ev_optimum_kwh": round(energy.optimum_kwh, 2),
        **{f"ev_{p}_kwh": round(kwh, 2) for p, kwh in energy.delivered_kwh.items()},
        "ev_policy": charging.DEFAULT_POLICY,
        "ev_energy_ratio": round(energy.energy_ratio(), 4),
        "site_power_kw": instance.site_power_kw,
        "api_p99_ms": None,
    }
    return record


def _ratio(results: Mapping[str, Outcome], method: str, best: int) -> float | None:
    return round(results[method].accepted / max(best, 1), 4) if method in results else None


def _rounded(results: Mapping[str, Outcome], method: str, field: str, digits: int) -> float | None:
    """A method's figure rounded, None when the method was skipped."""
    return round(getattr(results[method], field), digits) if method in results else None


def run(options: AllocationOptions) -> Iterator[dict[str, Any]]:
    """Every (request count, demand/supply, seed) of the options, one record each as it finishes."""
    for requests in options.requests:
        for ratio in options.ratios:
            for seed in options.seeds:
                yield measure(
                    seed, ratio, requests, options.spaces, options.time_limit, options.history_days,
                    options.skip,
                )  # fmt: skip


def api_p99_ms(options: AllocationOptions) -> float | None:
    """The parking API's booking p99 in ms at 50 clients over 10,000 active bookings
    (`bench/parking_api.py`) when `--api` is given; None when not measured."""
    if not options.api:
        return None
    from bench import parking_api  # starts the API and a load generator: only when asked

    return float(parking_api.run(get_settings())["api_p99_ms"])
