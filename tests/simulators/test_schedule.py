"""Replaying one device of a run: exactly as it ran, or without one of its faults."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from simulators.behaviour.base import Emission
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import load_community, resolve

START = datetime(2026, 3, 3, 3, tzinfo=UTC)
END = START + timedelta(days=1)
STORMY = FaultRates().scaled(30)


@cache
def run() -> tuple[Simulation, dict[str, list[Emission]]]:
    """A stormy day in windows of 13 minutes, so that state carries over many window edges."""
    sim = Simulation([load_community(resolve("demo"))], START, END, 7, STORMY, window=timedelta(minutes=13))
    by_device: dict[str, list[Emission]] = defaultdict(list)
    for e in sim:
        by_device[e.device_id].append(e)
    return sim, by_device


def test_a_replay_repeats_every_device_exactly() -> None:
    sim, by_device = run()
    assert len({lb.device_id for lb in sim.labels}) > 50  # faults of their own on many of them
    for device_id, emissions in by_device.items():
        assert list(sim.replay(device_id)) == emissions, device_id


def test_a_replay_without_a_fault_shows_what_it_changed() -> None:
    sim, by_device = run()
    muted = next(lb for lb in sim.labels if lb.fault_type == "silent")
    end = muted.end or END
    inside = [e for e in sim.replay(muted.device_id, without=muted) if muted.start <= e.ts < end]
    assert inside, "the device talks while it is not muted"
    assert not [e for e in by_device[muted.device_id] if muted.start <= e.ts < end]
    before = [e for e in by_device[muted.device_id] if e.ts < muted.start]
    assert list(sim.replay(muted.device_id, without=muted))[: len(before)] == before


def test_only_a_run_with_an_end_is_replayed() -> None:
    sim = Simulation([load_community(resolve("demo"))], START, None, 7, STORMY)
    with pytest.raises(ValueError, match="with an end"):
        next(sim.replay(sim.devices[0].device_id))
