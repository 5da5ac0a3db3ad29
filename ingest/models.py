"""What travels through ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Inbound:
    """One MQTT message as received, before validation."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float  # unix time
    session: int  # broker connection it arrived on: acks go only to the current one


@dataclass(slots=True)
class Reject:
    """A message that will not be stored as data, and why."""

    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload: bytes
    payload_size: int


@dataclass(slots=True)
class Batch:
    """A batch sorted into rows per table and rejects; written in one transaction."""

    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Queue a row for `table` (in the table's `DeviceTable.columns` order)."""
        self.tables.setdefault(table, []).append(row)


@dataclass(frozen=True, slots=True)
class Written:
    """What one committed batch changed."""

    rows: dict[str, int]
    duplicates: int
    rejects: dict[str, int]
