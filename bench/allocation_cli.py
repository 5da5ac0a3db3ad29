"""`yiju bench allocation` (registered in bench/cli.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench import allocation_report
from bench.allocation import BASELINES, HISTORY_DAYS, AllocationOptions, InvalidAllocation, api_p99_ms, run
from bench.processes import ROOT

DEFAULT_PLOT = ROOT / ".local" / "bench" / "allocation.png"
QUICK = AllocationOptions(seeds=(1,), ratios=(0.6, 1.0, 1.5), requests=(2_000,), time_limit=60.0)


def _numbers(text: str, kind: type, hint: str) -> tuple:
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter("comma-separated numbers, e.g. 1,2", param_hint=hint) from None


def command(
    seeds: Annotated[str, typer.Option(help="generator seeds, comma-separated")] = "1,2",
    ratios: Annotated[
        str, typer.Option(help="demand/supply ratios, comma-separated")
    ] = "0.6,0.8,1.0,1.2,1.5",
    requests: Annotated[str, typer.Option(help="requests a day, comma-separated")] = "2000,10000",
    spaces: Annotated[int, typer.Option(min=10, help="spaces of the generated site")] = 300,
    time_limit: Annotated[float, typer.Option(min=1, help="seconds the optimum may take")] = 180.0,
    quick: Annotated[
        bool, typer.Option(help="a short run: seed 1, demand/supply 0.6, 1.0, 1.5, 2,000 requests")
    ] = False,
    api: Annotated[bool, typer.Option(help="also measure the parking API's booking p99")] = False,
    history_days: Annotated[
        int, typer.Option(min=1, help="earlier days the online admission control forecasts from")
    ] = HISTORY_DAYS,
    skip: Annotated[
        str, typer.Option(help=f"baselines to leave out (columns stay empty): {', '.join(BASELINES)}")
    ] = "",
    json_file: Annotated[
        Path | None, typer.Option("--json", help="write one record per instance here")
    ] = None,
    plot: Annotated[Path, typer.Option(help="accepted share against demand/supply (PNG)")] = DEFAULT_PLOT,
) -> None:
    """FCFS, online without and with admission control (Yiju online), online + re-optimisation and
    the IP optimum on generated days; EV charging."""
    options = (
        QUICK
        if quick
        else AllocationOptions(
            seeds=_numbers(seeds, int, "--seeds"),
            ratios=_numbers(ratios, float, "--ratios"),
            requests=_numbers(requests, int, "--requests"),
            spaces=spaces,
            time_limit=time_limit,
        )
    )
    skipped = tuple(m for m in skip.split(",") if m)
    try:
        options = replace(options, api=api, history_days=history_days, skip=skipped)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--skip") from None
    say = Console(stderr=True)
    p99 = api_p99_ms(options)
    records = []
    try:
        for record in run(options):
            record["api_p99_ms"] = p99
            records.append(record)
            say.print(
                f"{record['requests']:,} requests, d/s {record['demand_supply']}, seed {record['seed']}:"
                f" optimum {record['optimum_accepted']:,} in {record['optimum_seconds']:.1f} s,"
                f" online {record['online_accepted']:,} (no admission control"
                f" {allocation_report.count(record['greedy_accepted'])}),"
                f" reopt {allocation_report.count(record['reopt_accepted'])},"
                f" fcfs {allocation_report.count(record['fcfs_accepted'])}"
            )
    except InvalidAllocation as error:
        say.print(f"[red bold]invalid allocation:[/red bold] {error}")
        raise typer.Exit(1) from None
    console = Console() if Console().is_terminal else Console(width=200)
    allocation_report.render(records, console)
    if json_file:
        allocation_report.write_json(records, json_file)
        console.print(f"figures written to {json_file}")
    allocation_report.plot(records, plot)
    console.print(f"plot written to {plot}")
