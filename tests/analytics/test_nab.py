"""The NAB score, checked against values computed by hand from its published rules."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.nab import PROFILES, load_corpus, normalise, probation_rows, scaled_sigmoid, score_series

STANDARD = PROFILES["standard"]
T0 = datetime(2026, 3, 1, tzinfo=UTC)
TIMES = [T0 + timedelta(minutes=5 * i) for i in range(100)]
WINDOW = [(TIMES[40], TIMES[49])]  # rows 40..49, width 10


def _flags(*rows: int) -> list[bool]:
    return [i in rows for i in range(len(TIMES))]


def test_the_sigmoid_at_its_landmarks() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0
    assert probation_rows(100) == 15 and probation_rows(100_000) == 750


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ((), -1.0),  # the window missed
        ((40,), 1.0),  # caught at its left edge: the full true-positive weight
        ((40, 45), 1.0),  # later detections in the same window add nothing
        ((49,), (2 / (1 + math.exp(-0.5)) - 1) / scaled_sigmoid(-1)),  # at the right edge: 0.2482
        ((10,), -1.0),  # inside the probationary period: not scored
        ((20,), -1.0 - 0.11),  # a false positive with no window before it
        ((59,), -1.0 + 0.11 * (2 / (1 + math.exp(5 * 10 / 9)) - 1)),  # 10 rows past the window
        ((99,), -1.0 - 0.11),  # far past it: the full false-positive cost
    ],
)
def test_one_window(rows: tuple[int, ...], expected: float) -> None:
    result = score_series(TIMES, _flags(*rows), WINDOW, STANDARD)
    assert result.score == pytest.approx(expected, abs=1e-9)
    assert result.windows == 1


def test_profiles_weigh_misses_and_false_alarms() -> None:
    low_fn = score_series(TIMES, _flags(20), WINDOW, PROFILES["reward_low_FN_rate"])
    low_fp = score_series(TIMES, _flags(20), WINDOW, PROFILES["reward_low_FP_rate"])
    assert low_fn.score == pytest.approx(-2.11) and low_fp.score == pytest.approx(-1.22)


def test_normalised_between_the_null_and_the_perfect_detector() -> None:
    two = [(TIMES[40], TIMES[49]), (TIMES[70], TIMES[79])]
    perfect = score_series(TIMES, _flags(40, 70), two, STANDARD)
    null = score_series(TIMES, _flags(), two, STANDARD)
    half = score_series(TIMES, _flags(40), two, STANDARD)
    assert normalise({"a": perfect}, STANDARD).normalised == pytest.approx(100.0)
    assert normalise({"a": null}, STANDARD).normalised == pytest.approx(0.0)
    assert normalise({"a": half, "b": null}, STANDARD).normalised == pytest.approx(100 * 2 / 8)


def test_a_nab_layout_corpus_loads(tmp_path: Path) -> None:
    (tmp_path / "data" / "sim").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    lines = ["timestamp,value"] + [f"{t:%Y-%m-%d %H:%M:%S},{i % 7}" for i, t in enumerate(TIMES)]
    (tmp_path / "data" / "sim" / "a.csv").write_text("\n".join(lines), encoding="utf-8")
    labels = {
        "sim/a.csv": [[f"{TIMES[40]:%Y-%m-%d %H:%M:%S}.000000", f"{TIMES[49]:%Y-%m-%d %H:%M:%S}.000000"]]
    }
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(labels), encoding="utf-8")
    (corpus,) = load_corpus(tmp_path)
    assert corpus.name == "sim/a.csv" and len(corpus.frame) == 100 and corpus.windows == WINDOW
    stamps = list(corpus.frame["timestamp"].dt.to_pydatetime())
    assert score_series(stamps, _flags(40), corpus.windows, STANDARD).score == pytest.approx(1.0)


def test_a_broken_corpus_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"combined_windows\.json"):
        load_corpus(tmp_path)
