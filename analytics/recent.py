"""What the service's slow and learned cycles read: their window's rows, kept in memory and
topped up with the rows stored since.

A cycle asks for the rows of some tables with ts in [since, until). The first time they are read
whole. After that a read asks only for rows stored (`ingested_at`) since the last one, whatever
their ts, plus any in the part of the window not read before; rows older than `since` are
forgotten. A row stored late (a device flushing its buffer, ingest catching up after a restart)
is still seen, as long as its ts is inside the window. Rows stored within `reread` before the last
read are asked for again, since a transaction open at that moment may have stored them with an
earlier `ingested_at` than its commit; those already kept are recognised by their identity
(device, ts, boot, seq) and dropped.

Written here: incremental reading by a column the database stamps is a few lines over psycopg, and
no library we use offers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from psycopg import sql

from analytics.frames import COLUMNS
from analytics.queries import ANALYTICS
from analytics.rules import Frames

IDENTITY = ["device_id", "ts", "boot", "seq"]


@dataclass
class _Kept:
    rows: pd.DataFrame
    since: datetime  # the rows with ts in [since, until) stored before `read_at`
    until: datetime
    read_at: datetime  # the database's clock when they were asked for
    done_at: datetime  # ... and when the answer had come


class Recent:
    """One cycle's window of rows (one per cycle: two cycles' windows differ)."""

    def __init__(self, reread: timedelta) -> None:
        self.reread = reread
        self._kept: dict[str, _Kept] = {}
        self.rows_read = 0  # by the last `frames`

    def frames(
        self, conn: psycopg.Connection, tables: Iterable[str], since: datetime, until: datetime
    ) -> Frames:
        """Rows of `tables` with ts in [since, until), as `service.read` gives them."""
        self.rows_read = 0
        out: Frames = {}
        for table in tables:
            kept = self._top_up(conn, table, since, until)
            rows = kept.rows[(kept.rows["ts"] >= since) & (kept.rows["ts"] < until)]
            if len(rows):
                out[table] = rows.reset_index(drop=True)
        return out

    def _top_up(self, conn: psycopg.Connection, table: str, since: datetime, until: datetime) -> _Kept:
        kept = self._kept.get(table)
        whole = kept is None or since < kept.since or until < kept.until
        if kept is None or whole:  # every row of the window (each has ts >= since)
            read_at, fresh, done_at = self._read(conn, table, since, until, since, until)
        else:  # the rows stored since, and all those beyond what was read before
            stored = kept.read_at - self.reread
            read_at, fresh, done_at = self._read(conn, table, since, until, kept.until, stored)
        self.rows_read += len(fresh)
        if kept is None or whole:
            rows = fresh.drop(columns="ingested_at")
        else:
            old = kept.rows[kept.rows["ts"] >= since]
            maybe_seen = fresh["ingested_at"] < kept.done_at  # stored before the last answer came
            if maybe_seen.any() and len(old):
                lo, hi = fresh.loc[maybe_seen, "ts"].min(), fresh.loc[maybe_seen, "ts"].max()
                near = old[(old["ts"] >= lo) & (old["ts"] <= hi)]
                twice = pd.MultiIndex.from_frame(fresh[IDENTITY]).isin(
                    pd.MultiIndex.from_frame(near[IDENTITY])
                )
                fresh = fresh[~(maybe_seen & twice)]
            fresh = fresh.drop(columns="ingested_at")
            if len(fresh):  # (concatenating an empty frame would lose the columns' types)
                rows = pd.concat([old, fresh]) if len(old) else fresh
                rows = rows.sort_values(["device_id", "ts"], kind="stable", ignore_index=True)
            else:
                rows = old
        kept = self._kept[table] = _Kept(rows, since, until, read_at, done_at)
        return kept

    @staticmethod
    def _read(
        conn: psycopg.Connection, table: str, since: datetime, until: datetime, read_until: datetime,
        stored: datetime,
    ) -> tuple[datetime, pd.DataFrame, datetime]:  # fmt: skip
        columns = list(COLUMNS[table])
        query = sql.SQL(ANALYTICS.rows_stored_since).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)), table=sql.Identifier(table)
        )
        (read_at,) = conn.execute(ANALYTICS.clock).fetchone()  # type: ignore[misc]
        params = {"since": since, "until": until, "read_until": read_until, "stored": stored}
        rows = conn.execute(query, params).fetchall()
        (done_at,) = conn.execute(ANALYTICS.clock).fetchone()  # type: ignore[misc]
        frame = pd.DataFrame.from_records(rows, columns=[*columns, "ingested_at"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True)
        return read_at, frame, done_at
