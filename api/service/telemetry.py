"""Device data: latest state, bucketed series with a bound on points, CSV export streamed."""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from api.errors import Invalid, NotFound
from api.queries import TELEMETRY, TENANT
from api.security import Principal
from api.service.registry import get_community
from api.service.rows import all_rows, fetch_one
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


_KIND_OF: dict[str, Kind] = {}
"""Device id -> kind, as last seen: picks the table of one-round-trip reads. A kind never
changes, and the reads check it anyway (`device_kind`) and go again on a stale entry."""
_KIND_OF_MAX = 200_000


async def _kind_of(conn: psycopg.AsyncConnection, id: str) -> Kind:
    """The device's kind, remembered (the caller's access is checked by the read that uses it)."""
    kind = _KIND_OF.get(id)
    if kind is None:
        row = await fetch_one(conn, TELEMETRY.kind, (id,))
        if row is None:
            raise NotFound(f"device {id!r} not found")
        if len(_KIND_OF) >= _KIND_OF_MAX:
            _KIND_OF.clear()
        kind = _KIND_OF[id] = Kind(row["kind"])
    return kind


async def _read_device(
    conn: psycopg.AsyncConnection,
    who: Principal,
    id: str,
    compose: Callable[[Kind], sql.Composed],
    params: dict[str, Any],
) -> tuple[Kind, dict[str, Any]]:
    """Run one of the one-round-trip reads for the device's kind: (kind, row); NotFound when the
    caller does not see the device."""
    for _ in range(2):
        kind = await _kind_of(conn, id)
        row = await fetch_one(conn, compose(kind), {**params, "id": id, "tenant": who.tenant})
        if row is None:
            raise NotFound(f"device {id!r} not found")
        if row["device_kind"] == kind:
            return kind, row
        _KIND_OF.pop(id, None)  # the id now names a device of another kind
    raise NotFound(f"device {id!r} not found")


@functools.cache
def _latest_query(kind: Kind) -> sql.Composed:
    table = _table(kind)
    return sql.SQL(TELEMETRY.latest).format(
        columns=_columns(table.columns), table=sql.Identifier(table.name), tenant=TENANT
    )


async def latest(conn: psycopg.AsyncConnection, who: Principal, *, id: str) -> dict[str, Any]:
    """A device's newest telemetry and status."""
    kind, row = await _read_device(conn, who, id, _latest_query, {})
    status = None
    if row["status_ts"] is not None:
        status = {"ts": row["status_ts"], "state": row["status_state"], "firmware": row["status_firmware"]}
    newest = {k: v for k, v in row.items() if k in _table(kind).columns} if row["ts"] is not None else None
    return _latest_of(id, kind.value, newest, status)


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


async def series(
    conn: psycopg.AsyncConnection,
    who: Principal,
    *,
    id: str,
    field: str,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    agg: str,
    max_points: int,
) -> bytes:
    """One field of a device's telemetry in time buckets over [start, end): `Series` as JSON."""
    if end <= start:
        raise Invalid("end must be after start")
    buckets = math.ceil((end - start) / bucket)
    if buckets > max_points:
        raise Invalid(
            f"{buckets} buckets requested, at most {max_points}: widen the bucket or shorten the range"
        )

    def compose(kind: Kind) -> sql.Composed:
        # A field the kind lacks reads NULL and is refused below, once the caller is known to
        # see the device (refusing it first would tell another company's device kind).
        return _series_query(kind, field if field in SERIES_FIELDS[kind] else None, agg)

    params = {"bucket": bucket, "start": start, "end": end}
    kind, row = await _read_device(conn, who, id, compose, params)
    if field not in SERIES_FIELDS[kind]:
        choices = ", ".join(SERIES_FIELDS[kind]) or "none"
        raise Invalid(f"field {field!r} has no series for kind {kind.value}; one of: {choices}")
    return msgspec.json.encode(
        {
            "device_id": id,
            "field": field,
            "agg": agg,
            "bucket_s": int(bucket.total_seconds()),
            "points": msgspec.Raw(row["points"].encode()),
        }
    )


@functools.cache
def _series_query(kind: Kind, field: str | None, agg: str) -> sql.Composed:
    """The series read of one of the kind's fields (None: a NULL column); `agg` is one of
    AGGREGATES, checked by the route's model, so the cache stays small."""
    value: sql.Composable = sql.SQL("NULL::float8") if field is None else sql.Identifier("x", field)
    if field is not None and SERIES_FIELDS[kind][field]:
        value = sql.SQL("{}::int").format(value)
    return sql.SQL(TELEMETRY.series).format(
        agg=sql.SQL(agg), value=value, table=sql.Identifier(_table(kind).name), tenant=TENANT
    )


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
