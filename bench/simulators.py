"""`yiju bench simulators`: messages/s at maximum rate, and CPU and memory of a big live fleet.

1. Maximum rate: the demo community's history published through its 181 device connections as fast
   as the broker acknowledges, against a baseline in the same run: the same messages built
   beforehand, so that the baseline measures the transport alone and the gap is the models' cost.
2. Live: N devices (default 10,000, synthetic communities) at one message a minute each in real
   time, in a child process (`python -m simulators run`), its CPU and RSS sampled; the cost of
   building each window of messages is measured apart and spread over the window.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bench.processes import ROOT
from bench.sampler import Sampler, tree
from core.broker.client import host_port
from core.config import Settings, get_settings
from simulators import runner, service
from simulators.behaviour.schedule import Simulation
from simulators.community import Community, load_community, resolve
from simulators.generate import generate
from simulators.transport import Connections

DEFAULT_PLOT = ROOT / ".local" / "bench" / "simulators.png"
EVERY = timedelta(minutes=1)


@dataclass
class Figures:
    max_rate_msgs_per_s: float
    transport_only_msgs_per_s: float
    max_rate_messages: int
    max_rate_cpu_s_per_1000_msgs: float
    live_devices: int
    live_msgs_per_s: float
    live_cpu_pct: float
    window_build_cpu_pct: float
    cpu_pct_per_1000_devices: float
    live_peak_rss_mb: float
    connect_s: float


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def max_rate(settings: Settings, hours: float, say: Console) -> tuple[float, float, int, float]:
    """(simulator msg/s, transport-only msg/s, messages, CPU seconds per 1,000 messages)."""
    demo = load_community(resolve("demo"))
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    start = end - timedelta(hours=hours)
    links = Connections(host_port(settings.require_mqtt()))
    service.connect(settings, [demo], links, lambda line: None)
    try:
        t0, c0 = time.perf_counter(), _cpu_s()
        sent = runner.publish(Simulation([demo], start, end, 1), links, clock=None, report=lambda s: None)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
        say.print(f"simulator: {sent.messages} messages in {wall:.1f} s")
        built = list(Simulation([demo], start, end, 2))  # another seed: no duplicate retained statuses
        t0 = time.perf_counter()
        base = runner.publish(built, links, clock=None, report=lambda s: None)
        base_wall = time.perf_counter() - t0
        say.print(f"transport only: {base.messages} messages in {base_wall:.1f} s")
    finally:
        links.close(wills=False)
    return sent.messages / wall, base.messages / base_wall, sent.messages, 1000 * cpu / sent.messages


def fleet(devices: int) -> tuple[int, list[Community]]:
    """The fewest synthetic communities holding at least `devices` devices."""
    n = 1
    while (have := sum(len(c.devices()) for c in generate(n, seed=1))) < devices:
        n += max(1, (devices - have) // 200)
    return n, generate(n, seed=1)


def window_cost(communities: list[Community]) -> float:
    """CPU share of one core spent building messages, per second of real time."""
    sim = Simulation(communities, datetime.now(UTC), None, 1, every=EVERY)
    windows = sim.windows()
    next(windows)  # the first window also builds the models
    c0 = _cpu_s()
    _, _, emissions = next(windows)
    for _ in emissions:
        pass
    return 100 * (_cpu_s() - c0) / sim.window.total_seconds()


def live(settings: Settings, n: int, seconds: float, say: Console) -> tuple[dict[str, float], list[tuple]]:
    """Run the fleet live in a child process; CPU and RSS after it has connected."""
    cmd = [sys.executable, "-m", "simulators", "run", "--generate", str(n), "--seed", "1",
           "--every", str(int(EVERY.total_seconds())), "--duration", str(seconds)]  # fmt: skip
    log = ROOT / ".local" / "log" / "bench-simulators-live.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=settings.to_env(), stdout=out, stderr=subprocess.STDOUT, text=True)
    sampler = Sampler({"simulator": tree(proc.pid)}, interval=1.0)
    sampler.start()
    started = time.time()
    connected_at = None
    series: list[tuple] = []
    while proc.poll() is None:
        time.sleep(1)
        text = log.read_text()
        if connected_at is None and "devices connected" in text:
            connected_at = time.time()
            say.print(f"live: connected after {connected_at - started:.0f} s")
        if connected_at and len(series) < 10_000:
            now = time.time()
            p = sampler.profile(now - 5, now)
            series.append((now - started, p.groups["simulator"], sampler.peak_rss_mb("simulator")[1]))
    sampler.stop()
    if proc.returncode != 0 or connected_at is None:
        raise RuntimeError(f"live run failed (exit {proc.returncode}); see {log}")
    text = log.read_text()
    sent = int(text.rsplit("simulator stopped after ", 1)[1].split()[0])
    # the steady rate, between progress lines: the start sends every device's `online` at once
    reports = [(float(t), int(n)) for n, t in re.findall(r"simulator: (\d+) messages in (\d+) s", text)]
    steady = [r for r in reports if r[0] >= 30] or reports
    (t0, n0), (t1, n1) = steady[0], steady[-1]
    rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
    steady_from = connected_at + 30  # past the connection burst and the first window
    cpu = sampler.profile(steady_from, time.time()).groups["simulator"]
    rss = sampler.peak_rss_mb("simulator")[1]
    return {"cpu": cpu, "rss": rss, "sent": sent, "connect": connected_at - started, "rate": rate}, series


def command(
    devices: Annotated[int, typer.Option(min=100, help="devices of the live run")] = 10_000,
    seconds: Annotated[float, typer.Option(min=60, help="length of the live run")] = 180,
    hours: Annotated[float, typer.Option(min=1, help="history published at maximum rate")] = 48,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures here")] = None,
    plot: Annotated[Path, typer.Option(help="CPU and memory of the live run (PNG)")] = DEFAULT_PLOT,
) -> None:
    """Simulator throughput at maximum rate, and CPU and memory of a 10,000-device live fleet."""
    settings = get_settings()
    say = Console(stderr=True)
    rate, base, messages, cpu_per_1000 = max_rate(settings, hours, say)
    n, communities = fleet(devices)
    count = sum(len(c.devices()) for c in communities)
    say.print(f"live fleet: {count} devices in {n} communities; seeding accounts (slow the first time)")
    t0 = time.perf_counter()
    service.seed(settings, communities)
    say.print(f"seeded in {time.perf_counter() - t0:.0f} s")
    build = window_cost(communities)
    measured, series = live(settings, n, seconds, say)
    total = measured["cpu"] + build
    figures = Figures(
        max_rate_msgs_per_s=round(rate), transport_only_msgs_per_s=round(base), max_rate_messages=messages,
        max_rate_cpu_s_per_1000_msgs=round(cpu_per_1000, 3), live_devices=count,
        live_msgs_per_s=round(measured["rate"], 1), live_cpu_pct=round(measured["cpu"], 1),
        window_build_cpu_pct=round(build, 2), cpu_pct_per_1000_devices=round(total / (count / 1000), 2),
        live_peak_rss_mb=round(measured["rss"], 1), connect_s=round(measured["connect"], 1),
    )  # fmt: skip
    _render(figures, total)
    if json_file:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(asdict(figures), indent=2))
    _plot(series, plot, count)
    Console().print(f"plot written to {plot}")


def _render(f: Figures, total_cpu: float) -> None:
    table = Table(title="Simulators")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target / baseline")
    rows = [
        ("max rate, simulator (demo, 181 connections)", f"{f.max_rate_msgs_per_s:,.0f} msg/s",
         f"transport only: {f.transport_only_msgs_per_s:,.0f} msg/s "
         f"({100 * f.max_rate_msgs_per_s / max(f.transport_only_msgs_per_s, 1):.0f}%)"),
        ("CPU per 1,000 messages at max rate", f"{f.max_rate_cpu_s_per_1000_msgs:.3f} s", ""),
        (f"live: {f.live_devices:,} devices, 1 msg/min each", f"{f.live_msgs_per_s:,.1f} msg/s",
         f"expected ≈ {f.live_devices / 60:,.0f} msg/s"),
        ("live CPU (publishing + building windows)", f"{total_cpu:.1f}% of a core",
         "target < 50% " + ("PASS" if total_cpu < 50 else "FAIL")),
        ("CPU per 1,000 devices", f"{f.cpu_pct_per_1000_devices:.2f}% of a core", ""),
        ("live peak RSS", f"{f.live_peak_rss_mb:.0f} MB", "target < 500 MB " + (
            "PASS" if f.live_peak_rss_mb < 500 else "FAIL")),
        ("time to connect every device", f"{f.connect_s:.0f} s", ""),
    ]  # fmt: skip
    for row in rows:
        table.add_row(*row)
    Console(width=132).print(table)


def _plot(series: list[tuple], path: Path, devices: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    t = [s[0] for s in series]
    ax.plot(t, [s[1] for s in series], label="CPU % of a core (5 s average)")
    ax.axhline(50, color="red", linestyle="--", linewidth=0.8, label="50% target")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("CPU %")
    ax2 = ax.twinx()
    ax2.plot(t, [s[2] for s in series], color="tab:green", label="RSS MB (running peak)")
    ax2.set_ylabel("MB")
    ax.set_title(f"Live simulator, {devices:,} devices at one message a minute")
    fig.legend(loc="center right", bbox_to_anchor=(0.88, 0.55))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
