"""Every SQL query the dashboards and alert rules send, run as Grafana would run it.

The tests check each query's result against what its panel type reads; the benchmark times them.
Template variables resolve as on a fresh dashboard load with "All" selected where allowed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from grafana import files
from grafana.builder import DATASOURCE_UID, Json
from grafana.macros import TimeRange, Variable, expand

NUMERIC_OIDS = frozenset({20, 21, 23, 700, 701, 1700})  # int8, int2, int4, float4, float8, numeric
TIME_OIDS = frozenset({1114, 1184})  # timestamp, timestamptz
TEXT_OIDS = frozenset({19, 25, 1043})  # name, text, varchar


@dataclass(frozen=True)
class Query:
    """One query: where it comes from, the panel type that reads it, its raw SQL."""

    source: str  # dashboard uid, or "alerting"
    title: str
    kind: str  # a panel type, "annotation" or "alert"
    sql: str
    interval: str | None = None
    lookback: timedelta | None = None  # alert rules: their relative time range


@dataclass(frozen=True)
class Result:
    """Column names and type OIDs, and the rows."""

    columns: list[tuple[str, int]]
    rows: list[tuple[Any, ...]]

    def names(self, oids: frozenset[int]) -> list[str]:
        return [name for name, oid in self.columns if oid in oids]


def dashboard_queries(board: Json) -> Iterator[Query]:
    """The panels' and annotations' queries of one dashboard."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield Query(board["uid"], panel["title"], panel["type"], target["rawSql"], panel.get("interval"))
    for annotation in board["annotations"]["list"]:
        yield Query(board["uid"], annotation["name"], "annotation", annotation["target"]["rawSql"])


def alert_queries() -> Iterator[Query]:
    """The alert rules' SQL queries (expressions are Grafana's own)."""
    for group in files.load_yaml(files.ALERTING)["groups"]:
        for rule in group["rules"]:
            for data in rule["data"]:
                if data["datasourceUid"] == DATASOURCE_UID:
                    lookback = timedelta(seconds=data["relativeTimeRange"]["from"])
                    yield Query(
                        "alerting", rule["title"], "alert", data["model"]["rawSql"], lookback=lookback
                    )


def execute(conn: psycopg.Connection, text: str) -> Result:
    """Run expanded SQL read-only; the columns come with their type OIDs."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute(text.encode())  # already expanded: no parameters, like Grafana's own
        columns = [(c.name, c.type_code) for c in cur.description or []]
        return Result(columns, cur.fetchall())


def resolve_variables(
    conn: psycopg.Connection, board: Json, time: TimeRange, pinned: Mapping[str, Variable] | None = None
) -> dict[str, Variable]:
    """Each variable in order, as on load: query variables run with the ones before them; a
    `pinned` one takes the given value, as if the user had picked it."""
    values: dict[str, Variable] = {}
    for var in board["templating"]["list"]:
        if pinned and var["name"] in pinned:
            values[var["name"]] = pinned[var["name"]]
            continue
        if var["type"] == "constant":
            values[var["name"]] = Variable((str(var["query"]),))
            continue
        result = execute(conn, expand(var["query"], values, time))
        names = [n for n, _ in result.columns]
        at = names.index("__value") if "__value" in names else 0
        found = tuple(str(row[at]) for row in result.rows)
        values[var["name"]] = Variable(
            found if var.get("includeAll") else found[:1],
            multi=bool(var.get("multi") or var.get("includeAll")),
        )
    return values


def time_range(query: Query, start: datetime, end: datetime) -> TimeRange:
    """The range a query runs over: the dashboard's, or an alert rule's lookback to `end`."""
    if query.lookback is not None:
        return TimeRange(end - query.lookback, end)
    return TimeRange(start, end, min_interval=query.interval)
