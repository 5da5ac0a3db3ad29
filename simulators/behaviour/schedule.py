"""A whole community's devices, merged into one time-ordered stream, with the fault ground truth."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from operator import attrgetter

from core.contract.topics import Kind
from simulators.behaviour.base import Device, Emission, Fault, FaultLabel
from simulators.behaviour.chargers import ChargerModel
from simulators.behaviour.elevators import ElevatorModel
from simulators.behaviour.faults import FaultRates, plan_faults
from simulators.behaviour.lockers import LockerModel
from simulators.behaviour.parking import Gate, SpaceSensor
from simulators.community import Community


def build_devices(
    community: Community, start: datetime, end: datetime, seed: int, rates: FaultRates
) -> list[Device]:
    """One model per registered device, each with its fault schedule."""
    c, full = community, community.full_id

    def faults(device_id: str, kind: Kind) -> list[Fault]:
        return plan_faults(device_id, kind, start, end, seed, rates)

    devices: list[Device] = []
    spaces = {s.id: s for s in c.spaces}
    for s in spaces.values():
        devices.append(SpaceSensor(full(s.id), seed, faults(full(s.id), Kind.PARKING_SPACE), s))
    # with two or more gates the last one is the institutional car park's, the first the estate's
    for i, g in enumerate(c.gates):
        if len(c.gates) == 1:
            served = list(spaces.values())
        elif i == len(c.gates) - 1:
            served = [s for s in spaces.values() if s.space_type == "institutional"]
        else:
            served = [s for s in spaces.values() if s.space_type != "institutional"] if i == 0 else []
        gate_spaces = [(full(s.id), s) for s in served]
        devices.append(Gate(full(g.id), seed, faults(full(g.id), Kind.PARKING_GATE), gate_spaces))
    for ch in c.chargers:
        where = spaces[ch.space].space_type
        devices.append(ChargerModel(full(ch.id), seed, faults(full(ch.id), Kind.EV_CHARGER), ch, where))
    for lk in c.lockers:
        devices.append(
            LockerModel(full(lk.id), seed, faults(full(lk.id), Kind.PARCEL_LOCKER), lk.compartments or 1)
        )
    buildings = {b.id: b for b in c.buildings}
    for e in c.elevators:
        b = buildings[e.building or ""]
        households = max(1, b.households // max(1, b.elevators))
        devices.append(
            ElevatorModel(full(e.id), seed, faults(full(e.id), Kind.ELEVATOR), b.floors, households)
        )
    return devices


def simulate(
    community: Community, start: datetime, end: datetime, seed: int, rates: FaultRates | None = None
) -> tuple[Iterator[Emission], list[FaultLabel]]:
    """Every device's messages in [start, end] merged in time order, and the injected faults."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    devices = build_devices(community, start, end, seed, rates or FaultRates())
    labels = sorted((f.label for d in devices for f in d.faults), key=attrgetter("start", "device_id"))
    stream = heapq.merge(*(d.emissions(start, end) for d in devices), key=attrgetter("ts"))
    return stream, labels
