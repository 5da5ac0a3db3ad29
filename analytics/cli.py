"""`yiju analytics`: scoring detectors on labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from analytics.nab import PROFILES, load_corpus, normalise, score_series
from analytics.univariate import Scorer, detections, score

app = typer.Typer(help="Anomaly detection and its evaluation.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Anomaly detection on the telemetry in TimescaleDB, and its evaluation."""


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
