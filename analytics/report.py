"""What `yiju analytics evaluate` writes: the JSON record, a markdown report and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt
import pandas as pd

from analytics.evaluate import Evaluation, Label, pooled
from analytics.models import Detection
from analytics.nab import PUBLISHED_STANDARD, PUBLISHED_TEXT, CorpusScore, DataSet
from analytics.simulated import Scored

NAB_KEYS = {
    "standard": "nab_standard",
    "reward_low_FP_rate": "nab_low_fp",
    "reward_low_FN_rate": "nab_low_fn",
}
# the telemetry column a person looks at for each silent fault
SHOWN = {
    "over_temperature_drift": ("ev_charger_telemetry", "temperature_c"),
    "vibration_rising": ("elevator_telemetry", "vibration_rms"),
    "meter_stuck": ("ev_charger_telemetry", "energy_kwh"),
    "dead_battery": ("parking_space_telemetry", "battery_pct"),
}


def per_type(evaluation: Evaluation) -> dict[str, dict[str, Any]]:
    return {
        t: {
            "silent": s.silent, "tp": s.tp, "fn": s.fn, "fp": s.fp, "precision": round(s.precision, 4),
            "recall": round(s.recall, 4), "f1": round(s.f1, 4), "median_delay_s": s.delay_median_s,
            "p95_delay_s": s.delay_p95_s, "injected": s.injected, "manifested": s.manifested,
        }
        for t, s in sorted(evaluation.by_type.items())
    }  # fmt: skip


def simulated_record(runs: Sequence[Scored], detectors: dict[str, str]) -> dict[str, Any]:
    """Scores on the faults that manifested; the same `_all` on every injected fault. Several runs
    (seeds) are pooled (`evaluate.pooled`), and `per_seed` keeps each run's own figures."""
    e, every = pooled([r.evaluation for r in runs]), pooled([r.evaluation_all for r in runs])
    first = runs[0].sim
    return {
        "days": (first.end - first.start) / timedelta(days=1),
        "devices": len(first.kinds),
        "seeds": [r.seed for r in runs],
        "detectors": detectors,
        "per_type": per_type(e),
        "overall_f1": round(e.overall.f1, 4),
        "overall_median_delay_s": e.overall.delay_median_s,
        "false_alarms_per_device_day": round(e.false_alarms_per_device_day, 5),
        "false_alarms_unusual_behaviour": e.unattributed,  # counted above, under no fault type
        "injected": e.overall.injected,
        "manifested": e.overall.manifested,
        "per_type_all": per_type(every),
        "overall_f1_all": round(every.overall.f1, 4),
        "false_alarms_per_device_day_all": round(every.false_alarms_per_device_day, 5),
        "per_seed": {
            str(r.seed): {
                "overall_f1": round(r.evaluation.overall.f1, 4),
                "false_alarms_per_device_day": round(r.evaluation.false_alarms_per_device_day, 5),
                "f1": {t: round(s.f1, 4) for t, s in sorted(r.evaluation.by_type.items())},
            }
            for r in runs
        },
    }


def nab_record(scores: dict[str, CorpusScore]) -> dict[str, Any]:
    out: dict[str, Any] = {NAB_KEYS[p]: round(s.normalised, 2) for p, s in scores.items()}
    out["published_standard"] = PUBLISHED_STANDARD
    standard = scores["standard"]
    out["series"] = {
        name: {"windows": r.windows, "detected": r.detected, "false_positives": r.false_positives}
        for name, r in standard.series.items()
    }
    return out


