"""The supply-and-demand map (供需一张图): GeoJSON of a community's spaces at an instant, for
Grafana's geomap panel, with the hour's supply and demand as the collection's properties."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from analytics.parking.model import in_windows, price
from api.queries import PARKING
from api.security import Principal
from api.service.parking import community
from api.service.parking_state import frame_for, load, to_request
from core.config import Settings


def geojson(
    conn: psycopg.Connection, who: Principal, settings: Settings, *, community_id: str, at: datetime
) -> dict[str, Any]:
    """Each space a Point: kind, status (occupied by its sensor or a checked-in car, booked, free),
    open to others at `at`, charger, visitor's price for an hour; supply and demand of the hour
    (demand: stays overlapping it, booked or refused)."""
    place = community(conn, who, community_id)
    hour = at.replace(minute=0, second=0, microsecond=0)
    frame = frame_for(hour, hour + timedelta(hours=1), ZoneInfo(settings.api_timezone))
    state = load(conn, place, frame, at)
    sensed: dict[str, bool] = dict(conn.execute(PARKING.sensed, {"at": at, "community": place.id}).fetchall())
    minute, hour_span = frame.minute(at), (frame.minute(hour), frame.minute(hour) + 60)
    row = conn.execute(
        PARKING.demand, {"community": place.id, "lo": hour, "hi": hour + timedelta(hours=1)}
    ).fetchone()
    booked, unmet = (int(row[0]), int(row[1])) if row else (0, 0)
    visitor = to_request("map", frame, place, arrival=at, departure=at + timedelta(hours=1))
    features, supply, free = [], 0, 0
    for space in state.spaces:
        info = state.rows[space.id]
        now_on = [
            state.booking_rows[int(b.request_id)]["status"]
            for b in state.bookings_by_space.get(space.id, ())
            if b.arrival <= minute < b.departure
        ]
        if sensed.get(space.id) or "checked_in" in now_on:
            status = "occupied"
        elif now_on:
            status = "booked"
        else:
            status = "free"
        is_open = in_windows(space, minute, minute + 1)
        supply += any(lo < hour_span[1] and hour_span[0] < hi for lo, hi in space.windows)
        free += is_open and status == "free"
        lat = info["lat"] if info["lat"] is not None else place.lat
        lon = info["lon"] if info["lon"] is not None else place.lon
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "id": space.id,
                    "label": info["label"],
                    "kind": space.kind.value,
                    "status": status,
                    "open": is_open,
                    "charger": space.has_charger,
                    "charger_kw": space.charger_kw,
                    "accessible": space.accessible,
                    "large": space.large,
                    "lat": lat,
                    "lon": lon,
                    "price": price(space, visitor),
                },
            }
        )
    properties = {
        "community_id": place.id,
        "at": at.isoformat(),
        "hour": hour.isoformat(),
        "spaces": len(features),
        "supply": supply,
        "demand": booked + unmet,  # stays asked for in the hour: booked, and refused for want of a space
        "booked": booked,
        "unmet": unmet,
        "free": free,
    }
    return {"type": "FeatureCollection", "features": features, "properties": properties}
