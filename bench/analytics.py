"""`yiju bench analytics`: one cycle of every detector over 10,000 devices, timed, with its memory.

The bench database (`yiju_bench_analytics`) holds generated communities' simulated history (COPY,
as `simulate backfill --via copy`) up to the hour the bench filled it; later runs reuse it. A fresh
process (so that its peak RSS is the cycle's own) then runs, at the end of that history, what the
service runs: the fast cycle (events and statuses), the slow cycle (telemetry rules over
`analytics_slow_window_s` and heartbeats), fitting the learned models, and the learned cycle over
the last 15-minute windows. The baseline, in the same process, is reading the same rows into frames
and nothing else: what any detector must pay before it detects.

The service's slow and learned cycles and its history rules keep their windows in memory and read
only what was stored since their last turn (`analytics/recent.py`). Each is run twice: a first turn
a step before the end, which reads its whole window, then the turn at the end, which reads the
step's rows (a minute for the slow cycle, 15 minutes for the others), as it would every turn of a
running service. The figure is the second turn; the first is shown beside it.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from analytics import learned, service
from analytics.features import WINDOW
from analytics.frames import COLUMNS
from analytics.recent import Recent
from analytics.rules import Limits
from bench.database import prepared
from bench.grafana import communities_for
from core.config import Settings, get_settings
from core.logs import setup_logging
from simulators.backfill import copy_history
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.seed import seed_community

DATABASE = "yiju_bench_analytics"
TARGET_S = 10.0
TARGET_RSS_MB = 1024.0
T = TypeVar("T")


@dataclass(frozen=True)
class Figures:
    """Seconds per step of one analytics cycle, rows read, and the process's peak RSS."""

    devices: int
    rows_slow: int
    rows_learned: int
    read_slow_s: float  # baseline: reading the slow cycle's rows only
    read_learned_s: float  # baseline: reading the learned cycle's rows only
    fast_s: float
    slow_first_s: float  # the slow cycle's first turn, reading its whole window
    slow_s: float  # ... and its next turn, a minute later, reading that minute's rows
    fit_s: float
    learned_first_s: float
    learned_s: float
    rows_read_slow: int  # by the slow cycle's turn at the end
    rows_read_learned: int
    histories_first_s: float  # the rules judging days of history, first turn (reads the days)
    histories_s: float  # ... and 15 minutes on (every 15 min, on a thread)
    rows_read_histories: int
    peak_rss_mb: float

    @property
    def cycle_s(self) -> float:
        """A slow cycle with its fast one, and a learned cycle (the most one minute can hold)."""
        return self.fast_s + self.slow_s + self.learned_s


def _fill(devices: int, hours: int, seed: int) -> Callable[[psycopg.Connection, Settings, datetime], int]:
    def fill(conn: psycopg.Connection, _settings: Settings, end: datetime) -> int:
        communities = communities_for(devices, seed)
        for community in communities:
            seed_community(conn, None, community)
        sim = Simulation(communities, end - timedelta(hours=hours), end, seed, FaultRates())
        console = Console(stderr=True)
        written = copy_history(
            conn, sim, lambda ts, n: console.print(f"  {ts:%Y-%m-%d %H:%M} {n:,} messages")
        )
        return sum(written.values())

    return fill


def _timed(step: Callable[..., T], *args: Any) -> tuple[T, float]:
    began = time.perf_counter()
    result = step(*args)
    return result, time.perf_counter() - began


