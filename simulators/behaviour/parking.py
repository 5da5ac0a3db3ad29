"""Parking: space sensors (the tidal pattern) and gate cameras whose passages match the spaces."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime, timedelta
from operator import itemgetter
from typing import NamedTuple

from core.contract.payloads import GateFault, GateFaultCleared, GatePassage, GateTelemetry, SpaceTelemetry
from core.contract.topics import Channel, Kind
from simulators.behaviour.base import (
    DAY,
    EPOCH,
    HOUR,
    MINUTE,
    Device,
    Fault,
    Raw,
    digest,
    local_days,
    rng_for,
    ticks,
)
from simulators.community import Space


class Interval(NamedTuple):
    """A car standing on the space."""

    start: datetime
    end: datetime
    guest: bool = False  # a visitor at a resident's space, shared while the owner is out


def _intervals(space: Space, seed: int, device_id: str, day: datetime) -> list[Interval]:
    """When a car stands on the space, for intervals starting on this local day."""
    r = rng_for(seed, device_id, day.date(), "occupancy")
    workday = day.weekday() < 5

    def at(hours: float) -> datetime:
        return day + HOUR * hours

    kind = space.space_type
    if kind == "resident":  # the owner's car is home except while they are out
        if r.random() >= (0.85 if workday else 0.45):
            return [Interval(at(0), at(24))]
        leave = r.gauss(7.6, 0.5) if workday else r.uniform(9, 14)
        back = min(r.gauss(18.6, 0.8) if workday else leave + r.uniform(2, 6), 23.5)
        out = [Interval(at(0), at(leave))]
        if r.random() < 0.25 and back - leave > 4:  # shared with a visitor meanwhile
            v = leave + r.uniform(1, 2)
            out.append(Interval(at(v), at(v + r.uniform(1, min(3, back - v - 0.5))), guest=True))
        return [*out, Interval(at(back), at(24))]
    if kind == "public":  # visitors in the daytime, now and then a car overnight
        out, t = [], 8 + r.uniform(0, 2)
        while True:
            stay = r.uniform(0.5, 3)
            if t + stay > 21:
                break
            out.append(Interval(at(t), at(t + stay)))
            t += stay + r.expovariate(1 / 1.5)
        if r.random() < 0.35:
            out.append(Interval(at(r.uniform(21.5, 23)), at(24 + r.uniform(6.5, 7.75))))
        return out
    if kind == "institutional":  # opened to residents at night (错时)
        p, lo, hi, leave_lo, leave_hi = 0.75, 18.3, 20.5, 7.0, 7.8
    else:  # street spaces: night only
        p, lo, hi, leave_lo, leave_hi = 0.65, 19.1, 21.5, 6.0, 6.9
    if r.random() < p:
        return [Interval(at(r.uniform(lo, hi)), at(24 + r.uniform(leave_lo, leave_hi)))]
    return []


class Change(NamedTuple):
    """The space turning occupied or free."""

    ts: datetime
    occupied: bool
    guest: bool = False  # a visitor's car arriving at a resident's space (it has a plate of its own)


def changes(space: Space, seed: int, device_id: str, start: datetime, end: datetime) -> list[Change]:
    """Occupancy changes in [start - 1 day, end] (the first one fixes the state at start)."""
    deltas: list[tuple[datetime, int, bool]] = []
    for day in local_days(start, end, warmup_days=1):
        for a, b, guest in _intervals(space, seed, device_id, day):
            deltas += [(a, 1, guest), (b, -1, False)]
    deltas.sort(key=itemgetter(0))
    out: list[Change] = []
    count, i = 0, 0
    while i < len(deltas):  # adjacent intervals (midnight) are no change
        t, guest = deltas[i][0], False
        before = count > 0
        while i < len(deltas) and deltas[i][0] == t:
            count += deltas[i][1]
            guest = guest or deltas[i][2]
            i += 1
        if (count > 0) != before:
            out.append(Change(t, count > 0, guest and count > 0))
    return out


class SpaceSensor(Device):
    """A geomagnetic sensor: telemetry on change plus a heartbeat; its battery slowly drains."""

    kind = Kind.PARKING_SPACE
    every = timedelta(minutes=30)  # heartbeat

    def __init__(self, device_id: str, seed: int, faults: list[Fault], space: Space) -> None:
        super().__init__(device_id, seed, faults)
        self.space = space
        self._reported: bool | None = None  # what the last message said (carried between chunks)
        r = rng_for(seed, device_id, "static")
        self.phase = r.random()
        self.battery0 = r.uniform(55, 100)
        self.rssi = r.uniform(-95, -60)

    def _battery(self, ts: datetime) -> float:
        dead = self.fault("dead_battery", ts)
        if dead is not None:
            return round(max(0.0, 3 - (ts - dead.start) / HOUR * 4), 1)
        return round(max(5.0, self.battery0 - (ts - EPOCH) / DAY * 0.02), 1)

    def raw(self, start: datetime, end: datetime) -> Iterator[Raw]:
        occupied = False
        events: list[tuple[datetime, int, bool]] = []  # (ts, 0 change / 1 heartbeat / 2 flap, value)
        for t, occ, _ in changes(self.space, self.seed, self.device_id, start, end):
            if t < start:
                occupied = occ
            else:
                events.append((t, 0, occ))
        events += [(t, 1, False) for t in ticks(start, end, self.every, self.phase)]
        for f in self.faults:
            if f.label.fault_type == "sensor_flapping" and f.start < end and f.end > start:
                flaps = rng_for(self.seed, self.device_id, f.start, "flaps")
                t = f.start
                while t < min(f.end, end):
                    if t >= start:
                        events.append((t, 2, False))
                    t += MINUTE * flaps.uniform(0.5, 4)
        events.sort(key=itemgetter(0, 1))
        r = rng_for(self.seed, self.device_id, start, "noise")
        for t, what, value in events:
            if t >= end:
                break
            reported = self._reported
            if what == 0:
                occupied = value
            shown = occupied
            if self.fault("sensor_stuck", t):
                shown = True
            elif what == 2:
                shown = not reported
            if what != 1 and shown == reported:
                continue
            self._reported = shown
            rssi = round(self.rssi + r.gauss(0, 2), 1)
            yield (
                t,
                Channel.TELEMETRY,
                SpaceTelemetry(
                    ts=t, seq=0, occupied=shown, battery_pct=self._battery(t), rssi_dbm=min(rssi, 0.0)
                ),
            )


class Gate(Device):
    """A gate camera and barrier: one passage for every car entering or leaving its spaces."""

    kind = Kind.PARKING_GATE
    every = timedelta(minutes=10)

    def __init__(
        self, device_id: str, seed: int, faults: list[Fault], spaces: list[tuple[str, Space]]
    ) -> None:
        super().__init__(device_id, seed, faults)
        self.spaces = spaces
        self.phase = rng_for(seed, device_id, "static").random()

    def _passages(self, start: datetime, end: datetime) -> list[Raw]:
        out: list[Raw] = []
        for space_id, space in self.spaces:
            owner = digest(space_id, "car") if space.space_type == "resident" else None
            plate = digest(space_id, "car")  # a car there before the changes begin
            for t, occ, guest in changes(space, self.seed, space_id, start, end):
                if occ:  # a departure is the plate that came
                    plate = owner if owner and not guest else digest(space_id, t)
                # keyed by the change, so that every chunk of a run places a passage alike
                u = rng_for(self.seed, space_id, t, "passage").random()
                ts = t - MINUTE * (0.5 + 3.5 * u) if occ else t + MINUTE * (0.5 + 3.5 * u)
                if start <= ts < end and not any(
                    f.covers(ts) for f in self.faults if f.label.fault_type == "gate_fault"
                ):
                    out.append((ts, Channel.EVENT, GatePassage(
                        ts=ts, seq=0, direction="in" if occ else "out", plate_hash=plate,
                        lane=0 if occ else 1,
                    )))  # fmt: skip
        out.sort(key=itemgetter(0))
        return out

    def raw(self, start: datetime, end: datetime) -> Iterator[Raw]:
        beats: list[Raw] = [
            (t, Channel.TELEMETRY, GateTelemetry(ts=t, seq=0, barrier="closed"))
            for t in ticks(start, end, self.every, self.phase)
        ]
        faults: list[Raw] = []
        for f in self.faults:
            if f.label.fault_type == "gate_fault":
                code = f.label.detail
                faults.append((f.start, Channel.EVENT, GateFault(ts=f.start, seq=0, code=code)))  # type: ignore[arg-type]
                if f.label.end is not None and f.label.end < end:
                    faults.append((f.end, Channel.EVENT, GateFaultCleared(ts=f.end, seq=0, code=code)))  # type: ignore[arg-type]
        yield from heapq.merge(beats, faults, self._passages(start, end), key=itemgetter(0))
