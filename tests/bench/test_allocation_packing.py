"""The packing bench: placers handed the optimum's requests."""

from __future__ import annotations

from bench import allocation_packing


def test_handed_the_optimum_s_requests_online_places_them_all_first_fit_does_not() -> None:
    # a small generated day (seeded, so the same every run) whose optimum HiGHS proves
    record = allocation_packing.measure(seed=1, ratio=1.0, requests=120, spaces=12, time_limit=20)
    assert record["optimum_status"] == "optimal"
    best = record["optimum_accepted"]
    assert 0 < record["fcfs_placed"] < record["online_placed"] == best
