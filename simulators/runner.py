"""Publishing a simulation through the devices' connections: paced by a clock, or as fast as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from simulators.behaviour.base import Emission
from simulators.transport import Connections


@dataclass
class Clock:
    """Simulated time: from `start`, `speed` times faster than the wall clock, never past now.

    A fast run starts in the past and catches up with the present, then goes on in real time, so
    that every timestamp it sends is one ingest accepts.
    """

    start: datetime
    speed: float = 1.0

    def __post_init__(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        simulated = self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)
        return min(simulated, datetime.now(UTC))

    def wait_s(self, ts: datetime) -> float:
        """Wall seconds until the simulated clock reaches ts (0 if it has)."""
        ahead = (ts - self.now()).total_seconds()
        if ahead <= 0:
            return 0.0
        caught_up = self.now() >= datetime.now(UTC) - timedelta(seconds=1)
        return ahead if caught_up else ahead / self.speed


@dataclass
class Sent:
    """What a run published."""

    messages: int = 0
    last_ts: datetime | None = None


def publish(
    emissions: Iterable[Emission],
    links: Connections,
    *,
    clock: Clock | None,
    report: Callable[[Sent], None],
    report_every_s: float = 5.0,
) -> Sent:
    """Send each message when the clock reaches its timestamp (no clock: at once, as fast as the
    broker acknowledges). KeyboardInterrupt stops it between two messages."""
    sent = Sent()
    next_report = time.monotonic() + report_every_s
    for e in emissions:
        if clock is not None:
            while (wait := clock.wait_s(e.ts)) > 0:
                links.poll(min(wait, 0.25))
        links.publish(e.device_id, e.channel, e.payload)
        sent.messages += 1
        sent.last_ts = e.ts
        if sent.messages % 256 == 0:
            links.poll(0)
            if time.monotonic() >= next_report:
                report(sent)
                next_report = time.monotonic() + report_every_s
    links.drain()
    return sent
