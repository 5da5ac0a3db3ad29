"""The monthly operations bulletin (月通报) of a community: HTML with its charts embedded as PNG."""

from __future__ import annotations

import base64
import io
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

import psycopg

from api.security import Principal
from api.service import kpis
from api.service.registry import get_community


def month_days(month: date) -> list[date]:
    """Every day of the month `month` falls in."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


def gather(
    conn: psycopg.Connection, who: Principal, *, community_id: str, month: date, tz: str, overdue_hours: int
) -> dict[str, Any]:
    """The month's figures and each day's, for one of the caller's communities."""
    community = get_community(conn, who, id=community_id)
    days = month_days(month)
    start, _ = kpis.day_bounds(days[0], tz)
    _, end = kpis.day_bounds(days[-1], tz)

    def figures(lo: datetime, hi: datetime) -> dict[str, Any]:
        return kpis.period(
            conn, community_id=community_id, start=lo, end=hi, tz=tz, overdue_hours=overdue_hours
        )

    daily = [{**figures(*kpis.day_bounds(day, tz)), "day": day} for day in days]
    return {"community": community, "month": days[0], "total": figures(start, end), "daily": daily}


def _charts(figures: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    daily = figures["daily"]
    days = [d["day"].day for d in daily]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    availability = [100 * d["availability"] if d["availability"] is not None else float("nan") for d in daily]
    axes[0][0].plot(days, availability, marker="o")
    axes[0][0].set(title="Device availability (%)", xlabel="day", ylim=(0, 105))
    axes[0][1].bar(days, [d["charger_energy_kwh"] or 0 for d in daily], color="tab:green")
    axes[0][1].set(title="Charger energy (kWh)", xlabel="day")
    occupancy = [100 * v if v is not None else 0 for v in figures["total"]["parking_occupancy_by_hour"]]
    axes[1][0].bar(range(24), occupancy, color="tab:orange")
    axes[1][0].set(title="Parking occupancy by hour, month mean (%)", xlabel="hour", ylim=(0, 105))
    axes[1][1].bar(days, [d["elevator_trips"] for d in daily], label="elevator trips", color="tab:blue")
    twin = axes[1][1].twinx()
    twin.plot(days, [d["alarms_raised"] for d in daily], color="tab:red", marker="x", label="alarms")
    axes[1][1].set(title="Elevator trips and alarms", xlabel="day")
    twin.set_ylabel("alarms")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def render(figures: dict[str, Any]) -> str:
    """The bulletin as one self-contained HTML page."""
    community, total = figures["community"], figures["total"]
    month = figures["month"]
    ack = total["median_time_to_acknowledge_s"]
    rows = [
        ("设备数 Devices", str(total["devices"])),
        ("设备在线率 Availability", _pct(total["availability"])),
        ("充电桩利用率 Charger utilisation", _pct(total["charger_utilisation"])),
        ("充电量 Charger energy", f"{total['charger_energy_kwh'] or 0:.1f} kWh"),
        ("快递柜占用 Locker fill", _pct(total["locker_fill"])),
        ("逾期包裹 Overdue parcels (month end)", str(total["parcels_overdue"])),
        ("电梯运行 Elevator trips", f"{total['elevator_trips']:,}"),
        ("电梯故障 Elevator faults", str(total["elevator_faults"])),
        ("告警 Alarms raised", str(total["alarms_raised"])),
        *((f"  {severity}", str(n)) for severity, n in total["alarms_by_severity"].items()),
        ("告警确认时间中位数 Median time to acknowledge", "—" if ack is None else f"{ack / 60:.1f} min"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    title = f"{community['name']} 运维月通报 {month:%Y年%m月}"
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}th{{text-align:left;padding-right:2em}}
td{{text-align:right}}table{{border-collapse:collapse}}tr:nth-child(even){{background:#f4f4f4}}</style></head>
<body><h1>{escape(title)}</h1>
<p>{escape(community["district"])} · {escape(community["id"])} · {month:%Y-%m} · Yiju 宜居</p>
<table>{table}</table>
<h2>图表 Charts</h2>
<img alt="monthly charts" src="data:image/png;base64,{_charts(figures)}" style="width:100%">
</body></html>"""
