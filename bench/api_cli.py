"""`yiju bench api` (registered in bench/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench import api_report
from bench.api import ApiOptions, run
from bench.processes import ROOT
from core.config import get_settings
from core.logs import setup_logging

DEFAULT_PLOT = ROOT / ".local" / "bench" / "api.png"


def command(
    devices: Annotated[int, typer.Option(min=4, max=100_000, help="devices with history")] = 1000,
    days: Annotated[int, typer.Option(min=1, max=400, help="days of history")] = 30,
    interval_s: Annotated[int, typer.Option(min=1, max=3600, help="seconds between samples")] = 60,
    clients: Annotated[int, typer.Option(min=1, max=500, help="concurrent clients")] = 50,
    seconds: Annotated[float, typer.Option(min=1, help="length of each measured run")] = 20.0,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn workers")] = 2,
    refill: Annotated[bool, typer.Option(help="rebuild the bench database's history")] = False,
    reorder: Annotated[
        bool,
        typer.Option(
            help="first order every closed chunk by device, as maintenance does (kept for later runs)"
        ),
    ] = True,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures here")] = None,
    plot: Annotated[Path, typer.Option(help="latency plot (PNG)")] = DEFAULT_PLOT,
) -> None:
    """Latest state and a day's series under concurrent clients over a month of history: req/s, p50/p99."""
    settings = get_settings()
    setup_logging(settings.log_level)
    options = ApiOptions(devices, days, interval_s, clients, seconds, workers, refill, reorder)
    result = run(settings, options)
    console = Console() if Console().is_terminal else Console(width=132)
    api_report.render(result, console)
    if json_file:
        api_report.write_json(result, json_file)
        console.print(f"figures written to {json_file}")
    api_report.plot(result, plot)
    console.print(f"plot written to {plot}")
