"""`yiju bench grafana`: every dashboard panel's and alert rule's query over 30 days of 1,000 devices.

The bench database (`yiju_bench_grafana`) is filled once with the simulated history of generated
communities (COPY, as `simulate backfill --via copy`), alarms made from the injected faults, and
fresh rollups; later runs reuse it while its shape is unchanged (`--refill` rebuilds it). Queries
run as Grafana sends them (`grafana.macros`), with "All" selected; the median of `--repeat` runs
counts, and the slowest is held against the 300 ms target.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from bench.bookings import fill_bookings
from bench.database import prepared
from core.config import Settings, get_settings
from core.db.maintenance import run_once
from core.logs import setup_logging
from grafana import files
from grafana.macros import expand
from grafana.panels import Query, alert_queries, dashboard_queries, execute, resolve_variables, time_range
from simulators.backfill import copy_history
from simulators.behaviour.base import FaultLabel
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import Community
from simulators.generate import generate
from simulators.seed import seed_community

DATABASE = "yiju_bench_grafana"
TARGET_MS = 300.0
# Life-safety faults and lost connections are what an operator must see first.
SEVERITY = {"entrapment": "critical", "door_open_moving": "critical", "network_loss": "major"}


@dataclass(frozen=True)
class Timing:
    """One query's median time and result size."""

    source: str
    title: str
    kind: str
    median_ms: float
    rows: int


def communities_for(devices: int, seed: int) -> list[Community]:
    """Generated communities until they hold at least `devices` devices (a seed's list is stable)."""
    n = max(1, devices // 50)
    while True:
        chosen, total = [], 0
        for community in generate(n, seed=seed, prefix="gbench"):
            chosen.append(community)
            total += len(community.devices())
            if total >= devices:
                return chosen
        n *= 2


def alarms_from_labels(
    conn: psycopg.Connection, community_of: dict[str, str], labels: Iterable[FaultLabel], end: datetime
) -> int:
    """The injected faults as the alarms analytics would raise: ended ones cleared, one open per type."""
    open_keys: set[tuple[str, str]] = set()
    rows = []
    for label in sorted(labels, key=lambda lb: lb.start, reverse=True):
        key = (label.device_id, label.fault_type)
        cleared = (label.end is not None and label.end <= end) or key in open_keys
        open_keys.add(key)
        last = max(min(label.end or end, end), label.start)
        rows.append(
            (label.device_id, community_of[label.device_id], label.fault_type, "bench:ground-truth",
             SEVERITY.get(label.fault_type, "minor"), label.start, last,
             "cleared" if cleared else "active-unacknowledged", last if cleared else None)
        )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO anomalies (device_id, community_id, type, detector, severity, first_seen, last_seen,"
            " status, cleared_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def fill(
    conn: psycopg.Connection,
    settings: Settings,
    communities: list[Community],
    window: tuple[datetime, datetime],
    *,
    seed: int,
    rates: FaultRates | None = None,
) -> int:
    """Registry, simulated history by COPY, alarms from its faults, bookings, rollups; returns rows
    written."""
    community_of = {}
    for community in communities:
        seed_community(conn, None, community)
        community_of.update({d[0]: community.id for d in community.devices()})
    start, end = window
    sim = Simulation(communities, start, end, seed, rates or FaultRates())
    console = Console(stderr=True)
    written = copy_history(conn, sim, lambda ts, n: console.print(f"  {ts:%Y-%m-%d %H:%M} {n:,} messages"))
    alarms_from_labels(conn, community_of, sim.labels, end)
    for community in communities:
        fill_bookings(conn, settings, community, window, seed=seed)
    if run_once(conn, settings).skipped:
        raise RuntimeError("another process holds the maintenance lock: the rollups were not refreshed")
    return sum(written.values())


def _prepare(settings: Settings, devices: int, days: int, seed: int, refill: bool) -> tuple[str, datetime]:
    """The bench database's URL and the end of its history (filled now if needed)."""
    communities = communities_for(devices, seed)
    shape = f"grafana bench (with bookings): devices={devices} days={days} seed={seed}"

    def fill_history(conn: psycopg.Connection, bench_settings: Settings, end: datetime) -> int:
        Console(stderr=True).print(
            f"{sum(len(c.devices()) for c in communities)} devices in {len(communities)} communities,"
            f" {days} days"
        )
        return fill(conn, bench_settings, communities, (end - timedelta(days=days), end), seed=seed)

    return prepared(settings, DATABASE, shape, refill, fill_history)


def measure(conn: psycopg.Connection, start: datetime, end: datetime, repeat: int) -> list[Timing]:
    """Every query's median time over the range (alert rules over their own look-back)."""
    boards = {b.body["uid"]: b.body for b in files.dashboards()}
    queries: list[Query] = [q for board in boards.values() for q in dashboard_queries(board)]
    queries += list(alert_queries())
    timings = []
    for query in queries:
        window = time_range(query, start, end)
        variables = resolve_variables(conn, boards[query.source], window) if query.source in boards else {}
        text = expand(query.sql, variables, window)
        spent, rows = [], 0
        for _ in range(repeat):
            began = time.perf_counter()
            rows = len(execute(conn, text).rows)
            spent.append((time.perf_counter() - began) * 1000)
        timings.append(Timing(query.source, query.title, query.kind, statistics.median(spent), rows))
    return sorted(timings, key=lambda t: t.median_ms, reverse=True)


def _render(timings: list[Timing], console: Console, top: int) -> None:
    table = Table(title=f"slowest {top} of {len(timings)} queries (median ms)")
    for column in ("ms", "rows", "dashboard", "panel", "type"):
        table.add_column(column, justify="right" if column in ("ms", "rows") else "left")
    for t in timings[:top]:
        style = "red" if t.median_ms >= TARGET_MS else None
        table.add_row(f"{t.median_ms:.1f}", str(t.rows), t.source, t.title[:60], t.kind, style=style)
    console.print(table)


def command(
    devices: Annotated[int, typer.Option(min=10, max=100_000, help="devices with history")] = 1000,
    days: Annotated[int, typer.Option(min=1, max=90, help="days of history, and the range queried")] = 30,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 1,
    repeat: Annotated[int, typer.Option(min=1, max=20, help="runs per query; the median counts")] = 3,
    top: Annotated[int, typer.Option(min=1, help="queries shown")] = 15,
    refill: Annotated[bool, typer.Option(help="rebuild the bench database's history")] = False,
    json_file: Annotated[Path | None, typer.Option("--json", help="write every timing here")] = None,
) -> None:
    """Every Grafana panel and alert query over a month of 1,000 devices: the slowest against 300 ms."""
    settings = get_settings()
    setup_logging(settings.log_level)
    url, end = _prepare(settings, devices, days, seed, refill)
    with psycopg.connect(url, autocommit=True) as conn:
        timings = measure(conn, end - timedelta(days=days), end, repeat)
    console = Console() if Console().is_terminal else Console(width=132)
    _render(timings, console, top)
    slowest = timings[0]
    verdict = "meets" if slowest.median_ms < TARGET_MS else "misses"
    over = sum(t.median_ms >= TARGET_MS for t in timings)
    console.print(
        f"slowest: {slowest.median_ms:.1f} ms ({slowest.source}: {slowest.title});"
        f" {verdict} the {TARGET_MS:.0f} ms target; {over} of {len(timings)} queries over it"
    )
    if json_file:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "devices": devices,
            "days": days,
            "target_ms": TARGET_MS,
            "timings": [asdict(t) for t in timings],
        }
        json_file.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"figures written to {json_file}")
