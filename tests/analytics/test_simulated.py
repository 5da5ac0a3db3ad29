"""Which injected faults manifested: a replay of the device without the fault tells."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from analytics.simulated import START, of_run
from core.contract.topics import Kind
from simulators.behaviour.base import Fault, FaultLabel
from simulators.behaviour.chargers import ChargerModel
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import load_community, resolve

END = START + timedelta(days=2)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def _stuck(charger: str, start: datetime, end: datetime) -> Fault:
    return Fault(FaultLabel(charger, Kind.EV_CHARGER, "meter_stuck", start, end, silent=True))


def test_a_stuck_meter_manifests_only_while_it_should_be_counting() -> None:
    sim = Simulation([load_community(resolve("demo"))], START, END, 5, FaultRates.uniform(0.0))
    chargers = [d for d in sim.devices if isinstance(d, ChargerModel)]
    # a charger with a long idle gap between two sessions, the second one charging for half an hour
    picked = next(
        (c, a, b)
        for c in chargers
        for a, b in pairwise(c.sessions(START, END))
        if a.depart > START + 30 * MINUTE and b.plug - a.depart > 3 * HOUR and len(b.powers) > 30
        and b.depart < END - HOUR
    )  # fmt: skip
    charger, before, during = picked
    idle = _stuck(charger.device_id, before.depart + 10 * MINUTE, during.plug - 30 * MINUTE)
    charging = _stuck(charger.device_id, during.plug + 5 * MINUTE, during.plug + 25 * MINUTE)
    sim.inject(idle)
    sim.inject(charging)
    labels = {(lb.start, lb.end): lb for lb in of_run(sim).labels}
    assert len(labels) == 2
    assert not labels[(idle.start, idle.label.end)].manifested  # it read what a working meter would
    assert labels[(charging.start, charging.label.end)].manifested
