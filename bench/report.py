"""The figures of a run: a table with targets, what limits it, JSON and a plot."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.models import BenchResult, VariantResult

TARGET_MSGS_PER_S = 20_000
TARGET_SHARE_OF_RAW = 0.9
TARGET_TIMES_NAIVE = 3.0
TARGET_RSS_MB = 300
SATURATED = 0.85  # of one core (a single-threaded process) or of the machine
LATENCY_NOTE = "publish time (ts) -> ingested_at (clock_timestamp() at insert, just before commit)"


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    passed: bool


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _yiju_runs(result: BenchResult) -> list[VariantResult]:
    return [v for k, v in result.variants.items() if k.startswith("yiju-") or k == "latency"]


def targets(result: BenchResult) -> list[Target]:
    runs = _yiju_runs(result)
    best = result.yiju[result.best_workers]
    raw, naive = result.variants["raw"], result.variants["naive"]
    lost, dup = sum(v.lost for v in runs), sum(v.duplicates for v in runs)
    share = best.msgs_per_s / raw.msgs_per_s
    times = best.msgs_per_s / naive.msgs_per_s
    rss = max(v.peak_rss_mb for v in runs)
    return [
        Target(
            "0 lost and 0 duplicated (all Yiju runs)",
            f"lost {lost:,}, duplicated {dup:,}",
            not lost and not dup,
        ),
        Target(
            f">= {TARGET_MSGS_PER_S:,} msg/s or >= {TARGET_SHARE_OF_RAW:.0%} of raw",
            f"{best.msgs_per_s:,.0f} msg/s = {share:.0%} of raw",
            best.msgs_per_s >= TARGET_MSGS_PER_S or share >= TARGET_SHARE_OF_RAW,
        ),
        Target(f">= {TARGET_TIMES_NAIVE:.0f}x naive", f"{times:.1f}x", times >= TARGET_TIMES_NAIVE),
        Target(f"worker RSS < {TARGET_RSS_MB} MB", f"{rss:.0f} MB", rss < TARGET_RSS_MB),
    ]


def commit_share(run: VariantResult) -> float | None:
    """Share of the run the workers' writer threads spent committing batches (None for baselines)."""
    if "commit_s" not in run.notes:
        return None
    duration = max(run.finished_at - run.started_at, 1e-9)
    return run.notes["commit_s"] / (run.notes.get("workers", 1.0) * duration)


def limit(run: VariantResult) -> str:
    """Name what limits a run: saturated processes, writer threads or cores, from measurements."""
    cpu = run.cpu
    name, busiest = cpu.busiest
    capacity = 100 * cpu.cores
    share = commit_share(run)
    saturated = []
    if busiest >= 100 * SATURATED:
        saturated.append(f"{name} at {busiest:.0f}% of one core (single-threaded)")
    if share is not None and share >= 0.9:
        saturated.append(f"the workers' writer threads (the database path), busy {share:.0%} of the run")
    if cpu.system >= capacity * SATURATED:
        saturated.append(f"the machine's {cpu.cores} cores ({cpu.system:.0f}% of {capacity}%)")
    what = (
        "saturated: " + "; ".join(saturated)
        if saturated
        else f"nothing saturated (machine {cpu.system:.0f}% of {capacity}%, busiest {name} {busiest:.0f}%)"
    )
    facts = []
    if share is not None:
        batches = max(run.notes.get("batches", 0.0), 1.0)
        size, ms = run.notes.get("received", 0.0) / batches, 1000 * run.notes["commit_s"] / batches
        facts.append(
            f"writers busy {share:.0%}: {batches:,.0f} batches of {size:,.0f} messages, {ms:.0f} ms each"
            " (validate, COPY, INSERT ... ON CONFLICT, COMMIT)"
        )
    kept = run.drain_s <= max(0.5, 0.05 * (run.finished_at - run.started_at))
    facts.append(
        f"the consumer {'kept pace with' if kept else 'fell behind'} publishing"
        f" (done {run.drain_s:.1f}s after the last PUBACK)"
    )
    spent = ", ".join(f"{g} {v:.0f}%" for g, v in sorted(cpu.groups.items(), key=lambda i: -i[1]) if v >= 1)
    return f"{run.label}: {what}. {'; '.join(facts)}. CPU, % of one core: {spent}, other {cpu.other:.0f}%"


