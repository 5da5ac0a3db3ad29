"""The expander against Grafana's documented examples, and its output against PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from grafana.macros import MacroError, TimeRange, Variable, expand, format_duration, parse_duration

# The example range of Grafana's PostgreSQL data source documentation.
DOC = TimeRange(datetime(2017, 4, 21, 5, 1, 17, tzinfo=UTC), datetime(2017, 4, 21, 5, 6, 17, tzinfo=UTC))


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        ("$__timeFilter(ts)", "ts BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'"),
        ("$__timeFrom()", "'2017-04-21T05:01:17Z'"),
        ("$__timeTo()", "'2017-04-21T05:06:17Z'"),
        ("$__time(ts)", 'ts AS "time"'),
        ("$__timeGroup(ts, '5m')", "time_bucket('300s', ts)"),  # TimescaleDB option on
        ("$__timeGroup(ts, 5m, previous)", "time_bucket('300s', ts)"),  # fill is applied by Grafana
        ("$__timeGroupAlias(ts, 1h)", "time_bucket('3600s', ts) AS \"time\""),
        (
            "$__timeGroupAlias(date_trunc('minute', ts), '1m')",
            "time_bucket('60s', date_trunc('minute', ts)) AS \"time\"",
        ),
        ("$__unixEpochFilter(t)", "t >= 1492750877 AND t <= 1492751177"),
    ],
)
def test_documented_macros(sql: str, expanded: str) -> None:
    assert expand(sql, {}, DOC) == expanded


def test_interval_rounds_as_grafana_and_respects_the_minimum() -> None:
    end = datetime(2026, 1, 8, tzinfo=UTC)
    assert TimeRange(end - timedelta(days=1), end).interval == timedelta(minutes=1)  # 86.4 s -> 1m
    assert TimeRange(end - timedelta(days=7), end).interval == timedelta(minutes=10)  # 604.8 s -> 10m
    assert TimeRange(end - timedelta(days=30), end).interval == timedelta(minutes=30)  # 43.2 min -> 30m
    assert TimeRange(end - timedelta(days=1), end, min_interval="1h").interval == timedelta(hours=1)
    week = TimeRange(end - timedelta(days=7), end, min_interval="1h")
    assert expand("$__timeGroupAlias(ts, $__interval) -- $__interval $__interval_ms", {}, week) == (
        "time_bucket('3600s', ts) AS \"time\" -- 1h 3600000"
    )


@pytest.mark.parametrize(
    ("text", "variable", "expanded"),
    [
        ("'$v'", Variable(("O'Brien",)), "'O''Brien'"),  # single value: raw, quotes escaped
        ("IN ($v)", Variable(("a", "b'c"), multi=True), "IN ('a','b''c')"),  # multi: quoted list
        ("IN (${v})", Variable(("a", "b"), multi=True), "IN ('a','b')"),
        ("IN (${v:sqlstring})", Variable(("x",)), "IN ('x')"),  # quoted even when single
        ("${v:csv}", Variable(("a", "b"), multi=True), "a,b"),
        ("[[v]]", Variable(("a",)), "a"),
        ("${v:pipe}", Variable(("a", "b"), multi=True), "a|b"),
    ],
)
def test_variables(text: str, variable: Variable, expanded: str) -> None:
    assert expand(text, {"v": variable}, DOC) == expanded


def test_unknown_names_are_refused() -> None:
    with pytest.raises(MacroError, match="undefined variable"):
        expand("WHERE id = '$missing'", {}, DOC)
    with pytest.raises(MacroError, match="unknown macro"):
        expand("$__timeGroupMagic(ts)", {}, DOC)
    with pytest.raises(MacroError, match="needs a column"):
        expand("$__timeFilter()", {}, DOC)
    with pytest.raises(MacroError, match="unknown variable format"):
        expand("${v:nonsense}", {"v": Variable(("a",))}, DOC)


def test_durations_round_trip() -> None:
    for text in ("200ms", "30s", "5m", "1h", "12h", "1d", "1w"):
        assert format_duration(parse_duration(text)) == text


def test_expanded_sql_buckets_as_grafana_expects(conn: psycopg.Connection) -> None:
    """On PostgreSQL: one row per interval of the range, each bucket inside it."""
    end = datetime(2026, 1, 2, tzinfo=UTC)
    time = TimeRange(end - timedelta(days=1), end, min_interval="1h")
    sql = (
        "SELECT $__timeGroupAlias(ts, $__interval), count(*) AS n FROM generate_series("
        "$__timeFrom()::timestamptz, $__timeTo()::timestamptz - INTERVAL '1 minute',"
        " INTERVAL '1 minute') AS ts"
        " WHERE $__timeFilter(ts) GROUP BY 1 ORDER BY 1"
    )
    rows = conn.execute(expand(sql, {}, time).encode()).fetchall()
    assert len(rows) == 24 and {n for _, n in rows} == {60}
    assert rows[0][0] == time.start and rows[-1][0] == end - timedelta(hours=1)
