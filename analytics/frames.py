"""Device rows as pandas frames with the hypertables' columns (one per table)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analytics.rules import Frames
from core.db.tables import DEVICE_TABLES

COLUMNS = {t.name: t.columns for t in DEVICE_TABLES.values()}


def frames(rows: Iterable[tuple[str, tuple[Any, ...]]]) -> Frames:
    """(table, row in the table's column order) pairs to one frame per table, ts as UTC."""
    by_table: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for table, row in rows:
        by_table[table].append(row)
    out: Frames = {}
    for table, found in by_table.items():
        df = pd.DataFrame.from_records(found, columns=list(COLUMNS[table]))
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
        out[table] = df
    return out
