"""`yiju bench allocation`'s measures of one allocation (the whole bench runs from the CLI)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from analytics.parking import online
from analytics.parking.model import Instance, PriceRule, Request, Space, SpaceKind, price
from bench import allocation_report
from bench.allocation import AllocationOptions, measure, outcome

DAY = ((0, 1440),)


def test_a_moved_booking_earns_the_price_it_was_quoted() -> None:
    # the visitor is first given the cheap space beside them; the second driver may use only that
    # one, so the visitor moves to the dear space 400 m away, keeping the price quoted
    cheap = Space("cheap", SpaceKind.RESIDENT, DAY, price=PriceRule(per_hour=2.0, night_per_hour=2.0))
    dear = Space("dear", SpaceKind.PUBLIC, DAY, x=400, price=PriceRule(per_hour=8.0, night_per_hour=8.0))
    visitor, near = Request("v", 600, 720), Request("n", 660, 780, max_walk_m=100)
    instance = Instance((cheap, dear), (visitor, near), buffer=10)
    quoted: dict[str, str] = {}
    bookings = online.allocate(instance, quoted=quoted)
    assert {b.request_id: b.space_id for b in bookings} == {"v": "dear", "n": "cheap"}
    assert quoted == {"v": "cheap", "n": "cheap"}
    measured = outcome(instance, bookings, 0.0, "online", quoted)
    assert measured.revenue == pytest.approx(price(cheap, visitor) + price(cheap, near))
    assert measured.revenue < outcome(instance, bookings, 0.0, "as held").revenue


def test_skipped_baselines_leave_their_columns_empty_and_the_report_draws_the_rest(tmp_path: Path) -> None:
    record = measure(
        seed=1, ratio=1.0, requests=120, spaces=12, time_limit=20, history_days=2, skip=("fcfs", "reopt")
    )
    assert (
        record["fcfs_accepted"] is None
        and record["reopt_revenue"] is None
        and record["reopt_optimum_ratio"] is None
    )
    assert record["greedy_accepted"] > 0 and record["online_accepted"] > 0 and record["optimum_accepted"] > 0
    allocation_report.render([record], Console(file=io.StringIO(), width=300))
    allocation_report.plot([record], tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_only_baselines_may_be_skipped() -> None:
    with pytest.raises(ValueError, match="not online"):
        AllocationOptions(skip=("online",))
