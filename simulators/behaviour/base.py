"""What every simulated device shares: emissions, fault labels, seq/boot, status and outages."""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import ClassVar, Literal, NamedTuple, Protocol

from core.contract.payloads import DeviceStatus, Envelope
from core.contract.topics import Channel, Kind

# Behaviour follows the community's wall clock; China has one zone and no DST.
LOCAL_TZ = timezone(timedelta(hours=8), "CST")
# Slow drifts (battery, wear) are measured from here, so they do not depend on the window asked for.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FIRMWARE = "sim-1.4.2"

Raw = tuple[datetime, Channel, Envelope]
"""A message before seq/boot are stamped: payloads are built with seq=0 and stamped on the way out."""


class Emission(NamedTuple):
    """One message a device publishes."""

    ts: datetime
    device_id: str
    kind: Kind
    channel: Channel
    payload: Envelope


@dataclass(frozen=True, slots=True)
class FaultLabel:
    """Ground truth of one injected fault; `silent` = no message announces it."""

    device_id: str
    kind: Kind
    fault_type: str
    start: datetime
    end: datetime | None
    silent: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Fault:
    """A planned fault: its label plus the magnitude its model applies."""

    label: FaultLabel
    magnitude: float = 0.0

    @property
    def start(self) -> datetime:
        return self.label.start

    @property
    def end(self) -> datetime:
        return self.label.end or datetime.max.replace(tzinfo=UTC)

    def covers(self, ts: datetime) -> bool:
        return self.label.start <= ts < self.end


class DeviceModel(Protocol):
    """A device's behaviour: its messages in time order, deterministic for (seed, device id)."""

    device_id: str
    kind: Kind

    def emissions(self, start: datetime, end: datetime) -> Iterator[Emission]: ...


def rng_for(seed: int, device_id: str, *parts: object) -> random.Random:
    """A generator for one purpose of one device (and day), independent of every other."""
    return random.Random("/".join([str(seed), device_id, *map(str, parts)]))


def local_days(start: datetime, end: datetime, warmup_days: int = 0) -> Iterator[datetime]:
    """Local midnights from `warmup_days` before the day of `start` to the day of `end`."""
    day = datetime.combine(start.astimezone(LOCAL_TZ).date(), datetime.min.time(), LOCAL_TZ)
    day -= warmup_days * DAY
    while day <= end:
        yield day
        day += DAY


def poisson(r: random.Random, mean: float) -> int:
    """Knuth's method; means here are small."""
    limit, k, p = math.exp(-mean), 0, r.random()
    while p > limit:
        k += 1
        p *= r.random()
    return k


def ticks(start: datetime, end: datetime, every: timedelta, phase: float) -> Iterator[datetime]:
    """Periodic times in [start, end], aligned to EPOCH plus a per-device phase (0..1 of a period)."""
    first = EPOCH + every * phase
    n = -((first - start) // every)
    t = first + every * n
    while t <= end:
        yield t
        t += every


def digest(*parts: object, size: int = 8) -> str:
    """A stable hex id (plate hashes, session ids)."""
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=size).hexdigest()


class Device:
    """Stamps seq/boot on a kind's raw messages and applies reboots, network loss and silence.

    `emissions` may be called for consecutive windows (chunks): seq, boot and link state carry over,
    so a long run never needs more than one chunk of messages in memory.
    """

    kind: ClassVar[Kind]
    every: timedelta
    """Period of the kind's heartbeat/idle telemetry (a run may override it per device)."""

    def __init__(self, device_id: str, seed: int, faults: list[Fault]) -> None:
        self.device_id = device_id
        self.seed = seed
        self.faults = faults
        self._seq = self._boot = 0
        self._muted = self._offline = self._started = False

    def fault(self, fault_type: str, ts: datetime) -> Fault | None:
        """The fault of this type active at ts, if any."""
        for f in self.faults:
            if f.label.fault_type == fault_type and f.covers(ts):
                return f
        return None

    def raw(self, start: datetime, end: datetime) -> Iterator[Raw]:
        """The kind's messages in time order from start (items before start are dropped)."""
        raise NotImplementedError

    def _controls(self) -> list[tuple[datetime, None, str]]:
        controls: list[tuple[datetime, None, str]] = []
        for f in self.faults:
            ft = f.label.fault_type
            if ft == "reboot":
                controls.append((f.start, None, "reboot"))
            elif ft == "network_loss":
                controls += [(f.start, None, "offline"), (f.end, None, "online")]
            elif ft in ("silent", "dead_battery"):
                # a dead battery still gets a few low readings out before it goes quiet
                delay = 30 * MINUTE if ft == "dead_battery" else timedelta(0)
                controls += [(f.start + delay, None, "mute"), (f.end, None, "unmute")]
        controls.sort(key=itemgetter(0))
        return controls

    def _out(self, ts: datetime, channel: Channel, payload: Envelope) -> Emission:
        if ts.tzinfo is not UTC:  # models reckon in local days; messages carry UTC
            ts = ts.astimezone(UTC)
        payload.ts, payload.seq, payload.boot = ts, self._seq, self._boot
        self._seq += 1
        return Emission(ts, self.device_id, self.kind, channel, payload)

    def emissions(self, start: datetime, end: datetime) -> Iterator[Emission]:
        """Messages in [start, end): an online status when the device first starts, then its stream."""
        if not self._started:
            self._started = True
            online = DeviceStatus(ts=start, seq=0, state="online", firmware=FIRMWARE)
            yield self._out(start, Channel.STATUS, online)
        stream = heapq.merge(self._controls(), self.raw(start, end), key=itemgetter(0))
        for ts, channel, item in stream:
            if ts < start:
                continue
            if ts >= end:
                break
            if channel is not None:
                if not (self._offline or self._muted):
                    yield self._out(ts, channel, item)  # type: ignore[arg-type]
                continue
            if item == "reboot":
                self._seq, self._boot = 0, self._boot + 1
            elif item in ("mute", "unmute"):
                self._muted = item == "mute"
                continue
            self._offline = item == "offline"
            # the broker publishes an offline will for a lost link; the simulator stands in for it
            state: Literal["online", "offline"] = "offline" if self._offline else "online"
            yield self._out(ts, Channel.STATUS, DeviceStatus(ts=ts, seq=0, state=state, firmware=FIRMWARE))
