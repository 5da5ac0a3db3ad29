"""The ingest worker: topic -> validate -> batch -> COPY -> ack, top to bottom."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from psycopg_pool import ConnectionPool

from core.config import Settings
from core.contract.codec import Reason
from core.db import rollups
from core.registry import service as registry
from core.registry.models import DeviceRef
from ingest import metrics, store
from ingest.consumer import MqttSource
from ingest.models import Batch, Inbound
from ingest.service import DeviceCache, reject, sort_batch
from ingest.worker import BatchWorker

logger = logging.getLogger(__name__)

# A drained session is ended after this long with nothing more coming: the broker sends a
# session's queued messages right after CONNACK, so a quiet second or two means it is empty.
DRAIN_IDLE_S = 2.0


class IngestWorker(BatchWorker):
    """Stores device messages in TimescaleDB and rejects in `ingest_rejects`."""

    def __init__(
        self, settings: Settings, pool: ConnectionPool, name: str, *, shared: bool, drain: bool = False
    ) -> None:
        super().__init__(
            MqttSource(settings, name, shared=shared, drain=drain),
            batch_size=settings.ingest_batch_size,
            batch_ms=settings.ingest_batch_ms,
            stop_when_idle_s=DRAIN_IDLE_S if drain else None,
        )
        self.settings = settings
        self.pool = pool
        self.name = name
        self.devices = DeviceCache(self._lookup, settings.ingest_registry_refresh_s)
        with pool.connection() as conn:
            self.track_rollups = rollups.license_of(conn) != "timescale"

    def _lookup(self, ids: Iterable[str] | None) -> dict[str, DeviceRef]:
        with self.pool.connection() as conn:
            return registry.lookup(conn, ids)

    def process(self, items: list[Inbound]) -> None:
        batch = sort_batch(items, self.devices, self.settings)
        self._write(batch)

    def dead_letter(self, item: Inbound, error: Exception) -> None:
        detail = f"database refused the row: {error}".strip()
        keep = self.settings.ingest_reject_payload_bytes
        self._write(Batch(rejects=[reject(item, Reason.DB_REJECTED, detail, keep)]))

    def _write(self, batch: Batch) -> None:
        with self.pool.connection() as conn:
            written = store.write(conn, batch, track_rollups=self.track_rollups, worker=self.name)
        for table, count in written.rows.items():
            metrics.WRITTEN.labels(table).inc(count)
        metrics.DUPLICATES.inc(written.duplicates)
        for reason, count in written.rejects.items():
            metrics.REJECTED.labels(reason).inc(count)

    def health(self) -> dict[str, Any]:
        last = self.last_commit_at
        return {
            "status": "ok" if self.source.subscribed else "degraded",
            "worker": self.name,
            "broker_connected": self.source.connected,
            "subscribed": self.source.subscribed,
            "sessions_lost": self.source.sessions_lost,
            "pending": len(self.source.pending) + self.in_flight,
            "seconds_since_commit": round(time.time() - last, 3) if last else None,
        }
