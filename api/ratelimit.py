"""Per-key request limits and per-address limits on failed authentication (the `limits` library)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from api.errors import RateLimited


class RateLimiter:
    """Moving windows in this process's memory; each API process counts alone.

    A moving window keeps each hit's time (up to the limit per key or address), so the limit holds
    exactly over any minute; the cheaper sliding-window counter only estimates the previous
    window's share and lets a burst across a window boundary through.
    """

    def __init__(self, per_key: str, auth_failures: str) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._per_key = parse(per_key)
        self._failures = parse(auth_failures)

    def hit_key(self, key_id: str) -> None:
        """Count one request of a key; 429 when it is over its limit."""
        if not self._limiter.hit(self._per_key, "key", key_id):
            raise self._refusal(self._per_key, "key", key_id, message="rate limit of this API key exceeded")

    def check_address(self, address: str) -> None:
        """429 when an address has failed authentication too often recently."""
        if not self._limiter.test(self._failures, "auth-failure", address):
            raise self._refusal(
                self._failures, "auth-failure", address, message="too many failed authentications"
            )

    def fail_address(self, address: str) -> None:
        """Count one failed authentication of an address."""
        self._limiter.hit(self._failures, "auth-failure", address)

    def _refusal(self, item: RateLimitItem, *ids: str, message: str) -> RateLimited:
        reset_at, _remaining = self._limiter.get_window_stats(item, *ids)
        retry = max(1, math.ceil(reset_at - time.time()))
        return RateLimited(f"{message}; retry in {retry} s", headers={"Retry-After": str(retry)})
