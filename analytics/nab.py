"""The Numenta Anomaly Benchmark's score, implemented from its definition (Lavin & Ahmad, 2015).

A data set is a series with labelled anomaly windows. Each window is worth one true positive: the
earliest detection inside it scores by a scaled sigmoid of how early it came (a detection at the
window's left edge scores the full `tp` weight, one at its right edge about nothing), and a window
without a detection costs `fn`. A detection outside every window costs `fp` times a sigmoid of
how far past the previous window it falls (a full `fp` when there is no previous window). The
first 15% of a series (at most 750 rows) is a probationary period in which nothing is scored.
A corpus's raw score is normalised between the null detector (no detection: every window
missed) and the perfect one (every window caught at its left edge): 0 and 100.

NAB's own code is AGPL and tied to its runner; this is a small independent implementation of the
published rules, checked against hand-computed cases in the tests.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

PROBATION_SHARE = 0.15
PROBATION_MAX_ROWS = 0.15 * 5000


@dataclass(frozen=True)
class Profile:
    """Weights of a true positive, a false positive and a false negative."""

    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}

PUBLISHED_STANDARD = {
    "random": 11.0, "windowed Gaussian": 39.6, "Random Cut Forest": 51.7, "HTM": 70.5, "ARTime": 74.9,
}  # fmt: skip
"""Detectors' standard-profile scores published on the NAB corpus itself: for scale, since another
corpus (the simulator's) is not the same test."""
PUBLISHED_TEXT = ", ".join(f"{name} {v}" for name, v in PUBLISHED_STANDARD.items())


def scaled_sigmoid(position: float) -> float:
    """2·sigmoid(-5·position) - 1: 0.987 at a window's left edge (-1), 0 at its right edge (0),
    falling towards -1 past it; -1 from three window widths on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


@dataclass(frozen=True)
class SeriesScore:
    """One data set's raw score and its counts (windows are counted once each)."""

    score: float
    windows: int  # windows scored (those reaching past the probationary period)
    detected: int
    false_positives: int


def probation_rows(rows: int) -> int:
    """Rows at the start of a series in which detections are not scored."""
    return int(min(math.floor(PROBATION_SHARE * rows), PROBATION_MAX_ROWS))


def score_series(
    timestamps: Sequence[datetime],
    detections: Sequence[bool],
    windows: Sequence[tuple[datetime, datetime]],
    profile: Profile,
) -> SeriesScore:
    """The raw NAB score of one series' detections (one flag per row) against its windows."""
    if len(timestamps) != len(detections):
        raise ValueError("one detection flag per row")
    times = list(timestamps)
    spans = sorted((bisect.bisect_left(times, a), bisect.bisect_right(times, b) - 1) for a, b in windows)
    spans = [(a, b) for a, b in spans if a <= b]  # a window must hold rows
    probation = probation_rows(len(times))
    best: dict[int, float] = {}
    total, false_positives = 0.0, 0
    w = 0  # the first window not yet passed
    for i, flagged in enumerate(detections):
        while w < len(spans) and spans[w][1] < i:
            w += 1
        if not flagged or i < probation:
            continue
        inside = w < len(spans) and spans[w][0] <= i
        if inside:
            a, b = spans[w]
            value = scaled_sigmoid(-(b - i + 1) / (b - a + 1)) * profile.tp / MAX_TP
            best[w] = max(best.get(w, -math.inf), value)
        else:
            false_positives += 1
            if w == 0:
                total -= profile.fp  # no window before it
            else:
                a, b = spans[w - 1]
                total += scaled_sigmoid(abs(b - i) / max(b - a, 1)) * profile.fp
    counted = [k for k, (_, b) in enumerate(spans) if b >= probation]
    total += sum(best.get(k, -profile.fn) for k in counted)
    return SeriesScore(total, len(counted), sum(k in best for k in counted), false_positives)


@dataclass(frozen=True)
class CorpusScore:
    """A corpus's normalised score (0: the null detector, 100: the perfect one)."""

    normalised: float
    raw: float
    null: float
    perfect: float
    series: dict[str, SeriesScore]


def normalise(series: dict[str, SeriesScore], profile: Profile) -> CorpusScore:
    """Put the raw scores of every series on NAB's 0-100 scale."""
    raw = sum(s.score for s in series.values())
    windows = sum(s.windows for s in series.values())
    null, perfect = -profile.fn * windows, profile.tp * windows
    value = 100.0 * (raw - null) / (perfect - null) if perfect > null else 0.0
    return CorpusScore(value, raw, null, perfect, series)


@dataclass(frozen=True)
class DataSet:
    """One series of a NAB-layout corpus and its labelled windows."""

    name: str  # "<group>/<file>.csv", as in combined_windows.json
    frame: pd.DataFrame  # timestamp (UTC), value
    windows: list[tuple[datetime, datetime]]


def load_corpus(root: Path) -> list[DataSet]:
    """`data/<group>/<name>.csv` (timestamp,value) and `labels/combined_windows.json` under root."""
    labels_path = root / "labels" / "combined_windows.json"
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{labels_path}: {error}") from None
    out = []
    for name in sorted(labels):
        path = root / "data" / name
        try:
            frame = pd.read_csv(path)
        except OSError as error:
            raise ValueError(f"{path}: {error.strerror}") from None
        if list(frame.columns[:2]) != ["timestamp", "value"]:
            raise ValueError(f"{path}: columns must be timestamp,value")
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        windows = [(_utc(a), _utc(b)) for a, b in labels[name]]
        out.append(DataSet(name, frame, windows))
    return out


def _utc(text: str) -> datetime:
    return pd.Timestamp(text, tz="UTC").to_pydatetime()
