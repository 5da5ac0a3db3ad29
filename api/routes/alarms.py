"""Alarms: list and filter, acknowledge, clear."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import AlarmReader, AlarmWriter, ConnDep
from api.errors import ERROR_RESPONSES
from api.models import Alarm, AlarmStatus, Instant, Page, QueryId, Severity
from api.pagination import Cursor, Limit
from api.routing import StrictQueryRoute
from api.service import alarms
from core.contract.topics import Kind

router = APIRouter(
    route_class=StrictQueryRoute, prefix="/v1/alarms", tags=["alarms"], responses=ERROR_RESPONSES
)

AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=Page[Alarm])
def list_(
    conn: ConnDep,
    who: AlarmReader,
    community_id: QueryId = None,
    device_id: QueryId = None,
    kind: Kind | None = None,
    type: Annotated[str | None, Query(pattern=r"^[a-z0-9_:-]{1,64}$", examples=["entrapment"])] = None,
    severity: Severity | None = None,
    status: AlarmStatus | None = None,
    since: Annotated[Instant | None, Query(description="alarms still seen at or after")] = None,
    until: Annotated[Instant | None, Query(description="alarms first seen before")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The caller's alarms, newest first."""
    filters = {
        "community": community_id,
        "device": device_id,
        "kind": kind.value if kind else None,
        "type": type,
        "severity": severity,
        "status": status,
        "since": since,
        "until": until,
    }
    items, next_cursor = alarms.list_alarms(conn, who, filters=filters, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{alarm_id}", response_model=Alarm)
def get(alarm_id: AlarmId, conn: ConnDep, who: AlarmReader) -> dict[str, Any]:
    """One alarm."""
    return alarms.get_alarm(conn, who, id=alarm_id)


@router.post("/{alarm_id}/acknowledge", response_model=Alarm)
def acknowledge(alarm_id: AlarmId, conn: ConnDep, who: AlarmWriter) -> dict[str, Any]:
    """Mark an active, unacknowledged alarm as seen; 409 in any other status."""
    return alarms.acknowledge(conn, who, id=alarm_id)


@router.post("/{alarm_id}/clear", response_model=Alarm)
def clear(alarm_id: AlarmId, conn: ConnDep, who: AlarmWriter) -> dict[str, Any]:
    """Resolve an open alarm; 409 when it is already cleared."""
    return alarms.clear(conn, who, id=alarm_id)
