"""Reading one stream's rows back from the hypertables, and removing a run's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from bench.queries import BENCH
from core.db.tables import DEVICE_TABLES

TABLES = sorted({t.name for t in DEVICE_TABLES.values()})


@dataclass(frozen=True)
class StreamKey:
    """The rows of one stream: the run's devices, the stream's boot number, written after `since`."""

    ids: list[str]
    boot: int
    since: datetime

    def params(self) -> dict[str, object]:
        return {"ids": self.ids, "boot": self.boot, "since": self.since}


@dataclass(frozen=True)
class Verified:
    """Stored rows against the (device, seq) pairs the broker acknowledged."""

    expected: int
    rows: int
    distinct: int
    found: int  # distinct rows that match an expected (device, seq)

    @property
    def lost(self) -> int:
        return self.expected - self.found

    @property
    def duplicates(self) -> int:
        return self.rows - self.distinct

    @property
    def unexpected(self) -> int:
        return self.distinct - self.found


def _stream_rows() -> sql.Composable:
    return sql.SQL(" UNION ALL ").join(
        sql.SQL(BENCH.stream_rows).format(table=sql.Identifier(t)) for t in TABLES
    )


def progress(conn: psycopg.Connection, key: StreamKey) -> tuple[int, datetime | None]:
    """Rows stored so far and the latest `ingested_at` among them."""
    row = conn.execute(sql.SQL(BENCH.progress).format(rows=_stream_rows()), key.params()).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def verify(conn: psycopg.Connection, key: StreamKey, counts: dict[str, int]) -> Verified:
    """Count lost, duplicated and unexpected rows of a stream whose devices sent seq 1..n."""
    params = key.params() | {"counts": [counts.get(i, 0) for i in key.ids]}
    row = conn.execute(sql.SQL(BENCH.verify).format(rows=_stream_rows()), params).fetchone()
    assert row is not None
    return Verified(sum(counts.values()), int(row[0]), int(row[1]), int(row[2]))


def latencies_ms(conn: psycopg.Connection, key: StreamKey) -> list[float]:
    """Per row: publish time (`ts`) to `ingested_at` (clock_timestamp() at insert), in ms."""
    query = sql.SQL(BENCH.latencies_ms).format(rows=_stream_rows())
    return [float(r[0]) for r in conn.execute(query, key.params())]


def rejects(conn: psycopg.Connection, *, community_id: str, since: datetime) -> int:
    """Messages of the community that ingest set aside since `since`."""
    row = conn.execute(BENCH.rejects, (f"community/{community_id}/%", since)).fetchone()
    return int(row[0]) if row else 0


def insert_statements() -> dict[str, sql.Composed]:
    """One single-row INSERT ... ON CONFLICT DO NOTHING per device table (the naive baseline)."""
    statements = {}
    for table in {t.name: t for t in DEVICE_TABLES.values()}.values():
        statements[table.name] = sql.SQL(BENCH.insert_row).format(
            table=sql.Identifier(table.name),
            columns=sql.SQL(", ").join(map(sql.Identifier, table.columns)),
            values=sql.SQL(", ").join(sql.Placeholder() * len(table.columns)),
        )
    return statements


def bench_communities(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(BENCH.bench_communities)]


def device_ids(conn: psycopg.Connection, *, community_id: str) -> list[str]:
    return [r[0] for r in conn.execute(BENCH.device_ids, (community_id,))]


def delete_run(conn: psycopg.Connection, *, community_id: str, device_ids: list[str]) -> None:
    """Remove the run's rows, rejects (its own, and its workers'), devices and community."""
    for table in TABLES:
        conn.execute(sql.SQL(BENCH.delete_rows).format(table=sql.Identifier(table)), (device_ids,))
    conn.execute(BENCH.delete_rejects, (f"community/{community_id}/%", f"{community_id}-%"))
    conn.execute(BENCH.delete_devices, (community_id,))
    conn.execute(BENCH.delete_community, (community_id,))
