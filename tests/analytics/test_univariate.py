"""The univariate scorer on a NAB-layout corpus made by the simulator (silent faults as windows)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.nab import PROFILES, DataSet, load_corpus, normalise, score_series
from analytics.univariate import Scorer, detections, score
from simulators.community import load_community, resolve
from simulators.nab import write_corpus

STANDARD = PROFILES["standard"]


@cache
def corpus(root: Path) -> list[DataSet]:
    written = write_corpus(root, load_community(resolve("demo")), datetime(2026, 3, 2, tzinfo=UTC), 5, seed=2)
    assert sum(written.values()) >= 5 and any(n == 0 for n in written.values())
    return load_corpus(root)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> list[DataSet]:
    return corpus(tmp_path_factory.mktemp("nab"))


def _stamps(d: DataSet) -> list[datetime]:
    return list(d.frame["timestamp"].dt.to_pydatetime())


def test_the_corpus_has_the_nab_layout(sets: list[DataSet]) -> None:
    groups = {d.name.split("/")[0] for d in sets}
    assert {"over_temperature_drift", "power_spike", "vibration_rising", "normal"} <= groups
    for d in sets:
        stamps = _stamps(d)
        assert stamps == sorted(stamps)
        assert all(a in stamps and b in stamps and a <= b for a, b in d.windows), d.name


def test_scores_are_causal_and_bounded() -> None:
    rng = np.random.default_rng(1)
    values = pd.Series(rng.normal(20, 1, 600))
    values[400] = 60.0
    s = score(values)
    assert s.min() >= 0 and s.max() <= 1 and s[400] == 1.0
    changed = values.copy()
    changed[500:] += 100  # the future must not change the past's scores
    assert np.array_equal(score(changed)[:500], s[:500])
    flags = detections(s)
    assert flags[400] and sum(flags) <= 5


def test_the_scorer_beats_the_null_detector_on_simulated_faults(sets: list[DataSet]) -> None:
    results = {}
    for d in sets:
        flags = detections(score(d.frame["value"]), Scorer())
        results[d.name] = score_series(_stamps(d), flags, d.windows, STANDARD)
    total = normalise(results, STANDARD)
    null = normalise({n: score_series(_stamps(d), [False] * len(d.frame), d.windows, STANDARD)
                      for n, d in ((d.name, d) for d in sets)}, STANDARD)  # fmt: skip
    assert null.normalised == pytest.approx(0.0)
    assert total.normalised > 30, {n: (r.detected, r.windows, r.false_positives) for n, r in results.items()}


def test_evaluate_on_a_nab_corpus_writes_every_profile_and_a_report(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    corpus(root)
    out, report = tmp_path / "nab.json", tmp_path / "report"
    result = CliRunner().invoke(
        app, ["evaluate", "--nab", str(root), "--json", str(out), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert {"nab_standard", "nab_low_fp", "nab_low_fn"} <= set(record)
    # doubling the cost of a false positive, with the same null and perfect scores, cannot score higher
    assert record["nab_low_fp"] <= record["nab_standard"]
    assert all(0 < record[k] <= 100 for k in ("nab_standard", "nab_low_fp", "nab_low_fn"))
    assert (report / "report.md").read_text().count(".png)") >= 1
    assert record["published_standard"]["HTM"] == 70.5  # for scale, in the record and the report
    assert "ARTime 74.9" in (report / "report.md").read_text()


def test_evaluate_needs_exactly_one_data_set() -> None:
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 2 and "exactly one of --simulated and --nab" in result.output
