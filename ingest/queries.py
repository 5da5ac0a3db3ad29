"""SQL of the ingest path: COPY into a per-connection staging table, then one idempotent insert."""

from __future__ import annotations

from typing import Final


class INGEST:
    """Batch writes."""

    create_stage: Final = (
        "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    copy_stage: Final = "COPY {stage} ({columns}) FROM STDIN"
    insert_from_stage: Final = (
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT DO NOTHING"
    )
    copy_rejects: Final = (
        "COPY ingest_rejects (received_at, topic, reason, detail, payload, payload_size, worker) FROM STDIN"
    )
    invalidate: Final = "INSERT INTO rollup_invalidations (source_table, lo, hi) VALUES (%s, %s, %s)"
