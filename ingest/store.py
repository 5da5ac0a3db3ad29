"""Writes a sorted batch in one transaction: COPY into staging, idempotent insert, rejects."""

from __future__ import annotations

from collections import Counter

import psycopg
from psycopg import sql

from core.db.rollups import BY_SOURCE
from core.db.tables import DEVICE_TABLES
from ingest.models import Batch, Written
from ingest.queries import INGEST

_TABLES = sorted({t.name for t in DEVICE_TABLES.values()})


def _stage(table: str) -> sql.Identifier:
    return sql.Identifier(f"stage_{table}")


def prepare_connection(conn: psycopg.Connection) -> None:
    """Create this connection's staging tables (pool `configure` hook)."""
    for table in _TABLES:
        conn.execute(sql.SQL(INGEST.create_stage).format(stage=_stage(table), table=sql.Identifier(table)))
    conn.commit()


def write(conn: psycopg.Connection, batch: Batch, *, track_rollups: bool, worker: str) -> Written:
    """Commit every row and reject of the batch, or nothing; redeliveries add no rows."""
    written: dict[str, int] = {}
    duplicates = 0
    with conn.transaction(), conn.cursor() as cur:
        for table, entry in batch.tables.items():
            columns = sql.SQL(", ").join(map(sql.Identifier, entry.columns))
            stage = _stage(table)
            with cur.copy(sql.SQL(INGEST.copy_stage).format(stage=stage, columns=columns)) as copy:
                for row in entry.rows:
                    copy.write_row(row)
            cur.execute(
                sql.SQL(INGEST.insert_from_stage).format(
                    table=sql.Identifier(table), columns=columns, stage=stage
                )
            )
            written[table] = cur.rowcount
            duplicates += len(entry.rows) - cur.rowcount
            if track_rollups and table in BY_SOURCE:
                ts = [row[1] for row in entry.rows]  # column 1 is ts in every device table
                cur.execute(INGEST.invalidate, (table, min(ts), max(ts)))
        if batch.rejects:
            with cur.copy(INGEST.copy_rejects) as copy:
                for r in batch.rejects:
                    copy.write_row(
                        (
                            r.received_at,
                            r.topic,
                            r.reason,
                            r.detail,
                            r.payload,
                            r.payload_size,
                            worker,
                        )
                    )
    return Written(written, duplicates, dict(Counter(r.reason for r in batch.rejects)))
