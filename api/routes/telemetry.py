"""Device data: latest state, series at a chosen bucket, CSV export."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from api.deps import AConnDep, ConnDep, SettingsDep, TelemetryReader
from api.errors import ERROR_RESPONSES, Invalid
from api.models import Instant, Latest, PathId, Series
from api.routing import StrictQueryRoute
from api.service import devices, telemetry
from core.contract.topics import Kind

router = APIRouter(route_class=StrictQueryRoute, prefix="/v1", tags=["telemetry"], responses=ERROR_RESPONSES)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Start = Annotated[
    Instant, Query(description="inclusive, RFC 3339 with offset", examples=["2026-11-01T00:00:00Z"])
]
End = Annotated[Instant, Query(description="exclusive", examples=["2026-11-02T00:00:00Z"])]


@router.get("/devices/{device_id}/latest", response_model=Latest)
async def latest(device_id: PathId, conn: AConnDep, who: TelemetryReader) -> dict[str, Any]:
    """The device's newest telemetry values and online/offline status."""
    return await telemetry.latest(conn, who, id=device_id)


@router.get("/communities/{community_id}/latest", response_model=list[Latest])
def community_latest(
    community_id: PathId, kind: Kind, conn: ConnDep, who: TelemetryReader
) -> list[dict[str, Any]]:
    """The newest telemetry of every active device of a kind in a community."""
    return telemetry.community_latest(conn, who, id=community_id, kind=kind)


@router.get("/devices/{device_id}/series", response_model=Series)
async def series(
    device_id: PathId,
    conn: AConnDep,
    who: TelemetryReader,
    settings: SettingsDep,
    field: Annotated[str, Query(pattern=r"^[a-z_]{1,40}$", examples=["power_kw"])],
    start: Start,
    end: End,
    bucket: Annotated[
        str, Query(pattern=r"^[1-9][0-9]{0,4}[smhd]$", description="e.g. 1m, 15m, 1h, 1d")
    ] = "1m",
    agg: Literal["avg", "min", "max", "sum", "count"] = "avg",
) -> Response:
    """One telemetry field in `time_bucket` buckets over [start, end); at most YIJU_API_SERIES_MAX_POINTS."""
    width = timedelta(seconds=int(bucket[:-1]) * _UNITS[bucket[-1]])
    if width > timedelta(days=366):
        raise Invalid("bucket must be at most 366 days")
    body = await telemetry.series(
        conn,
        who,
        id=device_id,
        field=field,
        start=start,
        end=end,
        bucket=width,
        agg=agg,
        max_points=settings.api_series_max_points,
    )
    # Up to thousands of points, already JSON (the shape is `Series`): no model in between.
    return Response(body, media_type="application/json")


@router.get(
    "/devices/{device_id}/telemetry.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "raw rows, oldest first"}},
)
def export(
    device_id: PathId, start: Start, end: End, conn: ConnDep, who: TelemetryReader
) -> StreamingResponse:
    """Every telemetry row of the device in [start, end) as CSV, streamed (any length of range)."""
    if end <= start:
        raise Invalid("end must be after start")
    device = devices.get_device(conn, who, id=device_id)
    rows = telemetry.export_csv(conn, device=device, start=start, end=end)
    headers = {"Content-Disposition": f'attachment; filename="{device_id}.csv"'}
    return StreamingResponse(rows, media_type="text/csv", headers=headers)
