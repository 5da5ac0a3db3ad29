"""`yiju analytics`: scoring detectors on labelled data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from analytics import service
from analytics.nab import PROFILES, load_corpus, normalise, score_series
from analytics.queries import ANALYTICS
from analytics.rules import Limits
from analytics.univariate import Scorer, detections, score
from analytics.worker import AnalyticsWorker
from core.config import get_settings
from core.logs import setup_logging

app = typer.Typer(help="Anomaly detection and its evaluation.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Anomaly detection on the telemetry in TimescaleDB, and its evaluation."""


@app.command()
def run() -> None:
    """Detect continuously: fault events within seconds, telemetry rules every minute."""
    settings = get_settings()
    setup_logging(settings.log_level)
    AnalyticsWorker(settings).run()


@app.command()
def once(
    from_: Annotated[str, typer.Option("--from", help="ISO 8601 start of the data to examine")],
    to: Annotated[str, typer.Option("--to", help="ISO 8601 end")],
) -> None:
    """Run every rule once over a time range (history, a backfill) and record the alarms."""
    try:
        since, until = (datetime.fromisoformat(v) for v in (from_, to))
    except ValueError:
        raise typer.BadParameter("ISO 8601 times, e.g. 2026-11-01T00:00+08:00") from None
    if since.tzinfo is None or until.tzinfo is None or since >= until:
        raise typer.BadParameter("--from and --to need time zones, and --from must come first")
    with psycopg.connect(get_settings().database_url, autocommit=True) as conn:
        cycle = service.run_once(conn, since, until, fast=False, limits=Limits())
    typer.echo(f"{cycle.rows} rows examined, {cycle.detections} detections, {cycle.changed} alarm changes")


@app.command()
def status() -> None:
    """Open alarms by severity and type."""
    with psycopg.connect(get_settings().database_url, autocommit=True) as conn:
        rows = conn.execute(ANALYTICS.open_summary).fetchall()
    table = Table(title=f"open alarms: {sum(r[2] for r in rows)}")
    for column in ("severity", "type", "open"):
        table.add_column(column, justify="right" if column == "open" else "left")
    for severity, type_, n in rows:
        table.add_row(severity, type_, str(n))
    Console().print(table)


@app.command()
def evaluate(
    nab: Annotated[
        Path, typer.Option(file_okay=False, help="a NAB-layout corpus: data/<group>/<name>.csv, labels/")
    ],
    profile: Annotated[str, typer.Option(help=f"NAB cost profile: {', '.join(PROFILES)}")] = "standard",
    threshold: Annotated[
        float, typer.Option(min=0, max=1, help="score at which a point is a detection")
    ] = 0.999,
) -> None:
    """Run the univariate scorer over every series of a NAB-layout corpus and print its NAB score."""
    if profile not in PROFILES:
        raise typer.BadParameter(f"one of {', '.join(PROFILES)}", param_hint="--profile")
    try:
        sets = load_corpus(nab)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--nab") from None
    weights, scorer = PROFILES[profile], Scorer(threshold=threshold)
    results = {}
    for d in sets:
        stamps = list(d.frame["timestamp"].dt.to_pydatetime())
        flags = detections(score(d.frame["value"], scorer), scorer)
        results[d.name] = score_series(stamps, flags, d.windows, weights)
    total = normalise(results, weights)
    table = Table(title=f"NAB ({profile} profile), {len(sets)} series")
    for column in ("series", "windows", "detected", "false positives", "raw score"):
        table.add_column(column, justify="left" if column == "series" else "right")
    for name, r in results.items():
        table.add_row(name, str(r.windows), str(r.detected), str(r.false_positives), f"{r.score:.3f}")
    console = Console()
    console.print(table)
    console.print(
        f"NAB score {total.normalised:.1f} (null detector 0, perfect 100); raw {total.raw:.2f}, "
        f"null {total.null:.2f}, perfect {total.perfect:.2f}"
    )
