"""Template variables and SQL fragments every dashboard shares."""
# ruff: noqa: S608 (Grafana's SQL, expanded and sent by Grafana; psycopg never formats it)

from __future__ import annotations

from core.config import Settings
from core.contract.topics import Kind
from grafana.builder import Json, constant_variable, query_variable

DISTRICT = query_variable(
    "district", "District (县市区)", "SELECT DISTINCT district FROM communities ORDER BY 1"
)
COMMUNITY = query_variable(
    "community",
    "Community",
    "SELECT name AS __text, id AS __value FROM communities"
    " WHERE district IN (${district:sqlstring}) ORDER BY name",
)
BUILDING = query_variable(
    "building",
    "Building",
    "SELECT c.name || ' ' || b.name AS __text, b.id AS __value FROM buildings b"
    " JOIN communities c ON c.id = b.community_id"
    " WHERE b.community_id IN (${community:sqlstring}) ORDER BY 1",
)
# The one copy of "overdue" is the API's setting; the dashboards read its default.
OVERDUE_HOURS = constant_variable(
    "overdue_hours", str(Settings.model_fields["api_parcel_overdue_hours"].default)
)

# Grafana's time range end, as a timestamptz, for "now" panels that look at the last hour.
TO = "$__timeTo()::timestamptz"
LAST_HOUR = f"ts > {TO} - INTERVAL '1 hour' AND ts <= {TO}"
IN_COMMUNITY = "community_id IN (${community:sqlstring})"
OPEN_BY_SEVERITY = (
    "SELECT count(*) FILTER (WHERE severity = 'critical') AS critical,"
    " count(*) FILTER (WHERE severity = 'major') AS major,"
    " count(*) FILTER (WHERE severity = 'minor') AS minor,"
    " count(*) FILTER (WHERE severity = 'warning') AS warning"
    f" FROM anomalies WHERE status <> 'cleared' AND {IN_COMMUNITY}"
)


def device_variable(kind: Kind, *, by_building: bool = False) -> Json:
    """The devices of one kind in the selected communities (and buildings)."""
    building = " AND building_id IN (${building:sqlstring})" if by_building else ""
    return query_variable(
        "device",
        "Device",
        f"SELECT id FROM devices WHERE kind = '{kind.value}' AND {IN_COMMUNITY}{building}"
        " AND decommissioned_at IS NULL ORDER BY id",
    )


def devices_of(kind: Kind) -> str:
    """Subquery: ids of the selected communities' devices of one kind."""
    return f"(SELECT id FROM devices WHERE kind = '{kind.value}' AND {IN_COMMUNITY})"


SELECTED = "device_id IN (${device:sqlstring})"


def traffic_light(orange: float, red: float) -> Json:
    """Field colours: green below `orange`, orange below `red`, red from there."""
    steps = [
        {"color": "green", "value": None},
        {"color": "orange", "value": orange},
        {"color": "red", "value": red},
    ]
    return {"color": {"mode": "thresholds"}, "thresholds": {"mode": "absolute", "steps": steps}}


def markers_map(layer: str, style: Json, view: Json) -> Json:
    """Geomap options: one markers layer placed by the `latitude` and `longitude` columns."""
    return {
        "view": view,
        "controls": {"showZoom": True, "mouseWheelZoom": True},
        "basemap": {"type": "default", "name": "Basemap"},
        "layers": [
            {
                "type": "markers",
                "name": layer,
                "location": {"mode": "coords", "latitude": "latitude", "longitude": "longitude"},
                "config": {"showLegend": True, "style": style},
                "tooltip": True,
            }
        ],
        "tooltip": {"mode": "details"},
    }
