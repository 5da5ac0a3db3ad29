"""Every SQL statement of core.db, parameterised; identifiers are composed with psycopg.sql."""

from __future__ import annotations

from typing import Final


class MIGRATIONS:
    """Migration bookkeeping."""

    lock: Final = "SELECT pg_advisory_lock(%s)"
    unlock: Final = "SELECT pg_advisory_unlock(%s)"
    create_table: Final = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )"""
    applied: Final = "SELECT version, checksum FROM schema_migrations"
    record: Final = "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"


class ROLLUPS:
    """Hourly rollups (continuous aggregates or service-refreshed tables)."""

    license: Final = "SELECT current_setting('timescaledb.license', true)"
    select: Final = """
        SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, device_id, {aggregates}
        FROM {source} {where} GROUP BY bucket, device_id"""
    where_range: Final = "WHERE ts >= %(lo)s AND ts < %(hi)s"
    create_cagg: Final = """
        CREATE MATERIALIZED VIEW IF NOT EXISTS {name}
        WITH (timescaledb.continuous) AS {select} WITH NO DATA"""
    add_cagg_policy: Final = """
        SELECT add_continuous_aggregate_policy(%s::regclass, start_offset => INTERVAL '3 days',
            end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes',
            if_not_exists => true)"""
    create_table: Final = "CREATE TABLE IF NOT EXISTS {name} AS {select} WITH NO DATA"
    create_index: Final = "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {name} (device_id, bucket DESC)"
    make_hypertable: Final = """
        SELECT create_hypertable(%s::regclass, 'bucket', chunk_time_interval => INTERVAL '30 days',
            if_not_exists => true, migrate_data => true)"""
    take_invalidations: Final = "DELETE FROM rollup_invalidations WHERE source_table = %s RETURNING lo, hi"
    delete_range: Final = "DELETE FROM {name} WHERE bucket >= %s AND bucket < %s"
    insert_range: Final = "INSERT INTO {name} {select}"


class MAINTENANCE:
    """Retention and the order of closed chunks, on either edition."""

    try_lock: Final = "SELECT pg_try_advisory_lock(%s)"
    unlock: Final = "SELECT pg_advisory_unlock(%s)"
    drop_chunks: Final = "SELECT count(*) FROM drop_chunks(%s::regclass, older_than => %s::interval)"
    add_retention_policy: Final = """
        SELECT add_retention_policy(%s::regclass, drop_after => %s::interval, if_not_exists => true)"""
    remove_retention_policy: Final = "SELECT remove_retention_policy(%s::regclass, if_exists => true)"
    add_reorder_policy: Final = "SELECT add_reorder_policy(%s::regclass, %s, if_not_exists => true)"
    # Every chunk of these hypertables with its identity index (device_id, ts DESC, ...).
    _identity_indexes: Final = """
        FROM timescaledb_information.chunks ch
        JOIN pg_index x ON x.indrelid = format('%%I.%%I', ch.chunk_schema, ch.chunk_name)::regclass
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE ch.hypertable_name = ANY(%(tables)s) AND i.relname LIKE '%%identity'"""
    # Those closed for `after` and not yet ordered by it, newest first: the days people look at most.
    unordered_chunks: Final = f"""
        SELECT ch.chunk_schema, ch.chunk_name, i.relname {_identity_indexes}
          AND NOT x.indisclustered AND ch.range_end <= now() - %(after)s::interval
        ORDER BY ch.range_end DESC LIMIT %(limit)s"""
    ordered_share: Final = f"SELECT coalesce(avg(x.indisclustered::int), 0)::float8 {_identity_indexes}"
    lock_timeout: Final = "SET LOCAL lock_timeout = '5s'"
    cluster: Final = "CLUSTER {chunk} USING {index}"


class STATS:
    """What the demo and operators glance at: rows ingested lately per table (of data from the
    last two days: the time bound lets TimescaleDB skip older chunks) and rejects by reason."""

    table_recent: Final = """
        SELECT {name}::text, count(*), max(ingested_at) FROM {table}
        WHERE ingested_at > now() - %(window)s::interval
          AND ts > now() - %(window)s::interval - INTERVAL '2 days'"""
    window_seconds: Final = "SELECT extract(epoch FROM %(window)s::interval)::float8"
    rejects_recent: Final = """
        SELECT reason, count(*) FROM ingest_rejects
        WHERE received_at > now() - %(window)s::interval GROUP BY reason ORDER BY 2 DESC"""