def write_json(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


def simulated_report(directory: Path, runs: Sequence[Scored], record: dict[str, Any]) -> Path:
    """`report.md` with the per-type tables (pooled over the runs, and each run's F1), plus a PNG
    per silent fault type with an example from the first run."""
    directory.mkdir(parents=True, exist_ok=True)
    seeds = record["seeds"]
    lines = [
        f"# Anomaly detection on {record['days']:g} simulated days ({record['devices']} devices)",
        "",
        f"Seeds {', '.join(map(str, seeds))}: each a run of its own (other faults, other traffic), "
        "pooled below (every run's faults and alarms counted together)."
        if len(seeds) > 1
        else f"Seed {seeds[0]}.",
        "",
        f"{record['manifested']} of {record['injected']} injected faults manifested: their device "
        "reported something it would not have without them (a replay of the device without the fault "
        "tells). The others (a stuck meter on an idle charger, a sensor stuck on occupied under a parked "
        "car) are don't-care spans below: a detection there is neither caught nor false.",
        "",
        "## On the faults that manifested",
        "",
        f"Overall F1 {record['overall_f1']}, "
        f"false alarms per device-day {record['false_alarms_per_device_day']} "
        f"({record['false_alarms_unusual_behaviour']} of them `unusual_behaviour`, under no fault type).",
        "",
        *_table(record["per_type"]),
        "",
        "## On every injected fault",
        "",
        f"Overall F1 {record['overall_f1_all']}, "
        f"false alarms per device-day {record['false_alarms_per_device_day_all']}.",
        "",
        *_table(record["per_type_all"]),
    ]
    if len(seeds) > 1:
        lines += ["", "## F1 of each run (manifested faults)", "", *_by_seed(record)]
    scored = runs[0]
    for fault_type, (table, column) in SHOWN.items():
        label = next((lb for lb in scored.sim.labels if lb.fault_type == fault_type and lb.manifested), None)
        frame = scored.sim.frames.get(table)
        if label is None or frame is None:
            continue
        png = directory / f"{fault_type}.png"
        _plot_device(png, frame, column, label, scored.detections, scored.sim.end)
        lines += ["", f"## {fault_type} on {label.device_id}", "", f"![{fault_type}]({png.name})"]
    path = directory / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _table(rows: dict[str, dict[str, Any]]) -> list[str]:
    columns = ("fault type", "silent", "injected", "manifested", "TP", "FN", "FP", "precision", "recall",
               "F1", "median delay (s)")  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for t, r in rows.items():
        delay = "" if r["median_delay_s"] is None else f"{r['median_delay_s']:.0f}"
        lines.append(
            f"| {t} | {'yes' if r['silent'] else ''} | {r['injected']} | {r['manifested']} | {r['tp']} | "
            f"{r['fn']} | {r['fp']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | {delay} |"
        )
    return lines


def _by_seed(record: dict[str, Any]) -> list[str]:
    seeds = [str(s) for s in record["seeds"]]
    lines = [
        "| fault type | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|" + "---|" * (len(seeds) + 1),
    ]
    for t in record["per_type"]:
        f1 = [record["per_seed"][s]["f1"].get(t) for s in seeds]
        lines.append(f"| {t} | " + " | ".join("" if v is None else f"{v:.2f}" for v in f1) + " |")
    overall = (f"{record['per_seed'][s]['overall_f1']:.3f}" for s in seeds)
    return [*lines, "| overall | " + " | ".join(overall) + " |"]


def _plot_device(
    png: Path, frame: pd.DataFrame, column: str, label: Label, detections: list[Detection], end: Any
) -> None:
    lo = pd.Timestamp(label.start) - pd.Timedelta(hours=12)
    hi = min(pd.Timestamp(label.end or end) + pd.Timedelta(hours=12), pd.Timestamp(end))
    rows = frame[(frame["device_id"] == label.device_id) & (frame["ts"] >= lo) & (frame["ts"] < hi)]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(rows["ts"], rows[column], lw=0.8, color="tab:blue", label=column)
    ax.axvspan(pd.Timestamp(label.start), pd.Timestamp(label.end or end), color="tab:red", alpha=0.15,
               label=f"injected {label.fault_type}")  # fmt: skip
    for d in detections:
        if d.device_id == label.device_id and lo <= pd.Timestamp(d.first_seen) < hi:
            ax.axvline(pd.Timestamp(d.first_seen), color="black", ls="--", lw=1)
            ax.annotate(
                d.type, (pd.Timestamp(d.first_seen), ax.get_ylim()[1]), fontsize=7, rotation=90, va="top"
            )
    ax.set_title(f"{label.device_id}: {column}")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def nab_report(
    directory: Path, sets: list[DataSet], flags: dict[str, list[bool]], record: dict[str, Any], shown: int = 4
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# NAB-layout corpus: {len(sets)} series",
        "",
        " | ".join(f"{k} {record[k]}" for k in NAB_KEYS.values()),
        "",
        "Published standard-profile scores on the NAB corpus itself, for scale (another corpus is not "
        f"the same test): {PUBLISHED_TEXT}.",
        "",
        "| series | windows | detected | false positives |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {r['windows']} | {r['detected']} | {r['false_positives']} |"
        for n, r in record["series"].items()
    ]
    for d in sets[:shown]:
        png = directory / (d.name.replace("/", "__").removesuffix(".csv") + ".png")
        fig, ax = plt.subplots(figsize=(10, 3))
        ax.plot(d.frame["timestamp"], d.frame["value"], lw=0.7)
        for a, b in d.windows:
            ax.axvspan(pd.Timestamp(a), pd.Timestamp(b), color="tab:red", alpha=0.15)
        for t, hit in zip(d.frame["timestamp"], flags[d.name], strict=True):
            if hit:
                ax.axvline(t, color="black", ls="--", lw=1)
        ax.set_title(d.name)
        fig.tight_layout()
        fig.savefig(png, dpi=100)
        plt.close(fig)
        lines += ["", f"![{d.name}]({png.name})"]
    path = directory / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
