"""The ground truth of a run: a CSV file (always) and the `fault_labels` table (when asked)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import psycopg

from simulators.behaviour.base import FaultLabel
from simulators.queries import SIMULATORS

COLUMNS = ("device_id", "kind", "fault_type", "start", "end", "silent", "detail")


def write_csv(path: Path, labels: Sequence[FaultLabel]) -> None:
    """One row per fault; times in RFC 3339 UTC, an empty end for a fault still going on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for lb in labels:
            out.writerow(
                (
                    lb.device_id,
                    lb.kind.value,
                    lb.fault_type,
                    _iso(lb.start),
                    _iso(lb.end),
                    lb.silent,
                    lb.detail,
                )
            )


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a labels file, as written."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def store(conn: psycopg.Connection, run_id: str, labels: Sequence[FaultLabel]) -> int:
    """Replace the run's labels in `fault_labels`; returns how many were written."""
    with conn.transaction():
        conn.execute(SIMULATORS.delete_labels, (run_id,))
        with conn.cursor().copy(SIMULATORS.copy_labels) as copy:
            for lb in labels:
                copy.write_row(
                    (
                        run_id,
                        lb.device_id,
                        lb.kind.value,
                        lb.fault_type,
                        lb.start,
                        lb.end,
                        lb.silent,
                        lb.detail,
                    )
                )
    return len(labels)


def _iso(ts: datetime | None) -> str:
    return "" if ts is None else ts.isoformat().replace("+00:00", "Z")
