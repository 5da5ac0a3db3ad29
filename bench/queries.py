"""SQL of the benchmark, parameterised; table names are composed with psycopg.sql in store.py."""

from __future__ import annotations

from typing import Final


class BENCH:
    """One stream's rows (a run's devices under one boot number), per-message inserts, clean-up."""

    stream_rows: Final = """
        SELECT device_id, seq, ts, ingested_at FROM {table}
        WHERE device_id = ANY(%(ids)s) AND boot = %(boot)s AND ts >= %(since)s"""
    progress: Final = "SELECT count(*), max(ingested_at) FROM ({rows}) AS r"
    verify: Final = """
        WITH expected AS (
            SELECT * FROM unnest(%(ids)s::text[], %(counts)s::bigint[]) AS e (device_id, n)
        )
        SELECT count(*),
               count(DISTINCT (r.device_id, r.seq)),
               count(DISTINCT (r.device_id, r.seq)) FILTER (WHERE r.seq BETWEEN 1 AND e.n)
        FROM ({rows}) AS r LEFT JOIN expected AS e USING (device_id)"""
    latencies_ms: Final = "SELECT extract(epoch FROM r.ingested_at - r.ts) * 1000 FROM ({rows}) AS r"
    rejects: Final = "SELECT count(*) FROM ingest_rejects WHERE topic LIKE %s AND received_at >= %s"
    insert_row: Final = "INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
    bench_communities: Final = "SELECT id FROM communities WHERE id LIKE 'bench-%' ORDER BY id"
    device_ids: Final = "SELECT id FROM devices WHERE community_id = %s ORDER BY id"
    delete_rows: Final = "DELETE FROM {table} WHERE device_id = ANY(%s)"
    # The bench's workers may also have set aside messages of other communities.
    delete_rejects: Final = "DELETE FROM ingest_rejects WHERE topic LIKE %s OR worker LIKE %s"
    delete_devices: Final = "DELETE FROM devices WHERE community_id = %s"
    delete_community: Final = "DELETE FROM communities WHERE id = %s"


class BOOKINGS:
    """A simulated history of bookings, written as the API writes them."""

    insert: Final = """
        INSERT INTO parking_bookings
            (code, community_id, space_id, requester, plate_hash, ev, energy_kwh, accessible, large,
             arrival, departure, occupied, price, status, bound, created_at, checked_in_at, checked_out_at,
             api_key_id, idempotency_key, request_hash)
        VALUES (%(code)s, %(community_id)s, %(space_id)s, %(requester)s, %(plate_hash)s, %(ev)s,
                %(energy_kwh)s, %(accessible)s, %(large)s, %(arrival)s, %(departure)s,
                tstzrange(%(held_from)s, %(held_to)s), %(price)s, %(status)s, %(bound)s, %(created_at)s,
                %(checked_in_at)s, %(checked_out_at)s, %(api_key_id)s, %(idempotency_key)s,
                %(request_hash)s)"""
