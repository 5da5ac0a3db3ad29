"""Every panel's, annotation's and alert rule's SQL against a simulated week of the demo community."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from grafana import files
from grafana.macros import Variable, expand
from grafana.panels import (
    NUMERIC_OIDS,
    TEXT_OIDS,
    TIME_OIDS,
    Query,
    Result,
    alert_queries,
    dashboard_queries,
    execute,
    resolve_variables,
    time_range,
)
from tests.grafana.conftest import Week

BOARDS = {b.body["uid"]: b.body for b in files.dashboards()}
QUERIES = [q for board in BOARDS.values() for q in dashboard_queries(board)]
# Panels that may be empty on a simulated week: nothing in the simulators produces these rows.
MAY_BE_EMPTY = {
    ("yiju-lockers", "Doors left open and faults in range"),
    # the simulated history places bookings but nothing moves them afterwards
    ("yiju-parking", "Bookings changed after they were made (moves, withdrawals, overstays)"),
}


def check_columns(query: Query, result: Result) -> None:
    """The columns the panel type reads are there, with the types it needs."""
    numeric, times, texts = (result.names(o) for o in (NUMERIC_OIDS, TIME_OIDS, TEXT_OIDS))
    if query.kind == "timeseries":
        assert result.columns[0] == ("time", result.columns[0][1]) and result.columns[0][1] in TIME_OIDS
        assert numeric, "a time series needs numeric values"
        others = {n for n, _ in result.columns[1:]} - set(numeric)
        assert others <= {"metric"}, f"long-format series name must be `metric`, not {others}"
    elif query.kind in ("stat", "bargauge", "piechart"):
        assert numeric, f"{query.kind} reads numeric fields"
    elif query.kind == "barchart":
        assert numeric and texts, "a bar chart needs a text axis and numeric bars"
    elif query.kind == "geomap":
        assert {"latitude", "longitude"} <= set(numeric), "markers are placed by latitude and longitude"
        assert len(numeric) > 2, "a marker's colour or size reads a numeric field"
    elif query.kind == "annotation":
        assert {"time", "timeend"} <= set(times) and "text" in texts
    elif query.kind == "alert":
        assert len(numeric) == 1, "an alert query has one value column; text columns become labels"
        assert {n for n, _ in result.columns} - set(numeric) <= set(texts)
    else:
        assert query.kind == "table" and result.columns


@pytest.mark.parametrize("days", [1, 7], ids=["24h", "7d"])
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.source}:{q.title}")
def test_panel_query(week: Week, conn: psycopg.Connection, query: Query, days: int) -> None:
    time = time_range(query, week.end - timedelta(days=days), week.end)
    # other tests' communities may share the database: look at the simulated one
    pinned = {"community": Variable((week.community_id,), multi=True)}
    variables = resolve_variables(conn, BOARDS[query.source], time, pinned)
    assert all(v.values for v in variables.values()), f"a variable has no value: {variables}"
    result = execute(conn, expand(query.sql, variables, time))
    check_columns(query, result)
    if (query.source, query.title) not in MAY_BE_EMPTY:
        assert result.rows, "no rows on a simulated week"


@pytest.mark.parametrize("query", list(alert_queries()), ids=lambda q: q.title)
def test_alert_query(week: Week, conn: psycopg.Connection, query: Query) -> None:
    result = execute(conn, expand(query.sql, {}, time_range(query, week.start, week.end)))
    check_columns(query, result)


def test_variables_narrow_down(week: Week, conn: psycopg.Connection) -> None:
    """District narrows communities; community and building narrow the device list."""
    board = BOARDS["yiju-elevators"]
    time = time_range(QUERIES[0], week.start, week.end)
    conn.execute(
        "INSERT INTO communities (id, name, district, lat, lon)"
        " VALUES ('gf-other', '别处', '别区', 30.5, 111.1)"
    )
    try:
        everything = resolve_variables(conn, board, time)
        assert {week.community_id, "gf-other"} <= set(everything["community"].values)
        demo_district = conn.execute(
            "SELECT district FROM communities WHERE id = %s", (week.community_id,)
        ).fetchone()
        assert demo_district is not None
        narrowed = expand(
            board["templating"]["list"][1]["query"], {"district": Variable(demo_district)}, time
        )
        in_district = [r[1] for r in execute(conn, narrowed).rows]
        assert week.community_id in in_district and "gf-other" not in in_district
    finally:
        conn.execute("DELETE FROM communities WHERE id = 'gf-other'")
    everything = resolve_variables(
        conn, board, time, {"community": Variable((week.community_id,), multi=True)}
    )
    elevators = everything["device"].values
    assert elevators and all(d.startswith(week.prefix + "-el-") for d in elevators)
    one_building = {**everything, "building": Variable(everything["building"].values[:1])}
    device_sql = board["templating"]["list"][3]["query"]
    fewer = [r[0] for r in execute(conn, expand(device_sql, one_building, time)).rows]
    assert fewer and set(fewer) < set(elevators)


def _alert(title: str) -> Query:
    return next(q for q in alert_queries() if q.title.startswith(title))


def test_entrapment_rule_fires_until_cleared(week: Week, conn: psycopg.Connection) -> None:
    rule, lift = _alert("Elevator entrapment"), f"{week.prefix}-el-b1-1"
    time = time_range(rule, week.start, week.end)
    insert = (
        "INSERT INTO elevator_events (device_id, ts, boot, seq, event, fault)"
        " VALUES (%s, %s, 99, %s, %s, 'entrapment')"
    )
    try:
        conn.execute(insert, (lift, week.end - timedelta(minutes=3), 1, "fault"))
        trapped = execute(conn, expand(rule.sql, {}, time)).rows
        assert (lift, week.community_id) in {(r[0], r[1]) for r in trapped}
        conn.execute(insert, (lift, week.end - timedelta(minutes=1), 2, "fault_cleared"))
        assert lift not in {r[0] for r in execute(conn, expand(rule.sql, {}, time)).rows}
    finally:
        conn.execute("DELETE FROM elevator_events WHERE device_id = %s AND boot = 99", (lift,))


def test_dark_community_rule_counts_zero_only_for_the_silent_one(
    week: Week, conn: psycopg.Connection
) -> None:
    rule = _alert("Community going dark")
    conn.execute(
        "INSERT INTO communities (id, name, district, lat, lon) VALUES ('gf-dark', '无声', '别区', 30, 111)"
    )
    conn.execute(
        "INSERT INTO devices (id, community_id, kind) VALUES ('gf-dark-ps-1', 'gf-dark', 'parking_space')"
    )
    try:
        rows = dict(execute(conn, expand(rule.sql, {}, time_range(rule, week.start, week.end))).rows)
    finally:
        conn.execute("DELETE FROM devices WHERE id = 'gf-dark-ps-1'")
        conn.execute("DELETE FROM communities WHERE id = 'gf-dark'")
    assert rows["gf-dark"] == 0 and rows[week.community_id] > 0
