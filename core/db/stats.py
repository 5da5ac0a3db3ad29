"""Recent ingest activity: rows per device table and rejects by reason."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from core.db.queries import STATS
from core.db.tables import TELEMETRY_TABLES


def recent_rows(
    conn: psycopg.Connection, window: str = "10 minutes"
) -> list[tuple[str, int, datetime | None]]:
    """(table, rows ingested in the window, last ingested_at) for every device table."""
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL(STATS.table_recent).format(name=sql.Literal(t), table=sql.Identifier(t))
        for t in TELEMETRY_TABLES
    )
    return [(r[0], r[1], r[2]) for r in conn.execute(query, {"window": window}).fetchall()]


def recent_rejects(conn: psycopg.Connection, window: str = "10 minutes") -> list[tuple[str, int]]:
    """(reason, count) of messages rejected in the window."""
    return [(r[0], r[1]) for r in conn.execute(STATS.rejects_recent, {"window": window}).fetchall()]


def window_seconds(conn: psycopg.Connection, window: str) -> float:
    """The length of a PostgreSQL interval, in seconds."""
    row = conn.execute(STATS.window_seconds, {"window": window}).fetchone()
    return float(row[0]) if row else 0.0