def warnings(result: BenchResult) -> list[str]:
    """What may have disturbed the figures."""
    found = []
    other = max(v.cpu.other for v in result.variants.values())
    if other >= 25:
        found.append(
            f"processes outside the benchmark used up to {other:.0f}% of a core during a run:"
            " the figures are lower than on a quiet machine"
        )
    retained = result.broker.get("before", {}).get("retained", 0)
    for key, run in result.variants.items():
        extra = run.notes.get("received", run.messages) - run.messages
        absorbed = run.notes.get("redelivered", 0.0)
        # Each worker gets the broker's retained messages on subscribe; they are stored already.
        replayed = retained * run.notes.get("workers", 0.0)
        if absorbed > replayed + 0.001 * run.messages:
            found.append(
                f"{key}: the workers received {extra:,.0f} messages more than the bench published and"
                f" {absorbed:,.0f} rows were already stored ({replayed:,.0f} retained messages replayed"
                " on subscribe): a reconnect redelivered unacknowledged messages, or another ingest"
                " stored them first"
            )
    stalls = {k: v.notes.get("broker_stall_ms", 0.0) for k, v in result.variants.items()}
    if any(ms > 500 for ms in stalls.values()):
        found.append(
            "the broker answered nobody for up to "
            + ", ".join(f"{ms:,.0f} ms ({key})" for key, ms in stalls.items() if ms > 500)
            + ": Mosquitto stalls while it writes its persistence file (autosave_interval); a large"
            " store (queues of offline sessions) makes it long. Throughput and latency include it"
        )
    before, after = result.broker.get("before", {}), result.broker.get("after", {})
    if "stored_messages" in before and "stored_messages" in after:
        grown = after["stored_messages"] - before["stored_messages"]
        if grown > 1000:
            found.append(
                f"the broker's store grew by {grown:,} messages ({before['stored_messages']:,} ->"
                f" {after['stored_messages']:,}; {before.get('offline_sessions', 0)} offline persistent"
                " sessions at the start): sessions subscribed to community/# keep a copy of the bench traffic"
            )
    return found


