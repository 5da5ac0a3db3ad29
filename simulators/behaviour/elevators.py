"""Retrofitted elevators: trips by hour and floor (mornings down, evenings up), doors, load, vibration."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Literal, NamedTuple

from core.contract.payloads import ElevatorFault, ElevatorFaultCleared, ElevatorTelemetry, Trip
from core.contract.topics import Channel, Kind
from simulators.behaviour.base import (
    DAY,
    HOUR,
    MINUTE,
    Device,
    Fault,
    Raw,
    local_days,
    poisson,
    rng_for,
    ticks,
)
from simulators.behaviour.faults import ELEVATOR_EVENT_FAULTS

_S = timedelta(seconds=1)
Direction = Literal["up", "down", "idle"]
Door = Literal["open", "closed"]
# trips per household by local hour, and the share of them going down
_TRIPS = (0.01, 0.01, 0.005, 0.005, 0.005, 0.02, 0.1, 0.35, 0.35, 0.15, 0.12, 0.15,
          0.15, 0.12, 0.1, 0.1, 0.12, 0.3, 0.35, 0.3, 0.2, 0.12, 0.06, 0.02)  # fmt: skip
_DOWN = {6: 0.8, 7: 0.85, 8: 0.8, 16: 0.3, 17: 0.2, 18: 0.15, 19: 0.2, 20: 0.3}


class _Trip(NamedTuple):
    t: datetime
    origin: int
    to: int
    load: float


class ElevatorModel(Device):
    """One car serving one stairwell (单元) of a walk-up."""

    kind = Kind.ELEVATOR
    every = timedelta(minutes=5)  # idle telemetry

    def __init__(self, device_id: str, seed: int, faults: list[Fault], floors: int, households: int) -> None:
        super().__init__(device_id, seed, faults)
        self.floors, self.households = floors, households
        r = rng_for(seed, device_id, "static")
        self.phase, self.vibration = r.random(), r.uniform(0.08, 0.15)

    def _planned(self, start: datetime, end: datetime) -> list[_Trip]:
        out: list[_Trip] = []
        top = self.floors
        for day in local_days(start, end, warmup_days=1):  # the car stands where yesterday left it
            r = rng_for(self.seed, self.device_id, day.date(), "trips")
            scale = self.households * (1.0 if day.weekday() < 5 else 0.8)
            for hour, rate in enumerate(_TRIPS):
                for _ in range(poisson(r, rate * scale)):
                    floor, load = r.randint(2, top), 70 * r.randint(1, 3) + r.uniform(-15, 15)
                    t = day + HOUR * (hour + r.random())
                    down = r.random() < _DOWN.get(hour, 0.5)
                    out.append(_Trip(t, floor, 1, load) if down else _Trip(t, 1, floor, load))
        for f in self.faults:
            if f.label.fault_type == "night_trips":  # an empty car cycling in the small hours
                r = rng_for(self.seed, self.device_id, f.start, "night")
                t = f.start
                while t < f.end:
                    a, b = r.sample(range(1, top + 1), 2)
                    out.append(_Trip(t, a, b, 0.0))
                    t += MINUTE * r.uniform(3, 12)
        out.sort(key=itemgetter(0))
        return out

    def _vibration(self, ts: datetime, moving: bool, noise: float) -> float:
        v = self.vibration if moving else 0.012
        for f in self.faults:
            if f.label.fault_type == "vibration_rising" and f.covers(ts):
                v *= 1 + (ts - f.start) / DAY * (0.3 + f.magnitude)
        return round(min(100.0, v * (1 + noise)), 4)

    def _tele(
        self, ts: datetime, floor: int, direction: Direction, door: Door, load: float, noise: float,
        speed: float | None = None,
    ) -> Raw:  # fmt: skip
        moving = direction != "idle"
        return ts, Channel.TELEMETRY, ElevatorTelemetry(
            ts=ts, seq=0, floor=floor, direction=direction, door=door,
            speed_mps=(1.0 if moving else 0.0) if speed is None else speed, load_kg=round(max(load, 0.0), 1),
            vibration_rms=self._vibration(ts, moving, noise), mode="normal",
        )  # fmt: skip

    def raw(self, start: datetime, end: datetime) -> Iterator[Raw]:
        r = rng_for(self.seed, self.device_id, start, "noise")
        announced = [f for f in self.faults if f.label.fault_type in ELEVATOR_EVENT_FAULTS]
        out: list[Raw] = []
        floor, free = 1, start - 2 * DAY
        start_floor: int | None = None
        busy: list[tuple[datetime, datetime]] = []
        for trip in self._planned(start, end):
            if trip.t >= end:
                break
            t = max(trip.t, free)
            if trip.origin != floor:  # the car answers the call empty (not a passenger trip)
                t += 3 * abs(trip.origin - floor) * _S
            ride = (4 + 3 * abs(trip.to - trip.origin)) * _S
            done = t + ride + 18 * _S
            if any(f.start - MINUTE <= done and t <= f.end for f in announced):
                continue  # out of service
            if done < start - MINUTE:  # over before this window: only where the car stopped matters
                floor, free = trip.to, done + _S
                continue
            start_floor = floor if start_floor is None else start_floor
            g = abs(r.gauss(0, 0.1))
            way: Direction = "up" if trip.to > trip.origin else "down"
            arrive = t + 8 * _S + ride
            out += [
                self._tele(t, trip.origin, "idle", "open", trip.load, g),
                self._tele(t + 8 * _S, trip.origin, way, "closed", trip.load, g),
                (arrive, Channel.EVENT, Trip(ts=arrive, seq=0, from_floor=trip.origin, to_floor=trip.to)),
                self._tele(arrive, trip.to, "idle", "open", trip.load, g),
                self._tele(done, trip.to, "idle", "closed", 0.0, g),
            ]  # fmt: skip
            busy.append((t, done))
            floor, free = trip.to, done + _S
        out += self._fault_messages(announced, end)
        out.sort(key=itemgetter(0))
        idle: list[Raw] = []
        position = iter(out)
        floor, last = floor if start_floor is None else start_floor, next(position, None)
        i = 0
        for t in ticks(start, end, self.every, self.phase):
            while last is not None and last[0] <= t:
                if isinstance(last[2], ElevatorTelemetry):
                    floor = last[2].floor
                last = next(position, None)
            while i < len(busy) and busy[i][1] < t:
                i += 1
            if i < len(busy) and busy[i][0] <= t:
                continue
            idle.append(self._tele(t, floor, "idle", "closed", 0.0, abs(r.gauss(0, 0.1))))
        yield from heapq.merge(out, idle, key=itemgetter(0))

    def _fault_messages(self, announced: list[Fault], end: datetime) -> list[Raw]:
        out: list[Raw] = []
        for f in announced:
            kind, t = f.label.fault_type, f.start
            floor = 2 + int(f.magnitude * (self.floors - 1))
            if kind in ("entrapment", "stop_outside_door_zone"):  # stopped between floors, people inside
                out.append(self._tele(t, floor, "idle", "closed", 80 + 70 * f.magnitude, 0.2))
            elif kind == "door_open_moving":
                out.append(self._tele(t, floor, "up", "open", 75.0, 0.3, speed=0.5))
            elif kind == "overspeed":
                out.append(self._tele(t, floor, "down", "closed", 75.0, 0.3, speed=1.6))
            out.append((t, Channel.EVENT, ElevatorFault(ts=t, seq=0, fault=kind)))  # type: ignore[arg-type]
            if f.label.end is not None and f.label.end < end:
                out.append((f.end, Channel.EVENT, ElevatorFaultCleared(ts=f.end, seq=0, fault=kind)))  # type: ignore[arg-type]
        return out
