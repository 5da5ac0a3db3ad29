"""`yiju bench ingest` / `python -m bench ingest`."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from bench import allocation_cli, api_cli, report, simulators
from bench import analytics as analytics_bench
from bench import grafana as grafana_bench
from bench.fleet import remove_leftovers
from bench.ingest import run
from bench.models import Options
from bench.processes import ROOT
from core.config import get_settings
from core.logs import setup_logging

app = typer.Typer(help="Benchmarks that print figures and draw plots.", no_args_is_help=True)

DEFAULT_PLOT = ROOT / ".local" / "bench" / "ingest.png"


@app.callback()
def main() -> None:
    """Benchmarks on the project's own services (a fresh community each run, removed afterwards)."""


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@app.command()
def ingest(
    messages: Annotated[int, typer.Option(min=1000, help="stream size of the throughput runs")] = 200_000,
    naive_messages: Annotated[
        int | None, typer.Option(min=100, help="stream size of the naive baseline [default: min(N, 50,000)]")
    ] = None,
    workers: Annotated[str, typer.Option(help="Yiju worker counts to compare, comma-separated")] = "1,2",
    latency_rate: Annotated[float, typer.Option(min=10, help="msg/s of the latency run")] = 5_000,
    latency_seconds: Annotated[float, typer.Option(min=1, help="length of the latency run")] = 10,
    devices: Annotated[int, typer.Option(min=5, max=999, help="devices in the bench community")] = 100,
    publishers: Annotated[int, typer.Option(min=1, max=16, help="publisher processes")] = 2,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures here")] = None,
    plot: Annotated[Path, typer.Option(help="throughput and latency plot (PNG)")] = DEFAULT_PLOT,
) -> None:
    """Raw MQTT ceiling, naive INSERT baseline and Yiju ingest: throughput, latency, loss, memory."""
    settings = get_settings()
    setup_logging(settings.log_level)
    try:
        counts = tuple(sorted({int(w) for w in workers.split(",")}))
    except ValueError:
        raise typer.BadParameter("comma-separated integers, e.g. 1,2", param_hint="--workers") from None
    options = Options(
        messages=messages,
        naive_messages=naive_messages or min(messages, 50_000),
        workers=counts,
        latency_rate=latency_rate,
        latency_seconds=latency_seconds,
        devices=devices,
        publishers=publishers,
    )
    # Ctrl-C or SIGTERM end the run through its clean-up (even when started with SIGINT ignored).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        result = run(settings, options)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: the bench community, its accounts and sessions are removed")
        raise typer.Exit(130) from None
    except (RuntimeError, TimeoutError, OSError, psycopg.OperationalError) as error:
        # A service restarted or stalled mid-run (the test suite restarts them, for one).
        Console(stderr=True).print(f"[red]run aborted:[/red] {error}; the bench community was removed")
        raise typer.Exit(1) from None
    console = Console()
    if not console.is_terminal:
        console = Console(width=132)  # the table's width when piped to a file
    report.render(result, console)
    if json_file:
        report.write_json(result, json_file)
        console.print(f"figures written to {json_file}")
    report.plot(result, plot)
    console.print(f"plot written to {plot}")


app.command("api")(api_cli.command)
app.command("simulators")(simulators.command)
app.command("grafana")(grafana_bench.command)
app.command("analytics")(analytics_bench.command)
app.command("allocation")(allocation_cli.command)


@app.command()
def clean() -> None:
    """Remove what an interrupted run left behind: bench-* communities, rows, accounts, sessions."""
    settings = get_settings()
    setup_logging(settings.log_level)
    removed = remove_leftovers(settings)
    Console().print(f"removed {len(removed)} bench communities" + "".join(f"\n  {c}" for c in removed))
