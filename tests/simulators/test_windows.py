"""A run made window by window (live, backfill) tells the same story as one made in one piece."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise

import msgspec
import pytest

from core.contract import payloads as p
from simulators.behaviour.base import LOCAL_TZ, Emission
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import load_community, resolve

START = datetime(2026, 3, 3, 5, tzinfo=LOCAL_TZ).astimezone(UTC)
END = START + timedelta(days=1)
QUIET = FaultRates.uniform(0.0)


@cache
def run(window_minutes: int, rates: FaultRates = QUIET) -> list[Emission]:
    sim = Simulation(
        [load_community(resolve("demo"))], START, END, 5, rates, window=timedelta(minutes=window_minutes)
    )
    return list(sim)


def _events(emissions: list[Emission], kind: type) -> set[tuple[str, bytes]]:
    out = set()
    for e in emissions:
        if isinstance(e.payload, kind):
            fields = {f: getattr(e.payload, f) for f in e.payload.__struct_fields__ if f not in ("seq",)}
            out.add((e.device_id, msgspec.json.encode(fields)))
    return out


@pytest.mark.parametrize("minutes", [13, 60])
def test_each_device_counts_on_without_gaps(minutes: int) -> None:
    by_device: dict[str, list[Emission]] = defaultdict(list)
    for e in run(minutes):
        by_device[e.device_id].append(e)
    for device, msgs in by_device.items():
        assert [m.payload.seq for m in msgs] == list(range(len(msgs))), device
        assert all(m.payload.boot == 0 for m in msgs)
        assert all(a.ts <= b.ts for a, b in pairwise(msgs))
        assert msgs[0].ts >= START and msgs[-1].ts < END
        meters = [m.payload.energy_kwh for m in msgs if isinstance(m.payload, p.ChargerTelemetry)]
        assert meters == sorted(meters), f"{device}: meter went backwards across windows"


@pytest.mark.parametrize("minutes", [13, 60])
def test_windows_give_the_same_events(minutes: int) -> None:
    whole = run(24 * 60)
    parts = run(minutes)
    for kind in (p.GatePassage, p.Deposit, p.Pickup, p.SessionStart, p.SessionStop, p.Trip):
        assert _events(parts, kind) == _events(whole, kind), kind.__name__
    assert abs(len(parts) - len(whole)) <= 0.01 * len(whole)


def test_lockers_never_double_book_a_compartment() -> None:
    held: dict[tuple[str, int], str | None] = {}
    deposits = pickups = 0
    for e in run(13):
        if isinstance(e.payload, p.Deposit):
            key = (e.device_id, e.payload.compartment)
            assert key not in held, f"deposit into a full compartment {key}"
            held[key] = e.payload.parcel_id
            deposits += 1
        elif isinstance(e.payload, p.Pickup):
            key = (e.device_id, e.payload.compartment)
            # parcels waiting when the run began were deposited before it
            assert held.pop(key, e.payload.parcel_id) == e.payload.parcel_id
            pickups += 1
    assert deposits > 50 and pickups > 50


def test_an_endless_run_plans_faults_as_it_goes() -> None:
    community = load_community(resolve("demo"))
    sim = Simulation([community], START, None, 5, FaultRates.uniform(0.05), window=timedelta(hours=6))
    windows = sim.windows()
    for _ in range(12):  # three days
        _, upto, emissions = next(windows)
        assert all(e.ts < upto for e in emissions)
    labels = sim.labels_until(START + timedelta(days=3))
    assert labels and all(lb.start < START + timedelta(days=3) for lb in labels)
    assert max(lb.start for lb in labels) > START + timedelta(days=2)
    assert len({lb.kind for lb in labels}) >= 3
