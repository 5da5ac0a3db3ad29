"""Retention and rollup refresh: policies on the community edition, our own job on Apache."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import psycopg

from core.config import Settings
from core.db import rollups
from core.db.queries import MAINTENANCE
from core.db.tables import TELEMETRY_TABLES

logger = logging.getLogger(__name__)

LOCK_KEY = 0x59494A56  # one maintainer at a time across all processes
RAW_TABLES = (*TELEMETRY_TABLES, "ingest_rejects")


@dataclass(frozen=True)
class Report:
    """What one maintenance pass did."""

    edition: str
    rollup_hours: int
    chunks_dropped: int
    skipped: bool = False


def run_once(conn: psycopg.Connection, settings: Settings) -> Report:
    """One pass; skipped when another process holds the maintenance lock (conn in autocommit)."""
    locked = conn.execute(MAINTENANCE.try_lock, (LOCK_KEY,)).fetchone()
    edition = rollups.license_of(conn)
    if not (locked and locked[0]):
        return Report(edition, 0, 0, skipped=True)
    try:
        raw = f"{settings.retention_days} days"
        kept = f"{settings.rollup_retention_days} days"
        if edition == "timescale":
            # Policies run inside TimescaleDB; re-adding keeps them in step with the settings.
            for table, keep in [(t, raw) for t in RAW_TABLES] + [(r.name, kept) for r in rollups.ALL]:
                conn.execute(MAINTENANCE.remove_retention_policy, (table,))
                conn.execute(MAINTENANCE.add_retention_policy, (table, keep))
            return Report(edition, 0, 0)
        hours = rollups.refresh(conn)
        dropped = 0
        for table, keep in [(t, raw) for t in RAW_TABLES] + [(r.name, kept) for r in rollups.ALL]:
            row = conn.execute(MAINTENANCE.drop_chunks, (table, keep)).fetchone()
            dropped += int(row[0]) if row else 0
        return Report(edition, hours, dropped)
    finally:
        conn.execute(MAINTENANCE.unlock, (LOCK_KEY,))


class Maintainer(threading.Thread):
    """Runs `run_once` every `maintenance_interval_s` until stopped; errors are logged, not fatal."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="yiju-maintenance", daemon=True)
        self._settings = settings
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self._settings.maintenance_interval_s):
            started = time.monotonic()
            try:
                with psycopg.connect(self._settings.database_url, autocommit=True) as conn:
                    report = run_once(conn, self._settings)
                logger.info("maintenance %s in %.2fs", report, time.monotonic() - started)
            except psycopg.Error:
                logger.exception("maintenance pass failed; retrying next interval")
