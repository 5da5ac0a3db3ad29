"""KPIs per community and day, and the monthly operations bulletin (月通报)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from api import report
from api.deps import ConnDep, KpiReader, SettingsDep
from api.errors import ERROR_RESPONSES
from api.models import DayKpis, PathId
from api.routing import StrictQueryRoute
from api.service import kpis

router = APIRouter(
    route_class=StrictQueryRoute, prefix="/v1/communities", tags=["kpis"], responses=ERROR_RESPONSES
)


@router.get("/{community_id}/kpis", response_model=DayKpis)
def day(
    community_id: PathId,
    conn: ConnDep,
    who: KpiReader,
    settings: SettingsDep,
    day: Annotated[date, Query(description="local day (YIJU_API_TIMEZONE)", examples=["2026-11-01"])],
) -> dict[str, Any]:
    """Availability, chargers, parking occupancy by hour, lockers, elevators and alarms for one day."""
    return kpis.day_kpis(
        conn,
        who,
        community_id=community_id,
        day=day,
        tz=settings.api_timezone,
        overdue_hours=settings.api_parcel_overdue_hours,
    )


# No response_class: with HTMLResponse there, FastAPI would document the JSON errors as HTML too.
@router.get(
    "/{community_id}/reports/{month}",
    responses={200: {"content": {"text/html": {}}, "description": "the bulletin, charts embedded"}},
)
def monthly_report(
    community_id: PathId,
    month: Annotated[str, Path(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    conn: ConnDep,
    who: KpiReader,
    settings: SettingsDep,
) -> HTMLResponse:
    """The monthly operations bulletin (月通报): the month's KPIs and charts as one HTML page."""
    first = date.fromisoformat(f"{month}-01")
    figures = report.gather(
        conn,
        who,
        community_id=community_id,
        month=first,
        tz=settings.api_timezone,
        overdue_hours=settings.api_parcel_overdue_hours,
    )
    return HTMLResponse(report.render(figures))
