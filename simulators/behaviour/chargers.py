"""EV chargers: arrivals by hour, a CC/CV power curve, OCPP statuses, cars queuing at shared posts."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from operator import itemgetter
from random import Random
from typing import NamedTuple

from core.contract.payloads import (
    ChargerFault,
    ChargerFaultCleared,
    ChargerTelemetry,
    OcppStatus,
    SessionStart,
    SessionStop,
)
from core.contract.topics import Channel, Kind
from simulators.behaviour.base import (
    EPOCH,
    HOUR,
    MINUTE,
    Device,
    Fault,
    Raw,
    digest,
    local_days,
    poisson,
    rng_for,
    ticks,
)
from simulators.community import Charger, SpaceType

IDLE_EVERY = timedelta(minutes=5)
# relative arrival rate at public posts by local hour: some daytime top-ups, an evening peak
_PUBLIC_PROFILE = (0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.5,
                   0.6, 0.5, 0.5, 0.5, 0.7, 1.2, 1.6, 1.8, 1.6, 1.2, 0.8, 0.4)  # fmt: skip


class Session(NamedTuple):
    plug: datetime
    depart: datetime
    powers: list[float]  # kW per minute from plug + 1 min until the car is full
    car: int
    soc0: float


def power_curve(energy_kwh: float, max_kw: float) -> list[float]:
    """Constant current to 80 % of the demand, then a constant-voltage taper."""
    out: list[float] = []
    delivered = 0.0
    while delivered < energy_kwh and len(out) < 24 * 60:
        rest = (energy_kwh - delivered) / (0.2 * energy_kwh)
        p = max_kw * 0.97 if delivered < 0.8 * energy_kwh else max_kw * max(0.15, min(1.0, rest) * 0.97)
        out.append(round(p, 3))
        delivered += p / 60
    return out


class ChargerModel(Device):
    """One charge point; `shared_by` cars take turns (多车一桩)."""

    kind = Kind.EV_CHARGER
    every = timedelta(minutes=5)  # idle telemetry

    def __init__(
        self, device_id: str, seed: int, faults: list[Fault], charger: Charger, where: SpaceType
    ) -> None:
        super().__init__(device_id, seed, faults)
        self.charger, self.where = charger, where
        self.dc = charger.max_kw > 22
        r = rng_for(seed, device_id, "static")
        self.phase = r.random()
        self.register0 = r.uniform(300, 3000)
        # carried from one window of a run to the next
        self._register: float | None = None
        self._heat = 0.0
        self._last: datetime | None = None
        self._stuck_at: float | None = None
        self._backwards = 0.0  # kWh the meter has lost to its faults (it stays that much behind)
        self._backwards_by: object = None  # the fault that took the last of it

    def _arrivals(self, day: datetime) -> list[tuple[datetime, float, int, float]]:
        """(arrival, energy demand kWh, car, planned stay in hours) of the day."""
        r = rng_for(self.seed, self.device_id, day.date(), "arrivals")
        workday, cars = day.weekday() < 5, self.charger.shared_by
        out: list[tuple[datetime, float, int, float]] = []
        if self.where == "public":
            for hour, weight in enumerate(_PUBLIC_PROFILE):
                for _ in range(poisson(r, weight * 0.12 * cars)):
                    demand = r.uniform(15, 45) if self.dc else r.uniform(6, 25)
                    out.append((day + HOUR * (hour + r.random()), demand, r.randrange(cars * 4), 0.0))
            return out
        for car in range(cars):
            if r.random() >= 0.6:
                continue
            if self.where == "institutional":
                h = r.uniform(18.5, 21)
            else:
                h = min(max(r.gauss(19.3, 1.4), 16), 23.7) if workday else r.uniform(9, 22)
            stay = 24 + r.gauss(7.4, 0.3) - h  # until the next morning
            if cars > 1 and self.where != "institutional":
                stay = 0.0  # neighbours move the car once it is full
            out.append((day + HOUR * h, r.uniform(6, 30), car, stay))
        return out

    def sessions(self, start: datetime, end: datetime) -> list[Session]:
        """Sessions from a day before start, queued one after another, none during a charger fault."""
        free = start - 2 * HOUR * 24
        out = []
        for day in local_days(start, end, warmup_days=1):
            r = rng_for(self.seed, self.device_id, day.date(), "sessions")
            for arrival, demand, car, stay in sorted(self._arrivals(day)):
                plug = max(arrival, free + MINUTE * 2)
                if plug - arrival > 3 * HOUR:
                    continue  # gave up waiting
                powers = power_curve(demand, self.charger.max_kw)
                full = plug + MINUTE * (len(powers) + 1)
                depart = plug + HOUR * stay if stay else full + MINUTE * r.uniform(5, 45)
                depart = max(depart, plug + 10 * MINUTE)
                if any(f.start <= depart + MINUTE and plug <= f.end for f in self.faults
                       if f.label.fault_type == "charger_fault"):  # fmt: skip
                    continue
                out.append(Session(plug, depart, powers, car, r.uniform(15, 45)))
                free = depart + MINUTE
        return out

    def raw(self, start: datetime, end: datetime) -> Iterator[Raw]:
        r = rng_for(self.seed, self.device_id, start, "noise")
        sessions = [s for s in self.sessions(start, end) if s.plug < end]
        if self._register is None:  # the first window: the meter as it stood, sessions before it
            ended = [s for s in sessions if s.depart + HOUR < start]
            at_start = self._base(start) + sum(_delivered(s, start) for s in ended)
        else:
            at_start = self._register
        sessions = [s for s in sessions if s.depart + HOUR >= start]
        register = at_start - sum(_delivered(s, start) for s in sessions)
        # what the meter reads at `end`, where the next window carries on
        self._register = at_start + sum(_delivered(s, end) - _delivered(s, start) for s in sessions)
        msgs: list[tuple[datetime, Channel, object]] = []
        spans: list[tuple[datetime, datetime]] = []
        for s in sessions:
            spans.append((s.plug, s.depart + MINUTE))
            sid, tag = digest(self.device_id, s.plug, size=6), digest(self.device_id, "car", s.car)
            msgs.append((s.plug, Channel.TELEMETRY, ("Preparing", 0.0, register, None)))
            t0 = s.plug + MINUTE
            msgs.append((t0, Channel.EVENT, SessionStart(ts=t0, seq=0, session_id=sid, id_tag=tag)))
            delivered = 0.0
            for i, p in enumerate(s.powers):
                t = t0 + MINUTE * i
                if t >= s.depart:
                    break
                delivered += p / 60
                soc = min(100.0, s.soc0 + delivered / 60 * 100) if self.dc else None
                msgs.append((t, Channel.TELEMETRY, ("Charging", p, register + delivered, soc)))
            register += delivered
            t = t0 + MINUTE * len(s.powers) + IDLE_EVERY
            while t < s.depart:
                msgs.append((t, Channel.TELEMETRY, ("SuspendedEV", 0.0, register, None)))
                t += IDLE_EVERY
            msgs.append((s.depart, Channel.TELEMETRY, ("Finishing", 0.0, register, None)))
            stop = SessionStop(ts=s.depart, seq=0, session_id=sid, energy_kwh=round(delivered, 3))
            msgs.append((s.depart, Channel.EVENT, stop))
            msgs.append((s.depart + MINUTE, Channel.TELEMETRY, ("Available", 0.0, register, None)))
        for f in self.faults:
            if f.label.fault_type == "charger_fault" and f.start < end:
                code = f.label.detail
                msgs.append((f.start, Channel.EVENT, ChargerFault(ts=f.start, seq=0, code=code)))  # type: ignore[arg-type]
                if f.label.end is not None:
                    msgs.append((f.end, Channel.EVENT, ChargerFaultCleared(ts=f.end, seq=0, code=code)))  # type: ignore[arg-type]
        idle = [
            (t, Channel.TELEMETRY, None) for t in _outside(ticks(start, end, self.every, self.phase), spans)
        ]
        msgs.sort(key=itemgetter(0))
        stream = heapq.merge(msgs, idle, key=itemgetter(0))
        yield from self._finish(stream, start, at_start - sum(_delivered(s, start) for s in sessions), r)

    def _base(self, ts: datetime) -> float:
        """The meter at the start of a run: what it had counted before the simulation began."""
        return self.register0 + (ts - EPOCH) / HOUR * 0.5

    def _finish(
        self, stream: Iterator[tuple[datetime, Channel, object]], start: datetime, register: float, r: Random
    ) -> Iterator[Raw]:
        """Telemetry values with the silent meter and temperature faults applied, in time order.

        The enclosure's heat and the meter faults' offsets are kept on the model, so that they carry
        over from one window of a run to the next.
        """
        for ts, channel, item in stream:
            if channel is Channel.EVENT:
                yield ts, channel, item  # type: ignore[misc]
                continue
            status: OcppStatus
            if item is None:
                status, power, soc = "Available", 0.0, None
            else:
                status, power, register, soc = item  # type: ignore[misc]
            if self._last is None or ts > self._last:  # warms and cools with a lag of about 20 minutes
                if self._last is not None:
                    settle = 1 - math.exp(-(ts - self._last) / (20 * MINUTE))
                    self._heat += (22 * power / self.charger.max_kw - self._heat) * settle
                self._last = ts
            if ts < start:  # warm-up: only the state carries over
                continue
            if self.fault("charger_fault", ts):
                status = "Faulted"
            # a spike is a metering glitch: it heats nothing (heat was updated from the drawn power)
            if spike := self.fault("power_spike", ts):
                power = min(self.charger.max_kw * (2.5 + 2 * spike.magnitude), 1000.0)
            energy = register
            if self.fault("meter_stuck", ts):
                self._stuck_at = energy if self._stuck_at is None else self._stuck_at
                energy = self._stuck_at
            else:
                self._stuck_at = None
            # each fault takes the meter back once (a second fault on the same charger too)
            if (back := self.fault("meter_backwards", ts)) and back is not self._backwards_by:
                self._backwards_by = back
                self._backwards += min((register - self._backwards) * 0.5, 20 + 200 * back.magnitude)
            energy = max(0.0, energy - self._backwards)
            hour = ts.timestamp() / 3600
            temp = 16 + 6 * math.sin(2 * math.pi * (hour + 8 - 9) / 24) + self._heat
            if drift := self.fault("over_temperature_drift", ts):
                temp += min(60.0, (ts - drift.start) / HOUR * (1 + 2 * drift.magnitude))
            volts = (380 if self.dc else 220) + r.gauss(0, 2)
            yield ts, Channel.TELEMETRY, ChargerTelemetry(
                ts=ts, seq=0, status=status, power_kw=round(power, 3), energy_kwh=round(energy, 3),
                current_a=round(power * 1000 / volts, 2), voltage_v=round(volts, 1),
                temperature_c=round(temp + r.gauss(0, 0.3), 1),
                soc_pct=None if soc is None else round(soc, 1),
            )  # fmt: skip


def _delivered(s: Session, until: datetime) -> float:
    """kWh the session has delivered by `until` (the meter counts whole minutes)."""
    t0 = s.plug + MINUTE
    minutes = min(len(s.powers), max(0, math.ceil((min(until, s.depart) - t0) / MINUTE)))
    return sum(s.powers[:minutes]) / 60


def _outside(times: Iterator[datetime], spans: list[tuple[datetime, datetime]]) -> Iterator[datetime]:
    """Idle ticks that fall outside every (sorted) session span."""
    i = 0
    for t in times:
        while i < len(spans) and spans[i][1] < t:
            i += 1
        if i == len(spans) or t < spans[i][0]:
            yield t
