"""Device data: latest state, bucketed series with a bound on points, CSV export streamed."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from api.errors import Invalid
from api.queries import TELEMETRY
from api.security import Principal
from api.service.devices import get_device
from api.service.registry import get_community
from api.service.rows import all_rows, one_row
from core.contract.payloads import PAYLOADS
from core.contract.topics import Channel, Kind
from core.db.tables import DEVICE_TABLES, DeviceTable

AGGREGATES = ("avg", "min", "max", "sum", "count")
_NOT_VALUES = ("device_id", "ts", "boot", "seq")
_EXPORT_BATCH = 1000
_NUMBERS = (msgspec.inspect.IntType, msgspec.inspect.FloatType, msgspec.inspect.BoolType)


def _numeric_fields(kind: Kind) -> dict[str, bool]:
    """Telemetry fields a series can be drawn of (name -> is boolean), from the contract."""
    fields: dict[str, bool] = {}
    for field in msgspec.inspect.type_info(PAYLOADS[(kind, Channel.TELEMETRY)]).fields:  # type: ignore[attr-defined]
        kind_of = field.type.type if isinstance(field.type, msgspec.inspect.Metadata) else field.type
        members = kind_of.types if isinstance(kind_of, msgspec.inspect.UnionType) else (kind_of,)
        for member in members:
            if isinstance(member, _NUMBERS) and field.name not in _NOT_VALUES:
                fields[field.name] = isinstance(member, msgspec.inspect.BoolType)
    return fields


SERIES_FIELDS = {kind: _numeric_fields(kind) for kind in Kind}
"""Per kind, the fields `series` accepts."""


def _table(kind: str) -> DeviceTable:
    return DEVICE_TABLES[(Kind(kind), Channel.TELEMETRY)]


def _columns(names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _latest_of(
    device_id: str, kind: str, row: dict[str, Any] | None, status: dict[str, Any] | None
) -> dict[str, Any]:
    values = {k: v for k, v in (row or {}).items() if k not in _NOT_VALUES}
    return {"device_id": device_id, "kind": kind, "ts": row and row["ts"], "values": values, "status": status}


def latest(conn: psycopg.Connection, who: Principal, *, id: str) -> dict[str, Any]:
    """A device's newest telemetry and status."""
    device = get_device(conn, who, id=id)
    table = _table(device["kind"])
    query = sql.SQL(TELEMETRY.latest).format(
        columns=_columns(table.columns), table=sql.Identifier(table.name)
    )
    row = one_row(conn, query, (id,))
    status = one_row(conn, TELEMETRY.latest_status, (id,))
    return _latest_of(id, device["kind"], row, status)


def community_latest(
    conn: psycopg.Connection, who: Principal, *, id: str, kind: Kind
) -> list[dict[str, Any]]:
    """The newest telemetry of each active device of one kind in a community (if it has any)."""
    get_community(conn, who, id=id)
    table = _table(kind)
    query = sql.SQL(TELEMETRY.community_latest).format(
        columns=_columns(table.columns[1:]), table=sql.Identifier(table.name)
    )
    rows = all_rows(conn, query, (id, kind.value))
    return [_latest_of(r["device_id"], kind.value, r, None) for r in rows]


def series(
    conn: psycopg.Connection,
    who: Principal,
    *,
    id: str,
    field: str,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    agg: str,
    max_points: int,
) -> dict[str, Any]:
    """One field of a device's telemetry in time buckets over [start, end)."""
    if end <= start:
        raise Invalid("end must be after start")
    buckets = math.ceil((end - start) / bucket)
    if buckets > max_points:
        raise Invalid(
            f"{buckets} buckets requested, at most {max_points}: widen the bucket or shorten the range"
        )
    device = get_device(conn, who, id=id)
    fields = SERIES_FIELDS[Kind(device["kind"])]
    if field not in fields:
        choices = ", ".join(fields) or "none"
        raise Invalid(f"field {field!r} has no series for kind {device['kind']}; one of: {choices}")
    value: sql.Composable = sql.Identifier(field)
    if fields[field]:
        value = sql.SQL("{}::int").format(value)
    table = _table(device["kind"])
    query = sql.SQL(TELEMETRY.series).format(
        agg=sql.SQL(agg),  # one of AGGREGATES, checked by the route's model
        value=value,
        table=sql.Identifier(table.name),
    )
    params = {"bucket": bucket, "device": id, "start": start, "end": end}
    points = all_rows(conn, query, params)
    return {
        "device_id": id,
        "field": field,
        "agg": agg,
        "bucket_s": int(bucket.total_seconds()),
        "points": points,
    }


def export_csv(
    conn: psycopg.Connection, *, device: dict[str, Any], start: datetime, end: datetime
) -> Iterator[str]:
    """A device's raw telemetry rows as CSV, read and sent in batches (for ranges of any length)."""
    table = _table(device["kind"])
    query = sql.SQL(TELEMETRY.export).format(
        columns=_columns(table.columns), table=sql.Identifier(table.name)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    # The request's own connection: FastAPI keeps it until the response has been sent.
    rows = conn.cursor().stream(query, (device["id"], start, end), size=_EXPORT_BATCH)
    for n, row in enumerate(rows, 1):
        writer.writerow([v.isoformat() if isinstance(v, datetime) else v for v in row])
        if n % _EXPORT_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
