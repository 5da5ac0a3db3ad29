"""`yiju analytics`: scoring detectors on labelled data."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from analytics import learned, service
from analytics.evaluate import pooled
from analytics.nab import PROFILES, PUBLISHED_TEXT, load_corpus, normalise, score_series
from analytics.queries import ANALYTICS
from analytics.report import nab_record, nab_report, simulated_record, simulated_report, write_json
from analytics.rules import Limits
from analytics.simulated import score as simulated_score
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
    """Run every rule once over a time range (history, a backfill), and the learned detectors fitted
    on the day before it, and record the alarms."""
    try:
        since, until = (datetime.fromisoformat(v) for v in (from_, to))
    except ValueError:
        raise typer.BadParameter("ISO 8601 times, e.g. 2026-11-01T00:00+08:00") from None
    if since.tzinfo is None or until.tzinfo is None or since >= until:
        raise typer.BadParameter("--from and --to need time zones, and --from must come first")
    settings = get_settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        cycle = service.run_once(conn, since, until, fast=False, limits=Limits())
        typer.echo(
            f"rules: {cycle.rows} rows examined, {cycle.detections} detections, {cycle.changed} alarm changes"
        )
        changed = service.run_histories(conn, until, Limits())
        typer.echo(f"history rules (compartments, stuck parking sensors): {changed} alarm changes")
        history = timedelta(seconds=settings.analytics_learned_history_s)
        models = service.fit_learned(conn, since, history, settings.analytics_learned_sample)
        if not models:
            typer.echo("learned: no history before --from to fit on")
            return
        context = timedelta(seconds=settings.analytics_learned_context_s)
        cycle = service.run_learned(conn, models, since, until, context)
    typer.echo(
        f"learned: {cycle.rows} rows examined, {cycle.detections} detections, {cycle.changed} alarm changes"
    )


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
    simulated: Annotated[
        bool, typer.Option("--simulated", help="score on simulated days with injected faults")
    ] = False,
    days: Annotated[int, typer.Option(min=1, max=60, help="simulated days to score")] = 4,
    seed: Annotated[
        list[int] | None,
        typer.Option(help="the simulation's seed; repeat it to pool several runs (default 5)"),
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="also score each pyod detector on every kind")
    ] = False,
    nab: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="a NAB-layout corpus: data/<group>/<name>.csv, labels/"),
    ] = None,
    threshold: Annotated[
        float, typer.Option(min=0, max=1, help="NAB: score at which a point is a detection")
    ] = 0.999,
    json_path: Annotated[
        Path | None, typer.Option("--json", dir_okay=False, help="write the figures")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(file_okay=False, help="write report.md and PNG plots here")
    ] = None,
) -> None:
    """Score the detectors: on simulator ground truth (--simulated) or a NAB-layout corpus (--nab)."""
    if simulated == (nab is not None):
        raise typer.BadParameter("give exactly one of --simulated and --nab")
    console = Console()
    if nab is not None:
        record = _evaluate_nab(console, nab, threshold, report)
    else:
        record = _evaluate_simulated(console, days, seed or [5], compare, report)
    if json_path is not None:
        write_json(json_path, record)
        console.print(f"wrote {json_path}")


def _evaluate_simulated(
    console: Console, days: int, seeds: list[int], compare: bool, report: Path | None
) -> dict:
    names = {str(k): v for k, v in learned.CHOSEN.items()}
    runs = [simulated_score(days, seed) for seed in seeds]
    record = simulated_record(runs, names)
    pooled_over = f", {len(seeds)} runs pooled (seeds {', '.join(map(str, seeds))})" if len(seeds) > 1 else ""
    table = Table(
        title=f"{days} simulated days, {record['devices']} devices (rules + {names}){pooled_over}: "
        f"{record['manifested']} of {record['injected']} injected faults manifested"
    )
    columns = ("fault type", "silent", "injected", "manifested", "TP", "FN", "FP", "precision", "recall",
               "F1", "median delay s", "F1 all")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "fault type" else "right")
    for t, r in record["per_type"].items():
        delay = "" if r["median_delay_s"] is None else f"{r['median_delay_s']:.0f}"
        table.add_row(
            t, "yes" if r["silent"] else "", str(r["injected"]), str(r["manifested"]), str(r["tp"]),
            str(r["fn"]), str(r["fp"]), f"{r['precision']:.2f}", f"{r['recall']:.2f}", f"{r['f1']:.2f}",
            delay, f"{record['per_type_all'][t]['f1']:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"on manifested faults: overall F1 {record['overall_f1']:.3f}, false alarms per device-day "
        f"{record['false_alarms_per_device_day']:.4f}; on every injected fault: overall F1 "
        f"{record['overall_f1_all']:.3f}, false alarms per device-day "
        f"{record['false_alarms_per_device_day_all']:.4f}"
    )
    if len(seeds) > 1:
        for seed_, run in record["per_seed"].items():
            lowest = min(run["f1"].items(), key=lambda kv: kv[1])
            console.print(f"seed {seed_}: overall F1 {run['overall_f1']:.3f}, false alarms per device-day "
                          f"{run['false_alarms_per_device_day']:.4f}, lowest F1 {lowest[1]:.2f} "
                          f"({lowest[0]})")  # fmt: skip
    if compare:
        record["compare"] = {}
        for name in learned.DETECTORS:
            other = pooled([simulated_score(days, seed, {k: name for k in learned.CHOSEN}).evaluation
                            for seed in seeds])  # fmt: skip
            rows = {t: round(s.f1, 3) for t, s in other.by_type.items() if s.silent}
            record["compare"][name] = {
                "silent_f1": rows,
                "false_alarms_per_device_day": other.false_alarms_per_device_day,
            }
            console.print(f"{name} everywhere: silent F1 {rows}, false alarms per device-day "
                          f"{other.false_alarms_per_device_day:.4f}")  # fmt: skip
    if report is not None:
        console.print(f"wrote {simulated_report(report, runs, record)}")
    return record


def _evaluate_nab(console: Console, nab: Path, threshold: float, report: Path | None) -> dict:
    try:
        sets = load_corpus(nab)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--nab") from None
    scorer = Scorer(threshold=threshold)
    flags = {d.name: detections(score(d.frame["value"], scorer), scorer) for d in sets}
    scores = {}
    for profile, weights in PROFILES.items():
        results = {
            d.name: score_series(
                list(d.frame["timestamp"].dt.to_pydatetime()), flags[d.name], d.windows, weights
            )
            for d in sets
        }
        scores[profile] = normalise(results, weights)
    record = nab_record(scores)
    table = Table(title=f"NAB, {len(sets)} series")
    for column in ("series", "windows", "detected", "false positives", "raw score"):
        table.add_column(column, justify="left" if column == "series" else "right")
    for name, r in scores["standard"].series.items():
        table.add_row(name, str(r.windows), str(r.detected), str(r.false_positives), f"{r.score:.3f}")
    console.print(table)
    standard = scores["standard"]
    console.print(
        f"NAB score {standard.normalised:.1f} (null detector 0, perfect 100); raw {standard.raw:.2f}, "
        f"null {standard.null:.2f}, perfect {standard.perfect:.2f}; low FP {record['nab_low_fp']:.1f}, "
        f"low FN {record['nab_low_fn']:.1f}"
    )
    console.print(f"published standard scores on the NAB corpus itself, for scale: {PUBLISHED_TEXT}")
    if report is not None:
        console.print(f"wrote {nab_report(report, sets, flags, record)}")
    return record