def render(result: BenchResult, console: Console) -> None:
    opts = result.options
    cpu_groups = ("consumer", "broker", "postgres", "publishers")
    table = Table(
        title=f"Ingest benchmark: {opts.devices} devices of 5 kinds, {opts.publishers} publisher processes,"
        f" QoS 1, MQTT v5 (CPU in % of one core; {next(iter(result.variants.values())).cpu.cores} cores)"
    )
    for column in (
        "variant",
        "messages",
        "msg/s e2e",
        "publish msg/s",
        "drain s",
        "lost",
        "dup",
        "peak RSS MB",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for group in (*cpu_groups, "other"):
        table.add_column(f"cpu {group}", justify="right")
    for run in result.variants.values():
        cpu = run.cpu
        table.add_row(
            run.label, f"{run.messages:,}", f"{run.msgs_per_s:,.0f}", f"{run.publish_per_s:,.0f}",
            f"{run.drain_s:.1f}", f"{run.lost:,}", f"{run.duplicates:,}", f"{run.peak_rss_mb:.0f}",
            *(f"{cpu.groups.get(g, 0.0):.0f}" for g in cpu_groups), f"{cpu.other:.0f}",
        )  # fmt: skip
    console.print(table)
    latency = result.variants["latency"]
    p50, p99 = percentile(latency.latencies_ms, 50), percentile(latency.latencies_ms, 99)
    console.print(
        f"Latency, {latency.label}, {len(latency.latencies_ms):,} rows: p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
        f" max {max(latency.latencies_ms, default=float('nan')):.1f} ms ({LATENCY_NOTE});"
        f" longest broker PUBACK wait meanwhile {latency.notes.get('broker_stall_ms', 0):,.0f} ms"
    )
    checks = Table(title="Targets")
    for column in ("target", "measured", "result"):
        checks.add_column(column)
    for target in targets(result):
        checks.add_row(target.name, target.measured, "[green]PASS" if target.passed else "[red]FAIL")
    console.print(checks)
    for key, run in result.variants.items():
        if run.notes:
            notes = ", ".join(f"{k} {v:,.0f}" for k, v in run.notes.items())
            console.print(f"[dim]{key}: {notes}; peak RSS of all its processes {run.tree_rss_mb:.0f} MB")
    console.print(f"[bold]Limit:[/bold] {limit(result.yiju[result.best_workers])}")
    for warning in warnings(result):
        console.print(f"[yellow]warning:[/yellow] {warning}")


def figures(result: BenchResult) -> dict[str, Any]:
    """The run's figures under stable keys (the --json file)."""
    yiju, best = result.yiju, result.best_workers
    latency = result.variants["latency"]
    runs = _yiju_runs(result)
    figures: dict[str, Any] = {
        "messages": result.options.messages,
        "naive_messages": result.options.naive_messages,
        "raw_msgs_per_s": round(result.variants["raw"].msgs_per_s),
        "naive_msgs_per_s": round(result.variants["naive"].msgs_per_s),
        "yiju_msgs_per_s": round(yiju[best].msgs_per_s),
        "yiju_best_workers": best,
        **{f"yiju_{n}worker_msgs_per_s": round(v.msgs_per_s) for n, v in yiju.items()},
        "lost": sum(v.lost for v in runs),
        "duplicates": sum(v.duplicates for v in runs),
        "latency_rate_msgs_per_s": result.options.latency_rate,
        "p50_ms": round(percentile(latency.latencies_ms, 50), 2),
        "p99_ms": round(percentile(latency.latencies_ms, 99), 2),
        "latency_definition": LATENCY_NOTE,
        "worker_peak_rss_mb": round(max(v.peak_rss_mb for v in runs), 1),
        "limit": limit(yiju[best]),
        "worker_commit_share": round(commit_share(yiju[best]) or 0.0, 3),
        "warnings": warnings(result),
        "broker": result.broker,
        "targets": {t.name: t.passed for t in targets(result)},
        "variants": {
            key: {
                "messages": v.messages,
                "msgs_per_s": round(v.msgs_per_s),
                "publish_msgs_per_s": round(v.publish_per_s),
                "drain_s": round(v.drain_s, 2),
                "lost": v.lost,
                "duplicates": v.duplicates,
                "peak_rss_mb": round(v.peak_rss_mb, 1),
                "cpu_pct_of_one_core": {g: round(p, 1) for g, p in v.cpu.groups.items()}
                | {"other": round(v.cpu.other, 1), "machine": round(v.cpu.system, 1)},
                "busiest_process": {"name": v.cpu.busiest[0], "cpu_pct": round(v.cpu.busiest[1], 1)},
                "notes": v.notes,
            }
            for key, v in result.variants.items()
        },
    }
    return figures


def write_json(result: BenchResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures(result), indent=2, ensure_ascii=False) + "\n")


def plot(result: BenchResult, path: Path) -> None:
    """Throughput per variant beside the targets, and the latency CDF of the rate-limited run."""
    # Imported here: spawned publisher and subscriber processes re-import the CLI module.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    bars, cdf = fig.subplots(1, 2)
    runs = [v for k, v in result.variants.items() if k != "latency"]
    rates = [v.msgs_per_s for v in runs]
    colors = ["#999999", "#cc7755", *["#3377bb"] * (len(runs) - 2)]
    bars.bar([v.label for v in runs], rates, color=colors)
    for x, rate in enumerate(rates):
        bars.annotate(f"{rate:,.0f}", (x, rate), ha="center", va="bottom")
    raw = result.variants["raw"].msgs_per_s
    bars.axhline(
        TARGET_MSGS_PER_S, color="green", linestyle="--", label=f"target {TARGET_MSGS_PER_S:,} msg/s"
    )
    bars.axhline(TARGET_SHARE_OF_RAW * raw, color="gray", linestyle=":", label="90% of raw")
    bars.set_ylabel("messages/s, first publish to last commit")
    bars.set_title(
        f"Throughput, {result.options.messages:,} messages (naive {result.options.naive_messages:,})"
    )
    bars.legend(loc="upper right")
    latency = result.variants["latency"]
    values = sorted(latency.latencies_ms)
    if values:
        cdf.plot(values, [(i + 1) / len(values) for i in range(len(values))], color="#3377bb")
        for q in (50, 99):
            v = percentile(values, q)
            cdf.axvline(v, color="gray", linestyle=":")
            cdf.annotate(f"p{q} {v:.0f} ms", (v, q / 100), xytext=(5, -12), textcoords="offset points")
        cdf.set_xscale("log")
    cdf.set_xlabel("ms, publish to ingested_at (clock_timestamp() at insert, just before commit)")
    cdf.set_ylabel("share of rows")
    cdf.set_title(f"Latency CDF, {latency.label}")
    cdf.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
