"""Per-key request limits and per-address limits on failed authentication: exact moving windows.

A moving window keeps each hit's time (up to the limit per key or address), so the limit holds
exactly over any minute; the cheaper sliding-window counter only estimates the previous window's
share and lets up to twice the limit through across a window boundary.

By hand, with the `limits` library only parsing the notation ("600/minute"): its in-memory moving
window prepends to a list on every hit, and a Timer thread, started anew every 10 ms while keys
have hits (blocking the event loop in `Thread.start`), copies every key's list to drop expired
hits. That cost 15-20% of the API's CPU per latest-state request at 50 busy keys (0.80-0.88
against 0.66-0.69 ms without the per-key limit, `yiju bench api`). Here each key's hits are a deque,
trimmed from the old end when the key is hit, and keys nobody hit for a window are swept once
per window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from limits import parse

from api.errors import RateLimited


class MovingWindow:
    """At most `amount` hits per `period_s` for each name, over any period (monotonic clock)."""

    def __init__(self, limit: str) -> None:
        item = parse(limit)
        self.amount = item.amount
        self.period_s = float(item.get_expiry())
        self._hits: dict[str, deque[float]] = {}
        self._swept = time.monotonic()
        self._lock = threading.Lock()

    def _window(self, name: str, now: float) -> deque[float]:
        """The name's hits within the period before `now` (an empty deque, not kept, if none)."""
        hits = self._hits.get(name, deque())
        while hits and hits[0] <= now - self.period_s:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        if now - self._swept >= self.period_s:
            self._swept = now
            for name in [n for n, hits in self._hits.items() if not hits or hits[-1] <= now - self.period_s]:
                del self._hits[name]

    def retry_after(self, name: str) -> float:
        """Seconds until `name` may be hit again (0: now)."""
        now = time.monotonic()
        with self._lock:
            hits = self._window(name, now)
            return 0.0 if len(hits) < self.amount else hits[-self.amount] + self.period_s - now

    def allows(self, name: str) -> bool:
        """Whether a hit now would be within the limit (counts nothing)."""
        return self.retry_after(name) == 0.0

    def hit(self, name: str) -> bool:
        """Count a hit now, unless it would exceed the limit (then False, nothing counted)."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            hits = self._window(name, now)
            if len(hits) >= self.amount:
                return False
            hits.append(now)
            self._hits[name] = hits
            return True


class RateLimiter:
    """The API's limits, in this process's memory; each API process counts alone."""

    def __init__(self, per_key: str, auth_failures: str) -> None:
        self._per_key = MovingWindow(per_key)
        self._failures = MovingWindow(auth_failures)

    def hit_key(self, key_id: str) -> None:
        """Count one request of a key; 429 when it is over its limit."""
        if not self._per_key.hit(key_id):
            raise _refusal(self._per_key, key_id, "rate limit of this API key exceeded")

    def check_address(self, address: str) -> None:
        """429 when an address has failed authentication too often recently."""
        if not self._failures.allows(address):
            raise _refusal(self._failures, address, "too many failed authentications")

    def fail_address(self, address: str) -> None:
        """Count one failed authentication of an address."""
        self._failures.hit(address)


def _refusal(window: MovingWindow, name: str, message: str) -> RateLimited:
    retry = max(1, math.ceil(window.retry_after(name)))
    return RateLimited(f"{message}; retry in {retry} s", headers={"Retry-After": str(retry)})