def _measure(url: str, end: datetime, settings: Settings, out: Queue[Figures]) -> None:
    """In a fresh process: each step once at `end` of the history."""
    limits = Limits()
    slow_window = timedelta(seconds=settings.analytics_slow_window_s)
    context = timedelta(seconds=settings.analytics_learned_context_s)
    with psycopg.connect(url, autocommit=True) as conn:
        devices = len(service.registry(conn)[0])
        frames, read_slow = _timed(service.read, conn, list(COLUMNS), end - slow_window, end)
        rows_slow = sum(len(f) for f in frames.values())
        del frames
        tables = sorted({t for ts in learned.TABLES.values() for t in ts})
        frames, read_learned = _timed(service.read, conn, tables, end - WINDOW - context, end)
        rows_learned = sum(len(f) for f in frames.values())
        del frames
        since = service.fast_window_start(conn, end, timedelta(minutes=10))
        _, fast = _timed(lambda: service.run_once(conn, since, end, fast=True, limits=limits))
        reread = timedelta(seconds=settings.analytics_reread_s)
        slow_rows, learned_rows = Recent(reread), Recent(reread)

        def slow_turn(at: datetime) -> service.Cycle:
            return service.run_once(
                conn, at - slow_window, at, fast=False, limits=limits, reader=slow_rows.frames
            )

        _, slow_first = _timed(slow_turn, end - timedelta(seconds=settings.analytics_slow_interval_s))
        _, slow = _timed(slow_turn, end)
        history = timedelta(seconds=settings.analytics_learned_history_s)
        models, fit = _timed(
            service.fit_learned, conn, end - 2 * WINDOW, history, settings.analytics_learned_sample
        )
        _, learned_first = _timed(
            service.run_learned, conn, models, end - 2 * WINDOW, end - WINDOW, context, learned_rows.frames
        )
        _, learn = _timed(service.run_learned, conn, models, end - WINDOW, end, context, learned_rows.frames)
        history_rows = Recent(reread)
        every = service.HISTORIES_EVERY
        _, histories_first = _timed(service.run_histories, conn, end - every, limits, history_rows.frames)
        _, histories = _timed(service.run_histories, conn, end, limits, history_rows.frames)
        conn.execute("DELETE FROM anomalies")  # the next run starts from the same state
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put(
        Figures(
            devices,
            rows_slow,
            rows_learned,
            read_slow,
            read_learned,
            fast,
            slow_first,
            slow,
            fit,
            learned_first,
            learn,
            slow_rows.rows_read,
            learned_rows.rows_read,
            histories_first,
            histories,
            history_rows.rows_read,
            rss,
        )
    )


def command(
    devices: Annotated[int, typer.Option(min=10, max=100_000, help="devices with history")] = 10_000,
    hours: Annotated[
        int, typer.Option(min=2, max=72, help="hours of history (the learned fit reads 24)")
    ] = 26,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 1,
    refill: Annotated[bool, typer.Option(help="rebuild the bench database's history")] = False,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures here")] = None,
) -> None:
    """One analytics cycle over 10,000 devices: seconds per step against 10 s, peak RSS against 1 GB."""
    settings = get_settings()
    setup_logging(settings.log_level)
    shape = f"analytics bench: devices={devices} hours={hours} seed={seed}"
    url, end = prepared(settings, DATABASE, shape, refill, _fill(devices, hours, seed))
    ctx = multiprocessing.get_context("spawn")
    queue: Queue[Figures] = ctx.Queue()
    child = ctx.Process(target=_measure, args=(url, end, settings, queue))
    child.start()
    f: Figures = queue.get()
    child.join()
    console = Console()
    table = Table(
        title=f"one analytics cycle over {f.devices:,} devices (history to {end:%Y-%m-%d %H:%M} UTC)"
    )
    for column in ("step", "seconds", "rows"):
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row("baseline: read the slow cycle's rows", f"{f.read_slow_s:.2f}", f"{f.rows_slow:,}")
    table.add_row("baseline: read the learned cycle's rows", f"{f.read_learned_s:.2f}", f"{f.rows_learned:,}")
    table.add_row("fast cycle (events, statuses)", f"{f.fast_s:.2f}", "")
    table.add_row("slow cycle, first turn (reads its whole window)", f"{f.slow_first_s:.2f}", "")
    table.add_row(
        "slow cycle (rules, heartbeats), a minute on", f"{f.slow_s:.2f}", f"{f.rows_read_slow:,} read"
    )
    table.add_row("learned cycle, first turn (reads its context)", f"{f.learned_first_s:.2f}", "")
    table.add_row(
        "learned cycle (last window), a window on", f"{f.learned_s:.2f}", f"{f.rows_read_learned:,} read"
    )
    table.add_row("history rules, first turn (read their days)", f"{f.histories_first_s:.2f}", "")
    table.add_row(
        "history rules: compartments, stuck sensors (every 15 min, own thread), 15 min on",
        f"{f.histories_s:.2f}", f"{f.rows_read_histories:,} read",
    )  # fmt: skip
    table.add_row("fit the learned models (every 6 h)", f"{f.fit_s:.2f}", "")
    console.print(table)
    verdict = "meets" if f.cycle_s < TARGET_S else "misses"
    console.print(
        f"fast + slow + learned cycle: {f.cycle_s:.2f} s ({verdict} the {TARGET_S:.0f} s target);"
        f" reading both windows whole (the baseline) {f.read_slow_s + f.read_learned_s:.2f} s;"
        f" peak RSS {f.peak_rss_mb:.0f} MB"
        f" ({'meets' if f.peak_rss_mb < TARGET_RSS_MB else 'misses'} the 1 GB target)"
    )
    if json_file:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        record = asdict(f) | {"cycle_s": f.cycle_s, "target_s": TARGET_S, "end": end.isoformat()}
        json_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        console.print(f"figures written to {json_file}")
