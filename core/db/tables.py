"""Where each (kind, channel) is stored, derived from the contract so the two cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import msgspec

from core.contract.payloads import PAYLOADS, Envelope, event_name, members
from core.contract.topics import Channel, Kind

Row = tuple[Any, ...]


@dataclass(frozen=True)
class DeviceTable:
    """A hypertable of device data and how to turn a payload into one of its rows."""

    name: str
    columns: tuple[str, ...]
    _row_makers: dict[type, Callable[[str, Envelope], Row]] = field(repr=False)

    def row(self, device_id: str, payload: Envelope) -> Row:
        """The row for one decoded payload, in `columns` order."""
        return self._row_makers[type(payload)](device_id, payload)


def _table_name(kind: Kind, channel: Channel) -> str:
    if channel is Channel.STATUS:
        return "device_status"
    return f"{kind}_{'events' if channel is Channel.EVENT else 'telemetry'}"


def _row_maker(struct: type[Envelope], columns: tuple[str, ...]) -> Callable[[str, Envelope], Row]:
    fields = struct.__struct_fields__
    tag = event_name(struct)
    ts_at = fields.index("ts")
    # Per column after (device_id, ts): position in the struct's tuple, -1 for the event tag,
    # None when the struct has no such field.
    plan = [-1 if n == "event" else (fields.index(n) if n in fields else None) for n in columns[2:]]

    def make(device_id: str, payload: Envelope) -> Row:
        values = msgspec.structs.astuple(payload)
        # UTC in storage; PostgreSQL also refuses offsets beyond ±15:59 that RFC 3339 allows.
        ts = values[ts_at].astimezone(UTC)
        return (device_id, ts, *[tag if i == -1 else None if i is None else values[i] for i in plan])

    return make


def _build() -> dict[tuple[Kind, Channel], DeviceTable]:
    tables: dict[tuple[Kind, Channel], DeviceTable] = {}
    for (kind, channel), payload_type in PAYLOADS.items():
        structs = members(payload_type)
        columns: list[str] = ["device_id", "ts", "boot", "seq"]
        if channel is Channel.EVENT:
            columns.append("event")
        for struct in structs:
            columns += [name for name in struct.__struct_fields__ if name not in columns]
        cols = tuple(columns)
        tables[(kind, channel)] = DeviceTable(
            _table_name(kind, channel), cols, {s: _row_maker(s, cols) for s in structs}
        )
    return tables


DEVICE_TABLES = _build()
"""(kind, channel) -> the hypertable it lands in."""

TELEMETRY_TABLES = sorted({t.name for t in DEVICE_TABLES.values()})
