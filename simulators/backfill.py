"""History straight into TimescaleDB for a quick demo: the ingest store's own COPY, no broker.

This skips MQTT, validation by ingest and the registry check, so it is for filling an empty demo
database fast; `simulate backfill --via mqtt` sends the same history through the real pipeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

import psycopg

from core.db import rollups
from core.db.tables import DEVICE_TABLES
from ingest import store
from ingest.models import Batch
from simulators.behaviour.base import Emission

BATCH = 20_000


def copy_history(
    conn: psycopg.Connection, emissions: Iterable[Emission], progress: Callable[[datetime, int], None]
) -> Counter[str]:
    """Write the messages in batches (each its own transaction); returns rows added per table."""
    store.prepare_connection(conn)
    track = rollups.license_of(conn) != "timescale"
    added: Counter[str] = Counter()
    batch, n = Batch(), 0
    for n, e in enumerate(emissions, start=1):
        table = DEVICE_TABLES[(e.kind, e.channel)]
        batch.add(table.name, table.row(e.device_id, e.payload))
        if n % BATCH == 0:
            added.update(store.write(conn, batch, track_rollups=track, worker="backfill").rows)
            progress(e.ts, n)
            batch = Batch()
    if batch.tables:
        added.update(store.write(conn, batch, track_rollups=track, worker="backfill").rows)
    return added
