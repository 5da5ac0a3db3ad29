"""A whole community's devices, merged into one time-ordered stream, with the fault ground truth."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from operator import attrgetter

from simulators.behaviour.base import DAY, HOUR, MINUTE, Device, Emission, Fault, FaultLabel
from simulators.behaviour.chargers import ChargerModel
from simulators.behaviour.elevators import ElevatorModel
from simulators.behaviour.faults import FaultPlanner, FaultRates
from simulators.behaviour.lockers import LockerModel
from simulators.behaviour.parking import Gate, SpaceSensor
from simulators.community import Community

# an endless run plans faults this far ahead of its windows (models look a day ahead of a session)
LOOKAHEAD = 2 * DAY
# and drops those over for longer than the longest look back (the lockers' week of warm-up)
FORGET = 9 * DAY


def build_devices(community: Community, seed: int) -> list[Device]:
    """One model per registered device, without faults yet."""
    c, full = community, community.full_id
    devices: list[Device] = []
    spaces = {s.id: s for s in c.spaces}
    for s in spaces.values():
        devices.append(SpaceSensor(full(s.id), seed, [], s))
    # with two or more gates the last one is the institutional car park's, the first the estate's
    for i, g in enumerate(c.gates):
        if len(c.gates) == 1:
            served = list(spaces.values())
        elif i == len(c.gates) - 1:
            served = [s for s in spaces.values() if s.space_type == "institutional"]
        else:
            served = [s for s in spaces.values() if s.space_type != "institutional"] if i == 0 else []
        devices.append(Gate(full(g.id), seed, [], [(full(s.id), s) for s in served]))
    for ch in c.chargers:
        devices.append(ChargerModel(full(ch.id), seed, [], ch, spaces[ch.space].space_type))
    for lk in c.lockers:
        devices.append(LockerModel(full(lk.id), seed, [], lk.compartments or 1))
    buildings = {b.id: b for b in c.buildings}
    for e in c.elevators:
        b = buildings[e.building or ""]
        households = max(1, b.households // max(1, b.elevators))
        devices.append(ElevatorModel(full(e.id), seed, [], b.floors, households))
    return devices


class Simulation:
    """Communities' devices from `start` (to `end`, or on for ever), window by window.

    Each window's messages are made for every device and merged in time order; a device carries its
    state (seq, meter, parcels...) into the next window, so memory holds one window, not the run.
    Faults are planned ahead of the windows; `labels` holds the ground truth planned so far.
    Every model draws from its own generators (seeded by run, device and purpose) and reads no other
    device's state, so one device can be replayed alone, with or without one of its faults.
    """

    def __init__(
        self,
        communities: Sequence[Community],
        start: datetime,
        end: datetime | None,
        seed: int,
        rates: FaultRates | None = None,
        *,
        every: timedelta | None = None,
        window: timedelta | None = None,
    ) -> None:
        if start.tzinfo is None or (end is not None and end.tzinfo is None):
            raise ValueError("start and end must be timezone-aware")
        self.start, self.end, self.seed = start, end, seed
        self.communities, self.every = list(communities), every
        self.devices = self._build()
        self.window = window or _window(len(self.devices), every)
        rates = rates or FaultRates()
        self._planners = [FaultPlanner(d.device_id, d.kind, start, end, seed, rates) for d in self.devices]
        self.labels: list[FaultLabel] = []
        self._faults: dict[str, list[Fault]] = {d.device_id: [] for d in self.devices}  # for replays
        self._plan(end if end is not None else start + LOOKAHEAD)

    def _build(self) -> list[Device]:
        devices = [d for c in self.communities for d in build_devices(c, self.seed)]
        if self.every is not None:
            for d in devices:
                d.every = self.every
        return devices

    def _plan(self, until: datetime) -> None:
        new: list[FaultLabel] = []
        for device, planner in zip(self.devices, self._planners, strict=True):
            faults = planner.plan(until)
            device.faults += faults
            self._faults[device.device_id] += faults
            new += (f.label for f in faults)
        self.labels += sorted(new, key=attrgetter("start", "device_id"))

    def inject(self, fault: Fault) -> None:
        """Add a fault by hand (a demonstration, a test's crafted case) before the run begins."""
        device = next(d for d in self.devices if d.device_id == fault.label.device_id)
        device.faults = sorted([*device.faults, fault], key=attrgetter("start"))
        self._faults[device.device_id] = list(device.faults)
        self.labels = sorted([*self.labels, fault.label], key=attrgetter("start", "device_id"))

    def _bounds(self) -> Iterator[tuple[datetime, datetime]]:
        t = self.start
        while self.end is None or t < self.end:
            upto = t + self.window if self.end is None else min(t + self.window, self.end)
            yield t, upto
            t = upto

    def windows(self) -> Iterator[tuple[datetime, datetime, Iterator[Emission]]]:
        """(window start, window end, its messages in time order) until the end of the run."""
        for t, upto in self._bounds():
            if self.end is None:
                self._plan(upto + LOOKAHEAD)
            for d in self.devices:
                _forget(d, t)
            yield t, upto, heapq.merge(*(d.emissions(t, upto) for d in self.devices), key=attrgetter("ts"))

    def replay(self, device_id: str, without: FaultLabel | None = None) -> Iterator[Emission]:
        """One device's messages in this run, made again by a fresh model through the same windows
        with the same faults, less `without`: what the device would have reported had it not happened.
        """
        if self.end is None:
            raise ValueError("only a run with an end can be replayed")  # its faults are planned up front
        device = next(d for d in self._build() if d.device_id == device_id)
        device.faults = [f for f in self._faults[device_id] if f.label != without]
        for t, upto in self._bounds():
            _forget(device, t)
            yield from device.emissions(t, upto)

    def __iter__(self) -> Iterator[Emission]:
        for _, _, emissions in self.windows():
            yield from emissions

    def labels_until(self, ts: datetime) -> list[FaultLabel]:
        """Faults begun before ts; one still going on at ts has no end."""
        begun = (lb for lb in self.labels if lb.start < ts)
        return [lb if lb.end is None or lb.end <= ts else replace(lb, end=None) for lb in begun]


def simulate(
    community: Community, start: datetime, end: datetime, seed: int, rates: FaultRates | None = None
) -> tuple[Iterator[Emission], list[FaultLabel]]:
    """Every device's messages in [start, end) merged in time order, and the injected faults."""
    run = Simulation([community], start, end, seed, rates)
    return iter(run), run.labels


def _forget(device: Device, t: datetime) -> None:
    """Drop the faults over for longer than any model looks back."""
    if device.faults and device.faults[0].end < t - FORGET:
        device.faults = [f for f in device.faults if f.end >= t - FORGET]


def _window(devices: int, every: timedelta | None) -> timedelta:
    """Windows of about 100,000 messages, so that a big chatty fleet's window stays tens of MB."""
    per_hour = devices * (3600 / every.total_seconds() if every else 30)
    return max(5 * MINUTE, min(HOUR, HOUR * (100_000 / per_hour)))
