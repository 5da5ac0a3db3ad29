"""Replay a recorded series (`timestamp,value` or mapped columns) as one device's telemetry.

Each row becomes one telemetry message of the device's kind: the mapped columns set fields, the
rest keep a plausible idle value, and the result is validated by the contract like any message.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from core.contract.payloads import PAYLOADS, Envelope, members
from core.contract.topics import TS_MAX_PAST_DAYS, Channel, Kind
from simulators.behaviour.base import Emission
from simulators.messages import MessageFactory

# the field a bare `value` column drives, per kind
DEFAULT_FIELD: dict[Kind, str] = {
    Kind.EV_CHARGER: "power_kw",
    Kind.PARKING_SPACE: "occupied",
    Kind.PARKING_GATE: "barrier",
    Kind.PARCEL_LOCKER: "compartments_occupied",
    Kind.ELEVATOR: "vibration_rms",
}


class ReplayError(ValueError):
    """A series that cannot be replayed; the message names the file, line and column."""


@dataclass(frozen=True)
class Series:
    """The rows of a CSV file, mapped onto a kind's telemetry fields."""

    path: Path
    kind: Kind
    time_column: str
    columns: Mapping[str, str]  # CSV column -> telemetry field


def parse_mapping(kind: Kind, items: list[str]) -> dict[str, str]:
    """`column=field` options (default: the kind's field for a `value` column), checked."""
    fields = _telemetry_type(kind).__struct_fields__
    mapping = dict(item.split("=", 1) for item in items if "=" in item)
    if len(mapping) != len(items):
        raise ReplayError("a column mapping is written column=field, e.g. value=power_kw")
    mapping = mapping or {"value": DEFAULT_FIELD[kind]}
    unknown = sorted(set(mapping.values()) - set(fields) | set(mapping.values()) & {"ts", "seq", "boot"})
    if unknown:
        settable = ", ".join(f for f in fields if f not in ("ts", "seq", "boot"))
        raise ReplayError(f"{kind} telemetry has no settable field {unknown[0]!r}; fields: {settable}")
    return mapping


def rows(series: Series) -> Iterator[tuple[int, datetime, dict[str, Any]]]:
    """(line, timestamp, field values) per row, in file order."""
    try:
        f = series.path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise ReplayError(f"{series.path}: {error.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        for column in (series.time_column, *series.columns):
            if column not in header:
                raise ReplayError(f"{series.path}: no column {column!r} (columns: {', '.join(header)})")
        for line, row in enumerate(reader, start=2):
            yield (
                line,
                _timestamp(series.path, line, row[series.time_column]),
                {field: row[column] for column, field in series.columns.items()},
            )


def messages(
    series: Series, device_id: str, *, shift_to: datetime | None, errors: list[str]
) -> Iterator[Emission]:
    """The series as telemetry of the device; a row the contract refuses is listed in `errors`."""
    loaded = list(rows(series))
    if not loaded:
        raise ReplayError(f"{series.path}: no rows")
    shift = shift_to - max(ts for _, ts, _ in loaded) if shift_to else timedelta(0)
    oldest = min(ts for _, ts, _ in loaded) + shift
    if oldest < datetime.now(UTC) - timedelta(days=TS_MAX_PAST_DAYS):
        raise ReplayError(
            f"{series.path}: rows from {oldest:%Y-%m-%d} are older than ingest accepts "
            f"({TS_MAX_PAST_DAYS} days); replay with --shift-to-now"
        )
    struct = _telemetry_type(series.kind)
    base = msgspec.to_builtins(MessageFactory(series.kind, seed=0).telemetry(oldest))
    for seq, (line, ts, values) in enumerate(loaded):
        fields = base | values | {"ts": (ts + shift).isoformat(), "seq": seq, "boot": 0}
        try:
            payload = msgspec.convert(fields, struct, strict=False)
        except msgspec.ValidationError as error:
            errors.append(f"{series.path}:{line}: {error}")
            continue
        yield Emission(ts + shift, device_id, series.kind, Channel.TELEMETRY, payload)


def _telemetry_type(kind: Kind) -> type[Envelope]:
    return members(PAYLOADS[(kind, Channel.TELEMETRY)])[0]


def _timestamp(path: Path, line: int, text: str) -> datetime:
    """ISO 8601 (naive means UTC, as in the Numenta Anomaly Benchmark) or unix seconds."""
    try:
        ts = datetime.fromtimestamp(float(text), UTC) if text.replace(".", "", 1).isdigit() else None
        ts = ts or datetime.fromisoformat(text)
    except ValueError:
        raise ReplayError(f"{path}:{line}: {text!r} is neither ISO 8601 nor unix seconds") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
