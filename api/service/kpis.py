"""Operations figures per community and day (local days of YIJU_API_TIMEZONE), from raw device data."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from api.queries import KPIS
from api.security import Principal
from api.service.registry import get_community
from api.service.rows import all_rows, one_row
from core.contract.topics import Channel
from core.db.tables import DEVICE_TABLES

_TELEMETRY = sorted({t.name for (_, channel), t in DEVICE_TABLES.items() if channel is Channel.TELEMETRY})
_DEVICE_HOURS = sql.SQL(KPIS.device_hours).format(
    branches=sql.SQL(" UNION ALL ").join(
        sql.SQL(KPIS.device_hours_branch).format(table=sql.Identifier(name)) for name in _TELEMETRY
    )
)
SEVERITIES = ("critical", "major", "minor", "warning")


def _scalar(conn: psycopg.Connection, query: Any, params: dict[str, Any]) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def period(
    conn: psycopg.Connection,
    *,
    community_id: str,
    start: datetime,
    end: datetime,
    tz: str,
    overdue_hours: int,
) -> dict[str, Any]:
    """The figures of [start, end) for a community (access already checked)."""
    params: dict[str, Any] = {"community": community_id, "start": start, "end": end, "tz": tz}
    params["ids"] = [r[0] for r in conn.execute(KPIS.devices, params).fetchall()]
    params["overdue"] = timedelta(hours=overdue_hours)
    hours = (end - start) / timedelta(hours=1)
    devices = len(params["ids"])
    chargers = one_row(conn, KPIS.chargers, params) or {}
    occupancy = {r["hour"]: r["share"] for r in all_rows(conn, KPIS.occupancy_by_hour, params)}
    elevators = one_row(conn, KPIS.elevators, params) or {}
    alarms = {r["severity"]: r for r in all_rows(conn, KPIS.alarms, params)}
    total = alarms.get(None, {})
    return {
        "community_id": community_id,
        "devices": devices,
        "availability": _scalar(conn, _DEVICE_HOURS, params) / (devices * hours) if devices else None,
        "charger_utilisation": chargers.get("utilisation"),
        "charger_energy_kwh": chargers.get("energy_kwh"),
        "parking_occupancy_by_hour": [occupancy.get(h) for h in range(24)],
        "locker_fill": _scalar(conn, KPIS.locker_fill, params),
        "parcels_overdue": _scalar(conn, KPIS.parcels_overdue, params),
        "elevator_trips": elevators.get("trips", 0),
        "elevator_faults": elevators.get("faults", 0),
        "alarms_raised": total.get("raised", 0),
        "alarms_by_severity": {s: alarms[s]["raised"] if s in alarms else 0 for s in SEVERITIES},
        "median_time_to_acknowledge_s": total.get("median_ack_s"),
    }


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """Local midnight to local midnight (23 or 25 hours on a daylight-saving change)."""
    zone = ZoneInfo(tz)
    return datetime.combine(day, time(0), tzinfo=zone), datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=zone
    )


def day_kpis(
    conn: psycopg.Connection, who: Principal, *, community_id: str, day: date, tz: str, overdue_hours: int
) -> dict[str, Any]:
    """The figures of one local day."""
    get_community(conn, who, id=community_id)
    start, end = day_bounds(day, tz)
    figures = period(
        conn, community_id=community_id, start=start, end=end, tz=tz, overdue_hours=overdue_hours
    )
    return {**figures, "day": day}
