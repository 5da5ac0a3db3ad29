"""The record and report of an evaluation on simulated days: manifested faults and every fault."""

from __future__ import annotations

import json
from pathlib import Path

from analytics.report import simulated_record, simulated_report, write_json
from analytics.simulated import score
from tests.analytics.simulated_days import scored


def test_the_record_scores_manifested_faults_and_every_fault(tmp_path: Path) -> None:
    write_json(tmp_path / "eval.json", simulated_record([scored()], {"ev_charger": "ecod"}))
    record = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert {"per_type", "per_type_all", "overall_f1", "overall_f1_all", "false_alarms_per_device_day",
            "false_alarms_per_device_day_all", "injected", "manifested"} <= set(record)  # fmt: skip
    assert set(record["per_type"]) == set(record["per_type_all"])
    for t, r in record["per_type"].items():
        every = record["per_type_all"][t]
        assert r["tp"] + r["fn"] == r["manifested"] <= r["injected"] == every["tp"] + every["fn"], t
    assert record["injected"] == sum(r["injected"] for r in record["per_type"].values())
    assert 0 < record["manifested"] < record["injected"]  # some faults left no trace on these days


def test_the_report_shows_both_tables(tmp_path: Path) -> None:
    s = scored()
    text = simulated_report(tmp_path, [s], simulated_record([s], {})).read_text(encoding="utf-8")
    assert "## On the faults that manifested" in text and "## On every injected fault" in text
    assert text.count("| fault type | silent | injected | manifested |") == 2


def test_several_runs_are_pooled_and_each_keeps_its_own_figures(tmp_path: Path) -> None:
    runs = [scored(), score(1, seed=7, with_learned=False)]
    record = simulated_record(runs, {})
    assert record["seeds"] == [5, 7] and set(record["per_seed"]) == {"5", "7"}
    assert record["injected"] == sum(r.evaluation.overall.injected for r in runs)
    for t, r in record["per_type"].items():
        assert r["tp"] == sum(run.evaluation.by_type[t].tp for run in runs if t in run.evaluation.by_type), t
    assert record["per_seed"]["7"]["overall_f1"] == round(runs[1].evaluation.overall.f1, 4)
    text = simulated_report(tmp_path, runs, record).read_text(encoding="utf-8")
    assert "Seeds 5, 7" in text and "## F1 of each run" in text
