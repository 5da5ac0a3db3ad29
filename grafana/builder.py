"""Small helpers that turn panel definitions into Grafana dashboard JSON (schema 39).

Dashboards are written as Python in `grafana/boards/`, built to `grafana/dashboards/<folder>/`
by `yiju grafana build`; the committed JSON is what Grafana provisions and what sync pushes.
"""
# ruff: noqa: S608 (Grafana's SQL, expanded and sent by Grafana; psycopg never formats it)

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASOURCE_UID = "yiju-timescaledb"
DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": DATASOURCE_UID}
WIDTH = 24  # Grafana's grid is 24 columns wide

Json = dict[str, Any]


@dataclass(frozen=True)
class Panel:
    """One panel with one SQL query; `interval` is its minimum `$__interval` (rollups: 1h)."""

    kind: str
    title: str
    sql: str
    w: int = 12
    h: int = 8
    unit: str | None = None
    interval: str | None = None
    description: str = ""
    options: Json = field(default_factory=dict)
    defaults: Json = field(default_factory=dict)
    overrides: list[Json] = field(default_factory=list)

    @property
    def format(self) -> str:
        return "time_series" if self.kind == "timeseries" else "table"


def query_variable(name: str, label: str, sql: str, *, multi: bool = True) -> Json:
    """A variable filled by SQL (`__text`/`__value` columns or one column); "All" allowed."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": sql,
        "definition": sql,
        "refresh": 1,  # on dashboard load
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "sort": 1,
        "hide": 0,
    }


def constant_variable(name: str, value: str) -> Json:
    """A hidden constant, e.g. a threshold whose one copy lives in the settings."""
    return {"name": name, "type": "constant", "query": value, "hide": 2}


def _target(panel: Panel) -> Json:
    return {
        "refId": "A",
        "datasource": DATASOURCE,
        "editorMode": "code",
        "format": panel.format,
        "rawQuery": True,
        "rawSql": panel.sql.strip(),
    }


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> Json:
    grid = {"x": x, "y": y, "w": panel.w, "h": panel.h}
    if panel.kind == "text":  # a note to operators, no query
        content = {"mode": "markdown", "content": panel.description}
        return {"id": panel_id, "type": "text", "title": panel.title, "gridPos": grid, "options": content}
    defaults: Json = {**panel.defaults}
    if panel.unit:
        defaults["unit"] = panel.unit
    body: Json = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "gridPos": grid,
        "datasource": DATASOURCE,
        "targets": [_target(panel)],
        "fieldConfig": {"defaults": defaults, "overrides": panel.overrides},
        "options": panel.options,
    }
    if panel.description:
        body["description"] = panel.description
    if panel.interval:
        body["interval"] = panel.interval
    return body


def layout(panels: list[Panel]) -> list[Json]:
    """Left to right, top to bottom, a new row when the next panel does not fit."""
    out, x, y, row_h = [], 0, 0, 0
    for number, panel in enumerate(panels, start=1):
        if x + panel.w > WIDTH:
            x, y, row_h = 0, y + row_h, 0
        out.append(_panel_json(panel, number, x, y))
        x, row_h = x + panel.w, max(row_h, panel.h)
    return out


def alarm_annotations(community_filter: str) -> Json:
    """Alarms (the `anomalies` table) as annotations on every time series of a dashboard."""
    sql = f"""
SELECT first_seen AS "time", last_seen AS "timeend",
       type || ' on ' || device_id || ' (' || severity || ')' AS text, type AS tags
FROM anomalies
WHERE first_seen <= $__timeTo() AND last_seen >= $__timeFrom(){community_filter}
ORDER BY first_seen"""
    return {
        "name": "Alarms",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "target": {**_target(Panel("table", "", sql)), "refId": "Anno"},
    }


def dashboard(
    uid: str, title: str, *, tags: list[str], variables: list[Json], panels: list[Panel], annotate: str | None
) -> Json:
    """A whole dashboard; `annotate` is the community filter of its alarm annotations (None: none)."""
    annotations = [alarm_annotations(annotate)] if annotate is not None else []
    return {
        "uid": uid,
        "title": title,
        "tags": ["yiju", *tags],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": annotations},
        "links": [{"title": "Yiju", "type": "dashboards", "tags": ["yiju"], "asDropdown": True}],
        "panels": layout(panels),
    }
