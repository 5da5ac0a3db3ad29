"""Writes a sorted batch in one transaction with few round trips: one COPY of every row into a
staging table, one multi-statement execute of the idempotent inserts, one COPY of rejects.

Round trips matter twice here: each costs a network wait, and the writer thread must win the
GIL back from the MQTT thread after each one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
from psycopg import sql

from core.db.rollups import BY_SOURCE
from core.db.tables import DEVICE_TABLES
from ingest.models import Batch, Written
from ingest.queries import INGEST

_TABLES = {t.name: t.columns for t in DEVICE_TABLES.values()}
# The staging table holds every device table's columns, plus which table a row is for.
STAGE_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for cols in _TABLES.values() for c in cols))
_POSITIONS = {name: [STAGE_COLUMNS.index(c) for c in cols] for name, cols in _TABLES.items()}
# Composed once: the statements are the same for every batch.
_COPY_STAGE = sql.SQL(INGEST.copy_stage).format(
    columns=sql.SQL(", ").join(map(sql.Identifier, ("target", *STAGE_COLUMNS)))
)
_INSERTS = {
    table: sql.SQL(INGEST.insert_from_stage).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        target=sql.Literal(table),
    )
    for table, columns in _TABLES.items()
}


def _stage_types(conn: psycopg.Connection) -> dict[str, str]:
    """Each staged column's type, read from the hypertables (and checked to agree)."""
    types: dict[str, str] = {}
    for table in _TABLES:
        for name, type_ in conn.execute(INGEST.column_types, (table,)).fetchall():
            if name in STAGE_COLUMNS and types.setdefault(name, type_) != type_:
                raise RuntimeError(f"column {name} is {types[name]} and {type_} in different device tables")
    return types


def prepare_connection(conn: psycopg.Connection) -> None:
    """Create this connection's staging table (pool `configure` hook)."""
    types = _stage_types(conn)
    columns = sql.SQL(", ").join(
        [sql.SQL("target text NOT NULL")]
        + [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in STAGE_COLUMNS]
    )  # types come from pg_catalog's format_type, not from input
    conn.execute(sql.SQL(INGEST.create_stage).format(columns=columns))
    conn.commit()


def _staged(table: str, row: tuple[Any, ...]) -> list[Any]:
    staged: list[Any] = [None] * (len(STAGE_COLUMNS) + 1)
    staged[0] = table
    for position, value in zip(_POSITIONS[table], row, strict=True):
        staged[position + 1] = value
    return staged


def _inserts(batch: Batch, track_rollups: bool) -> tuple[sql.Composed, list[str]]:
    tables = list(batch.tables)
    statements: list[sql.Composable] = [_INSERTS[table] for table in tables]
    if track_rollups:
        ranges = [
            (table, min(r[1] for r in rows), max(r[1] for r in rows))  # r[1] is ts
            for table, rows in batch.tables.items()
            if table in BY_SOURCE
        ]
        if ranges:
            values = sql.SQL(", ").join(
                sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Literal, r))) for r in ranges
            )
            statements.append(sql.SQL(INGEST.invalidate).format(values=values))
    return sql.SQL("; ").join(statements), tables


def write(conn: psycopg.Connection, batch: Batch, *, track_rollups: bool, worker: str) -> Written:
    """Commit every row and reject of the batch, or nothing; redeliveries add no rows."""
    written: dict[str, int] = {}
    duplicates = 0
    with conn.transaction(), conn.cursor() as cur:
        if batch.tables:
            with cur.copy(_COPY_STAGE) as copy:
                for table, rows in batch.tables.items():
                    for row in rows:
                        copy.write_row(_staged(table, row))
            statement, tables = _inserts(batch, track_rollups)
            cur.execute(statement)  # one round trip; each statement's result read in turn
            for table in tables:
                written[table] = cur.rowcount
                duplicates += len(batch.tables[table]) - cur.rowcount
                cur.nextset()
        if batch.rejects:
            with cur.copy(INGEST.copy_rejects) as copy:
                for r in batch.rejects:
                    copy.write_row(
                        (r.received_at, r.topic, r.reason, r.detail, r.payload, r.payload_size, worker)
                    )
    return Written(written, duplicates, dict(Counter(r.reason for r in batch.rejects)))
