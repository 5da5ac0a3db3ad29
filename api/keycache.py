"""Authenticated API keys remembered per process, forgotten as soon as any key changes.

Looking a key up costs a pooled connection and a query: about a fifth of the API's CPU per
request on the hot reads (`yiju bench api`: 1.15 against 0.93 ms per latest-state request). So a
key that authenticated is remembered for `api_key_cache_s` (and never past its expiry), keyed by
its hash as the database keys it. A trigger on `api_keys` (migration 0014) NOTIFYs on every update
or delete; each process LISTENs and forgets every key at once, and revoking through this process
forgets them before it answers. A key revoked from elsewhere (another worker, the CLI, SQL) is
therefore refused as soon as PostgreSQL has delivered the notification, which it sends at commit.
While the listening connection is down nothing is remembered, so a lost notification cannot keep
a revoked key alive.

cachetools' TLRUCache bounds the entries and expires each at its own time; the lock is there
because sync routes (worker threads) revoke while the event loop reads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
from cachetools import TLRUCache

from api.queries import KEYS
from api.security import Principal

logger = logging.getLogger(__name__)

MAX_KEYS = 10_000
RETRY_S = 1.0
APPLICATION_NAME = "yiju-api-keys"  # the listening connection, as pg_stat_activity shows it


def _expiry(_hash: bytes, entry: tuple[Principal, float], _now: float) -> float:
    return entry[1]


class KeyCache:
    """Principals by key hash, for `ttl_s` at most; nothing while not listening (or `ttl_s` 0)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.listening = False
        self.generation = 0  # moves on each forget: a lookup that began before must not be kept
        self._entries: TLRUCache[bytes, tuple[Principal, float]] = TLRUCache(MAX_KEYS, ttu=_expiry)
        self._lock = threading.Lock()

    def get(self, key_hash: bytes, client_addr: str | None) -> Principal | None:
        """The key's principal as last authenticated (seen from `client_addr`), None to look it up."""
        if not self.listening:
            return None
        with self._lock:
            entry = self._entries.get(key_hash)
        return None if entry is None else replace(entry[0], client_addr=client_addr)

    def put(self, key_hash: bytes, principal: Principal, generation: int) -> None:
        """Remember a key that has just authenticated, until the TTL or its expiry if sooner;
        not if keys changed since `generation` (read before the lookup began)."""
        if not self.listening or self.ttl_s <= 0:
            return
        until = time.monotonic() + self.ttl_s
        if principal.expires_at is not None:
            left = (principal.expires_at - datetime.now(UTC)).total_seconds()
            until = min(until, time.monotonic() + left)
        with self._lock:
            if generation == self.generation:
                self._entries[key_hash] = (replace(principal, client_addr=None), until)

    def forget(self) -> None:
        """Forget every key (a key changed somewhere)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    async def listen(self, database_url: str) -> None:
        """LISTEN for key changes until cancelled, reconnecting; remembers only while listening."""
        if self.ttl_s <= 0:
            return
        while True:
            try:
                connect = psycopg.AsyncConnection.connect(
                    database_url, autocommit=True, application_name=APPLICATION_NAME
                )
                async with await connect as conn:
                    await conn.execute(KEYS.listen)
                    self.forget()  # whatever changed while nobody listened
                    self.listening = True
                    async for _ in conn.notifies():
                        self.forget()
            except psycopg.OperationalError as error:
                logger.warning("api keys: not listening for changes (%s); retrying", error)
            finally:
                self.listening = False
                self.forget()
            await asyncio.sleep(RETRY_S)
