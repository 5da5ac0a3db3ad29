"""The figures of `yiju bench api`: a table against the targets, JSON and a latency plot."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.api import TARGET_P99_MS, ApiBenchResult


def render(result: ApiBenchResult, console: Console) -> None:
    """Print the table."""
    o = result.options
    filled = f"filled in {result.fill_s:.0f} s" if result.fill_s is not None else "reused"
    title = (
        f"Yiju API: {o.clients} clients, {o.workers} uvicorn workers, {o.devices:,} devices x {o.days} days"
    )
    layout = f"{result.ordered_share:.0%} of chunks ordered by device"
    if result.warmed_mb is not None:
        layout += f", {result.warmed_mb:,.0f} MB read into memory first"
    table = Table(title=f"{title} ({result.rows:,} telemetry rows, {filled}; {layout})")
    columns = ("query", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "target p99", "met")
    for column in (*columns, "API CPU ms/req", "cores busy"):
        table.add_column(column, justify="right")
    for s in result.scenarios:
        target = TARGET_P99_MS[s.name]
        met = s.p(99) < target and not s.errors
        table.add_row(
            s.name,
            f"{s.requests:,}",
            f"{s.errors:,}",
            f"{s.per_s:,.0f}",
            f"{s.p(50):.1f}",
            f"{s.p(99):.1f}",
            f"{s.p(100):.1f}",
            f"< {target:.0f}",
            "[green]yes[/green]" if met else "[red]no[/red]",
            f"{s.api_cpu_ms:.2f}",
            f"{s.machine_busy:.0%}",
        )
    console.print(table)
    console.print(
        "latest: GET /v1/devices/{id}/latest; series: GET /v1/devices/{id}/series, one day at 1-minute"
        f" buckets (1,440 points). Load and latency from {result.load_generator}, in another process."
        "\nClosed loop: each client sends its next request when the last one is answered, so with the"
        " cores busy, p50 is about clients / throughput (Little's law)."
    )


def write_json(result: ApiBenchResult, path: Path) -> None:
    """The figures as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "options": result.options.__dict__,
        "rows": result.rows,
        "fill_s": result.fill_s,
        "ordered_share": result.ordered_share,
        "warmed_mb": result.warmed_mb,
        "load_generator": result.load_generator,
        "scenarios": {
            s.name: {
                "requests": s.requests,
                "errors": s.errors,
                "per_s": s.per_s,
                "p50_ms": s.p(50),
                "p99_ms": s.p(99),
                "max_ms": s.p(100),
                "target_p99_ms": TARGET_P99_MS[s.name],
                "api_cpu_ms_per_request": s.api_cpu_ms,
                "machine_busy": s.machine_busy,
            }
            for s in result.scenarios
        },
    }
    path.write_text(json.dumps(body, indent=2))


def plot(result: ApiBenchResult, path: Path) -> None:
    """Latency distribution per query, with the p99 targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for s in result.scenarios:
        qs = sorted(s.percentiles_ms)
        xs, ys = [s.percentiles_ms[q] for q in qs], [q / 100 for q in qs]
        label = f"{s.name}: {s.per_s:,.0f} req/s, p99 {s.p(99):.1f} ms"
        line = ax.plot(xs, ys, marker=".", label=label)[0]
        ax.axvline(TARGET_P99_MS[s.name], color=line.get_color(), linestyle="--", linewidth=1)
    ax.axhline(0.99, color="grey", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale); dashed: p99 target")
    ax.set_ylabel("share of requests")
    ax.set_title(f"Yiju API at {result.options.clients} concurrent clients")
    ax.legend(loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
