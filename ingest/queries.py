"""SQL of the ingest path: one COPY of the whole batch into staging, then idempotent inserts."""

from __future__ import annotations

from typing import Final


class INGEST:
    """Batch writes."""

    column_types: Final = """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"""
    create_stage: Final = "CREATE TEMP TABLE IF NOT EXISTS stage_batch ({columns}) ON COMMIT DELETE ROWS"
    copy_stage: Final = "COPY stage_batch ({columns}) FROM STDIN"
    insert_from_stage: Final = """
        INSERT INTO {table} ({columns}) SELECT {columns} FROM stage_batch WHERE target = {target}
        ON CONFLICT DO NOTHING"""
    invalidate: Final = "INSERT INTO rollup_invalidations (source_table, lo, hi) VALUES {values}"
    copy_rejects: Final = (
        "COPY ingest_rejects (received_at, topic, reason, detail, payload, payload_size, worker) FROM STDIN"
    )


class SESSIONS:
    """Leases on broker sessions and replica slots (advisory locks keyed by a 64-bit text hash)."""

    try_lock: Final = "SELECT pg_try_advisory_lock(hashtextextended(%(key)s, 0))"
    register: Final = """
        INSERT INTO ingest_sessions (client_id, host) VALUES (%(client_id)s, %(host)s)
        ON CONFLICT (client_id) DO UPDATE SET host = EXCLUDED.host, started_at = now(), last_seen = now()"""
    seen: Final = "UPDATE ingest_sessions SET last_seen = now() WHERE client_id = %(client_id)s"
    stale: Final = """
        SELECT client_id FROM ingest_sessions
        WHERE last_seen < now() - make_interval(secs => %(after_s)s) ORDER BY client_id"""
    forget: Final = "DELETE FROM ingest_sessions WHERE client_id = %(client_id)s"
