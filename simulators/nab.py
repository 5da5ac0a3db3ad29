"""A Numenta-Anomaly-Benchmark-layout corpus made from a simulation with silent faults.

`data/<fault type>/<device>.csv` holds one telemetry field of one device (`timestamp,value`), and
`labels/combined_windows.json` the windows of the faults injected into it, so that a univariate
scorer can be scored with NAB's rules on data whose ground truth is known. Devices without a fault
go to `data/normal/` with no windows.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from core.contract.topics import Channel, Kind
from simulators.behaviour.faults import FaultRates
from simulators.behaviour.schedule import Simulation
from simulators.community import Community

# silent fault -> the kind and telemetry field it shows in
SERIES: dict[str, tuple[Kind, str]] = {
    "over_temperature_drift": (Kind.EV_CHARGER, "temperature_c"),
    "power_spike": (Kind.EV_CHARGER, "power_kw"),
    "vibration_rising": (Kind.ELEVATOR, "vibration_rms"),
}
NORMAL = 3  # fault-free series per field
TS_FORMAT = "%Y-%m-%d %H:%M:%S"


def write_corpus(out: Path, community: Community, start: datetime, days: float, seed: int) -> dict[str, int]:
    """Write the corpus under `out`; returns windows per file."""
    end = start + timedelta(days=days)
    rates = FaultRates.uniform(0.0, over_temperature_drift=0.3, power_spike=0.5, vibration_rising=0.3)
    sim = Simulation([community], start, end, seed, rates)
    fields = {(kind, field) for kind, field in SERIES.values()}
    series: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    for e in sim:
        if e.channel is not Channel.TELEMETRY:
            continue
        for kind, field in fields:
            if e.kind is kind:
                series[(e.device_id, field)].append((e.ts, float(getattr(e.payload, field))))
    windows: dict[str, list[list[str]]] = {}
    faulty: set[tuple[str, str]] = set()
    by_file: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for label in sim.labels:
        kind, field = SERIES[label.fault_type]
        points = series.get((label.device_id, field), [])
        span = _window(points, label.start, label.end or end)
        if span:
            by_file[f"{label.fault_type}/{label.device_id}.csv"].append(span)
            faulty.add((label.device_id, field))
    for name, spans in by_file.items():
        device = name.split("/")[1].removesuffix(".csv")
        field = SERIES[name.split("/")[0]][1]
        _write(out / "data" / name, series[(device, field)])
        windows[name] = [[f"{a:{TS_FORMAT}}.000000", f"{b:{TS_FORMAT}}.000000"] for a, b in sorted(spans)]
    for _, field in sorted(fields):
        quiet = [k for k in sorted(series) if k[1] == field and k not in faulty and k[0] not in _ids(faulty)]
        for device, _ in quiet[:NORMAL]:
            name = f"normal/{device}.{field}.csv"
            _write(out / "data" / name, series[(device, field)])
            windows[name] = []
    labels = out / "labels" / "combined_windows.json"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(json.dumps(windows, indent=2, sort_keys=True), encoding="utf-8")
    return {name: len(w) for name, w in windows.items()}


def _ids(pairs: set[tuple[str, str]]) -> set[str]:
    return {device for device, _ in pairs}


def _window(
    points: list[tuple[datetime, float]], start: datetime, end: datetime
) -> tuple[datetime, datetime] | None:
    """The fault's span snapped to the series' own timestamps (NAB windows start and end on rows)."""
    inside = [t for t, _ in points if start <= t <= end]
    return (inside[0], inside[-1]) if len(inside) >= 2 else None


def _write(path: Path, points: list[tuple[datetime, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(("timestamp", "value"))
        out.writerows((f"{t:{TS_FORMAT}}", v) for t, v in points)
