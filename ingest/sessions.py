"""Who holds which broker session, and what becomes of a session nobody holds any more.

Ingest sessions are persistent, and Mosquitto keeps handing an offline member of a shared
subscription its turn: measured on 2.0.11, two persistent members, one offline, ten messages
published, the online one got five and the other five waited for the offline one's return. So a
session must never be lost track of:

- A worker holds a lease on its client id (a PostgreSQL advisory lock on a connection of its own)
  for as long as it runs, marks the session seen in `ingest_sessions`, and refuses to start while
  another process holds that id: two holders would take the session from each other all day.
- Replicas (`ingest_replica_slots` > 0, e.g. `docker compose --scale ingest=3`) each claim the
  lowest free slot, so that a restarted container takes its predecessor's sessions back.
- The janitor, in the process that runs maintenance, drains every session whose lease has been
  free for `ingest_orphan_after_s` (a replica scaled away, or fewer `--workers`): it takes the
  queued messages into the database as any worker would, then ends the session.

Written here rather than taken from a library: leader election libraries want etcd or ZooKeeper,
and the database every worker already depends on gives us locks that vanish with their holder.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, LiteralString

import psycopg

from core.config import Settings
from core.db.pool import open_pool
from ingest import store
from ingest.pipeline import IngestWorker
from ingest.queries import SESSIONS

logger = logging.getLogger(__name__)

LEASE_HELD = 75  # a worker's exit status when another process holds its client id (EX_TEMPFAIL)


def session_key(client_id: str) -> str:
    return f"yiju-ingest-session:{client_id}"


def slot_key(client_id: str, slot: int) -> str:
    return f"yiju-ingest-slot:{client_id}:{slot}"


class Lease:
    """An advisory lock held on a connection of its own, released when that connection ends."""

    def __init__(self, settings: Settings, key: str) -> None:
        self._url = settings.database_url
        self.key = key
        self._conn: psycopg.Connection[Any] | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free (raises psycopg.OperationalError if the database is away)."""
        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        row = conn.execute(SESSIONS.try_lock, {"key": self.key}).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def confirm(self) -> bool:
        """Whether the lock is still ours, taking it again after the database came back.

        False means another process took it meanwhile; an OperationalError, that we cannot tell.
        """
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                self._conn.close()
        self._conn = None
        return self.acquire()

    def execute(self, query: LiteralString, params: dict[str, Any]) -> None:
        """Run a statement on the lease's own connection."""
        if self._conn is None:
            raise psycopg.OperationalError("lease not held")
        self._conn.execute(query, params)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class SessionKeeper(threading.Thread):
    """Holds a worker's lease and marks its session seen; stops the worker if the lease is lost.

    A worker that cannot confirm its lease for half of `ingest_orphan_after_s` stops, well
    before the janitor could take its session for an orphan.
    """

    def __init__(self, settings: Settings, client_id: str) -> None:
        super().__init__(name="yiju-session-keeper", daemon=True)
        self.client_id = client_id
        self.lease = Lease(settings, session_key(client_id))
        self.every_s = min(15.0, settings.ingest_orphan_after_s / 4)
        self.lost_after_s = settings.ingest_orphan_after_s / 2
        self.on_lost: Callable[[], None] = lambda: None
        self._stop_event = threading.Event()

    def hold(self) -> bool:
        """Take the lease and register the session; False if another process holds it."""
        if not self.lease.acquire():
            return False
        self.lease.execute(SESSIONS.register, {"client_id": self.client_id, "host": socket.gethostname()})
        return True

    def run(self) -> None:
        confirmed_at = time.monotonic()
        while not self._stop_event.wait(self.every_s):
            try:
                if not self.lease.confirm():
                    logger.error("session %s: another process took its lease; stopping", self.client_id)
                    self.on_lost()
                    return
                self.lease.execute(SESSIONS.seen, {"client_id": self.client_id})
                confirmed_at = time.monotonic()
            except psycopg.OperationalError as error:
                if time.monotonic() - confirmed_at > self.lost_after_s:
                    logger.error("session %s: lease unconfirmed (%s); stopping", self.client_id, error)
                    self.on_lost()
                    return

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=5)
        self.lease.release()


def claim_slot(settings: Settings, stopping: Callable[[], bool]) -> tuple[Lease, int] | None:
    """The lowest free replica slot and its lease; waits while all are taken, None if stopped."""
    while not stopping():
        for slot in range(settings.ingest_replica_slots):
            lease = Lease(settings, slot_key(settings.ingest_client_id, slot))
            if lease.acquire():
                logger.info("claimed replica slot %d of %d", slot, settings.ingest_replica_slots)
                return lease, slot
        logger.warning(
            "all %d replica slots are taken (YIJU_INGEST_REPLICA_SLOTS); waiting for one",
            settings.ingest_replica_slots,
        )
        time.sleep(5)
    return None


class Janitor(threading.Thread):
    """Drains and ends the sessions whose lease has been free for `ingest_orphan_after_s`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="yiju-session-janitor", daemon=True)
        self.settings = settings
        self.every_s = min(60.0, max(settings.ingest_orphan_after_s / 4, 0.5))
        self._stop_event = threading.Event()
        self._draining: IngestWorker | None = None

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            try:
                self.sweep()
            except psycopg.Error:
                logger.exception("session janitor failed; retrying next interval")

    def sweep(self) -> list[str]:
        """Drain every orphaned session once; returns the client ids ended."""
        with psycopg.connect(self.settings.database_url, autocommit=True, connect_timeout=5) as conn:
            stale = [
                r[0] for r in conn.execute(SESSIONS.stale, {"after_s": self.settings.ingest_orphan_after_s})
            ]
        ended = []
        for client_id in stale:
            if self._stop_event.is_set():
                break
            lease = Lease(self.settings, session_key(client_id))
            if not lease.acquire():
                continue  # its holder runs but lost touch with the database for a while
            try:
                if self._drain(client_id):
                    lease.execute(SESSIONS.forget, {"client_id": client_id})
                    ended.append(client_id)
            finally:
                lease.release()
        return ended

    def _drain(self, client_id: str) -> bool:
        logger.info(
            "session %s has had no worker for %.0fs: draining it",
            client_id,
            self.settings.ingest_orphan_after_s,
        )
        pool = open_pool(
            self.settings, name=f"{client_id}-drain", max_size=1, configure=store.prepare_connection
        )
        try:
            self._draining = IngestWorker(self.settings, pool, client_id, shared=True, drain=True)
            self._draining.run()
            done = not self._draining.stopping
        finally:
            self._draining = None
            pool.close()
        logger.info("session %s %s", client_id, "drained and ended" if done else "left for later")
        return done

    def stop(self) -> None:
        self._stop_event.set()
        if self._draining is not None:
            self._draining.stopping = True
        if self.is_alive():
            self.join(timeout=30)
