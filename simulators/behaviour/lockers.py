"""Parcel lockers: deliveries late morning and afternoon, pickups in the evening, some overdue."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count
from operator import itemgetter

from core.contract.payloads import (
    Deposit,
    DoorClosed,
    DoorLeftOpen,
    DoorOpen,
    LockerFault,
    LockerTelemetry,
    Pickup,
)
from core.contract.topics import Channel, Kind
from simulators.behaviour.base import HOUR, Device, Fault, Raw, digest, local_days, poisson, rng_for, ticks

LEFT_OPEN_AFTER = timedelta(minutes=3)
_S = timedelta(seconds=1)


class LockerModel(Device):
    """A bank of compartments; each parcel is deposited, waits, and is picked up."""

    kind = Kind.PARCEL_LOCKER
    every = timedelta(minutes=10)

    def __init__(self, device_id: str, seed: int, faults: list[Fault], compartments: int) -> None:
        super().__init__(device_id, seed, faults)
        self.total = compartments
        self.phase = rng_for(seed, device_id, "static").random()
        # carried from one window of a run to the next
        self._started_at: datetime | None = None
        self._parcels: dict[int, str] = {}
        self._pending: list[tuple[datetime, int, str, int, str]] = []
        self._spill: list[Raw] = []

    def _compartment(self, fault: Fault) -> int:
        return 1 + int(fault.magnitude * self.total)

    def _pickup_time(self, deposited: datetime, r_u: float, r_h: float) -> datetime:
        day = datetime.combine(deposited.date(), datetime.min.time(), deposited.tzinfo)
        if r_u < 0.08:  # overdue: left for days
            return day + timedelta(days=2 + int(r_h * 4), hours=17 + 4 * r_h)
        if r_u < 0.2:  # on the way to work next morning
            return day + timedelta(days=1, hours=7 + 1.5 * r_h)
        evening = day + timedelta(hours=17 + 5 * r_h)
        return evening if evening > deposited + HOUR else evening + timedelta(days=1)

    def raw(self, start: datetime, end: datetime) -> Iterator[Raw]:
        order = count()
        # (t, order, action, compartment, parcel); pickups still to come carry over between windows
        queue: list[tuple[datetime, int, str, int, str]] = [
            (t, next(order), action, comp, parcel) for t, _, action, comp, parcel in self._pending
        ]
        first = not self._started_at
        self._started_at = self._started_at or start
        # the first window starts from an empty bank a week earlier, so it opens with parcels waiting
        for day in local_days(start, end, warmup_days=7 if first else 0):
            r = rng_for(self.seed, self.device_id, day.date(), "deliveries")
            mean = self.total * (0.45 if day.weekday() < 5 else 0.3)
            for _ in range(poisson(r, mean) if mean < 30 else round(r.gauss(mean, math.sqrt(mean)))):
                hours = r.uniform(9.5, 12) if r.random() < 0.5 else r.uniform(13.5, 17.5)
                t = day + HOUR * hours
                if (first or t >= start) and t < end:
                    queue.append((t, next(order), "deposit", 0, digest(self.device_id, t, size=6)))
        for t in ticks(start, end, self.every, self.phase):
            queue.append((t, next(order), "tick", 0, ""))
        heapq.heapify(queue)
        blocked = [(self._compartment(f), f) for f in self.faults if f.label.fault_type == "locker_fault"]
        phantom = [f for f in self.faults if f.label.fault_type == "compartment_sensor_fault"]
        parcels = self._parcels
        out: list[Raw] = [m for m in self._fault_events() if start <= m[0] < end]
        out += self._spill
        r = rng_for(self.seed, self.device_id, start, "noise")
        while queue and queue[0][0] < end:
            t, _, action, comp, parcel = heapq.heappop(queue)
            if action == "tick":
                shown = len(parcels)
                for f in (f for f in phantom if f.covers(t)):  # these compartments always read full
                    first_c = self._compartment(f)
                    shown += sum(c not in parcels for c in range(first_c, min(first_c + 4, self.total + 1)))
                temp = (
                    18 + 5 * math.sin(2 * math.pi * ((t.timestamp() / 3600 + 8 - 9) / 24)) + r.gauss(0, 0.3)
                )
                out.append((t, Channel.TELEMETRY, LockerTelemetry(
                    ts=t, seq=0, compartments_total=self.total, compartments_occupied=shown,
                    temperature_c=round(temp, 1),
                )))  # fmt: skip
                continue
            # each parcel draws from its own generator, so windows of any length give the same run
            pr = rng_for(self.seed, self.device_id, parcel, action)
            if action == "deposit":
                out_of_use = {c for c, f in blocked if f.covers(t)}
                free = [c for c in range(1, self.total + 1) if c not in parcels and c not in out_of_use]
                if not free:
                    continue  # the courier takes it back
                comp = free[int(pr.random() * len(free))]
                parcels[comp] = parcel
                pickup = self._pickup_time(t, pr.random(), pr.random())
                heapq.heappush(queue, (pickup, next(order), "pickup", comp, parcel))
                event: Deposit | Pickup = Deposit(ts=t + 8 * _S, seq=0, compartment=comp, parcel_id=parcel)
            else:
                del parcels[comp]
                event = Pickup(ts=t + 8 * _S, seq=0, compartment=comp, parcel_id=parcel)
            closed = t + (15 + int(pr.random() * 30)) * _S
            out += [
                (t, Channel.EVENT, DoorOpen(ts=t, seq=0, compartment=comp)),
                (event.ts, Channel.EVENT, event),
                (closed, Channel.EVENT, DoorClosed(ts=closed, seq=0, compartment=comp)),
            ]
        self._pending = [q for q in queue if q[2] == "pickup"]
        self._spill = [m for m in out if m[0] >= end]  # the door closes in the next window
        out = [m for m in out if m[0] < end]
        out.sort(key=itemgetter(0))
        yield from out

    def _fault_events(self) -> list[Raw]:
        out: list[Raw] = []
        for f in self.faults:
            comp, t = self._compartment(f), f.start
            if f.label.fault_type == "locker_fault":
                code = f.label.detail
                out.append((t, Channel.EVENT, LockerFault(ts=t, seq=0, compartment=comp, code=code)))  # type: ignore[arg-type]
            elif f.label.fault_type == "door_left_open":
                out.append((t, Channel.EVENT, DoorOpen(ts=t, seq=0, compartment=comp)))
                late = t + LEFT_OPEN_AFTER
                if late < f.end:
                    open_s = int(LEFT_OPEN_AFTER.total_seconds())
                    out.append(
                        (late, Channel.EVENT, DoorLeftOpen(ts=late, seq=0, compartment=comp, open_s=open_s))
                    )
                if f.label.end is not None:
                    out.append((f.end, Channel.EVENT, DoorClosed(ts=f.end, seq=0, compartment=comp)))
        return out
